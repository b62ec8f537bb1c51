package vecindex

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// streamed writes the index of flat through an ApproxWriter, in pieces of
// the given numbers of vectors (the rest in one last piece).
func streamed(t *testing.T, ids []int64, flat []float32, dim int, opt ApproxOptions, sizes []int) (*ApproxWriter, []byte) {
	t.Helper()
	var buf bytes.Buffer
	aw, err := NewApproxWriter(&buf, dim, ids, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pieces(flat, dim, sizes) {
		if err := aw.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return aw, buf.Bytes()
}

// pieces cuts flat into pieces of the given numbers of vectors, the rest
// in one last piece.
func pieces(flat []float32, dim int, sizes []int) [][]float32 {
	var out [][]float32
	for _, p := range sizes {
		out = append(out, flat[:p*dim])
		flat = flat[p*dim:]
	}
	return append(out, flat)
}

func TestApproxWriterMatchesBuild(t *testing.T) {
	tests := []struct {
		name      string
		n, dim, k int
		opt       ApproxOptions
		pieces    []int
	}{
		{"defaults, one piece", 3000, 64, 10, ApproxOptions{Seed: 5}, nil},
		{"uneven pieces", 5000, 40, 10, ApproxOptions{Bits: 256, Rerank: 100, Seed: 1}, []int{1, 999, 0, 2500}},
		// Few bits and a small rerank miss neighbours: the two recalls
		// must agree below 1 too.
		{"lossy", 20000, 48, 10, ApproxOptions{Bits: 64, Rerank: 30, Seed: 9}, []int{4096, 4096, 4096}},
		{"k above rerank", 4000, 24, 50, ApproxOptions{Bits: 128, Rerank: 20, Seed: 2}, []int{1000}},
		{"rerank above n: exact", 500, 16, 10, ApproxOptions{Rerank: 600}, []int{100, 100}},
		{"several chunks", 2*chunkRows + 77, 8, 5, ApproxOptions{Bits: 64, Rerank: 40, Seed: 3}, []int{chunkRows - 1, 3}},
		{"empty", 0, 16, 10, ApproxOptions{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.n), 7))
			ids := make([]int64, tc.n)
			for i := range ids {
				ids[i] = int64(3*i) + 11 // not the row numbers
			}
			flat := randUnit(r, tc.n, tc.dim)
			built, err := BuildApprox(ids, flat, tc.dim, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := built.Save(&want); err != nil {
				t.Fatal(err)
			}
			aw, got := streamed(t, ids, flat, tc.dim, tc.opt, tc.pieces)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("streamed file (%d bytes) differs from the saved one (%d bytes)", len(got), want.Len())
			}
			if aw.Options() != built.Options() {
				t.Errorf("options %+v, built %+v", aw.Options(), built.Options())
			}

			// Queries: indexed vectors, as the index build takes them, and
			// random ones.
			qs := rows(randUnit(r, 20, tc.dim), tc.dim)
			for i := 0; i < tc.n; i += max(tc.n/20, 1) {
				qs = append(qs, flat[i*tc.dim:(i+1)*tc.dim])
			}
			loaded, err := LoadApprox(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			for i, q := range qs {
				if a, b := loaded.Search(q, tc.k), built.Search(q, tc.k); !slices.Equal(a, b) {
					t.Fatalf("query %d: loaded %v, built %v", i, a, b)
				}
			}
			ex := NewExact(tc.dim)
			if err := ex.Add(ids, flat); err != nil {
				t.Fatal(err)
			}
			wantRecall := Recall(ex, built, qs, tc.k)
			rs, err := aw.RecallScan(qs, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pieces(flat, tc.dim, slices.Repeat([]int{777}, tc.n/777)) {
				if err := rs.Add(p); err != nil {
					t.Fatal(err)
				}
			}
			gotRecall, err := rs.Recall()
			if err != nil {
				t.Fatal(err)
			}
			if gotRecall != wantRecall {
				t.Errorf("streamed recall@%d %v, in memory %v", tc.k, gotRecall, wantRecall)
			}
			if tc.name == "lossy" && wantRecall > 0.95 {
				t.Errorf("recall %v: the lossy case should miss neighbours", wantRecall)
			}
		})
	}
}

func TestApproxWriterErrors(t *testing.T) {
	const dim = 4
	ids := seqIDs(3)
	flat := randUnit(rand.New(rand.NewPCG(1, 1)), 3, dim)
	tests := []struct {
		name string
		run  func(aw *ApproxWriter) error
		want string
	}{
		{"too many", func(aw *ApproxWriter) error { return aw.Add(append(slices.Clone(flat), flat[:dim]...)) }, "past the 3 announced"},
		{"partial vector", func(aw *ApproxWriter) error { return aw.Add(flat[:dim+1]) }, "not a whole number"},
		{"too few", func(aw *ApproxWriter) error {
			if err := aw.Add(flat[:2*dim]); err != nil {
				return err
			}
			return aw.Close()
		}, "2 of 3 vectors added"},
		{"recall before close", func(aw *ApproxWriter) error {
			_, err := aw.RecallScan(nil, 10)
			return err
		}, "unfinished"},
		{"recall scan short", func(aw *ApproxWriter) error {
			if err := aw.Add(flat); err != nil {
				return err
			}
			if err := aw.Close(); err != nil {
				return err
			}
			rs, err := aw.RecallScan([][]float32{flat[:dim]}, 1)
			if err != nil {
				return err
			}
			if err := rs.Add(flat[:dim]); err != nil {
				return err
			}
			_, err = rs.Recall()
			return err
		}, "1 of 3 vectors added"},
		{"failing writer", func(*ApproxWriter) error {
			_, err := NewApproxWriter(&failWriter{}, dim, seqIDs(100000), ApproxOptions{})
			return err
		}, "write approx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			aw, err := NewApproxWriter(&bytes.Buffer{}, dim, ids, ApproxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.run(aw); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	for _, bad := range []struct {
		dim int
		opt ApproxOptions
	}{{0, ApproxOptions{}}, {dim, ApproxOptions{Rerank: -1}}, {dim, ApproxOptions{Bits: maxBits + 1}}} {
		if _, err := NewApproxWriter(&bytes.Buffer{}, bad.dim, ids, bad.opt); !errors.Is(err, ErrOptions) {
			t.Errorf("dimension %d, %+v: error %v, want ErrOptions", bad.dim, bad.opt, err)
		}
	}
}

func TestApproxWriterWriteError(t *testing.T) {
	_, data, _ := savedIndex(t)
	r := rand.New(rand.NewPCG(10, 10))
	const n, dim = 3000, 40
	flat := randUnit(r, n, dim)
	for _, limit := range []int{0, 1 << 16, len(data) / 2, len(data) - 1} {
		err := func() error {
			aw, err := NewApproxWriter(&failWriter{limit}, dim, seqIDs(n), ApproxOptions{Bits: 256, Rerank: 60, Seed: 77})
			if err != nil {
				return err
			}
			for _, p := range pieces(flat, dim, []int{1000, 1000}) {
				if err := aw.Add(p); err != nil {
					return err
				}
			}
			return aw.Close()
		}()
		if !errors.Is(err, errDisk) {
			t.Errorf("writer failing after %d bytes: error %v", limit, err)
		}
	}
}
