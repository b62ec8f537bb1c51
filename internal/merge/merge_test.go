package merge

import (
	"cmp"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// batches is a Source over rows, served n at a time in one reused buffer.
type batches struct {
	rows []int
	n    int
	buf  []int
}

func (b *batches) Next() ([]int, error) {
	if len(b.rows) == 0 {
		return nil, io.EOF
	}
	k := min(b.n, len(b.rows))
	b.buf = append(b.buf[:0], b.rows[:k]...)
	b.rows = b.rows[k:]
	return b.buf, nil
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name    string
		sources int
		rows    int
		batch   int
	}{
		{"none", 0, 0, 1},
		{"one", 1, 100, 7},
		{"empty sources", 5, 0, 3},
		{"many small batches", 9, 1000, 1},
		{"large batches", 4, 5000, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tt.sources)))
			var want []int
			srcs := make([]Source[int], tt.sources)
			for i := range srcs {
				rows := make([]int, r.IntN(tt.rows+1))
				for k := range rows {
					rows[k] = r.IntN(50) // many equal keys
				}
				slices.Sort(rows)
				want = append(want, rows...)
				srcs[i] = &batches{rows: rows, n: tt.batch}
			}
			slices.Sort(want)
			var got []int
			err := Merge(srcs, cmp.Compare[int], func(x int) error { got = append(got, x); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("merged %d rows, want %d in order", len(got), len(want))
			}
		})
	}
}

// pair is a key and a count; equal keys from different sources keep their
// source order.
type pair struct{ key, src int }

type pairs struct{ rows []pair }

func (p *pairs) Next() ([]pair, error) {
	if len(p.rows) == 0 {
		return nil, io.EOF
	}
	out := p.rows
	p.rows = nil
	return out, nil
}

func TestMergeStable(t *testing.T) {
	srcs := []Source[pair]{
		&pairs{[]pair{{1, 0}, {2, 0}}},
		&pairs{[]pair{{1, 1}, {2, 1}}},
		&pairs{[]pair{{1, 2}}},
	}
	var got []pair
	err := Merge(srcs, func(a, b pair) int { return cmp.Compare(a.key, b.key) }, func(x pair) error { got = append(got, x); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []pair{{1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestGroup(t *testing.T) {
	type kv struct{ k, v int }
	var got []kv
	push, flush := Group(func(a, b kv) bool { return a.k == b.k }, func(acc *kv, x kv) { acc.v += x.v },
		func(x kv) error { got = append(got, x); return nil })
	for _, x := range []kv{{1, 1}, {1, 2}, {2, 5}, {3, 1}, {3, 1}, {3, 1}} {
		if err := push(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	want := []kv{{1, 3}, {2, 5}, {3, 3}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
