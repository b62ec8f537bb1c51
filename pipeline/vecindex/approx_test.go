package vecindex

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func seqIDs(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i) + 1000
	}
	return ids
}

func TestApproxRecall(t *testing.T) {
	const n, dim, k = 20000, 64, 10
	r := rand.New(rand.NewPCG(3, 3))
	ids, flat := seqIDs(n), randUnit(r, n, dim)
	qs := rows(randUnit(r, 100, dim), dim)
	e := NewExact(dim)
	if err := e.Add(ids, flat); err != nil {
		t.Fatal(err)
	}
	// Rescoring 2% of the index: were the sketches no better than chance,
	// recall would be about 0.02.
	a, err := BuildApprox(ids, flat, dim, ApproxOptions{Rerank: n / 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := Recall(e, a, qs, k); got < 0.95 {
		t.Errorf("recall@%d %.3f with %+v, want >= 0.95", k, got, a.Options())
	} else {
		t.Logf("recall@%d %.3f with %+v", k, got, a.Options())
	}
	// Fewer bits rank worse: the sketch length is what buys the recall.
	short, err := BuildApprox(ids, flat, dim, ApproxOptions{Bits: 64, Rerank: n / 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, long := Recall(e, short, qs, k), Recall(e, a, qs, k); got >= long {
		t.Errorf("recall@%d with 64 bits %.3f, not below %.3f with %d", k, got, long, a.Options().Bits)
	}
}

func TestApproxExactScores(t *testing.T) {
	// Whatever the sketches rank, hits carry exact scores, in order, with
	// no id twice; and rescoring everything is exact search.
	for _, tc := range []struct{ n, dim, rerank, k int }{
		{1, 3, 1, 1},
		{5, 3, 1, 10},
		{3000, 24, 50, 10},
		{3000, 24, 50, 120}, // k above Rerank: k are rescored
		{2000, 100, 2000, 15},
		{40000, 16, 300, 20}, // several scan chunks
	} {
		t.Run(fmt.Sprintf("n%d_dim%d_rerank%d_k%d", tc.n, tc.dim, tc.rerank, tc.k), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.n), 4))
			ids, flat := seqIDs(tc.n), randUnit(r, tc.n, tc.dim)
			a, err := BuildApprox(ids, flat, tc.dim, ApproxOptions{Rerank: tc.rerank})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range rows(randUnit(r, 5, tc.dim), tc.dim) {
				all := bruteForce(ids, flat, tc.dim, q)
				got := a.Search(q, tc.k)
				if tc.rerank >= tc.n {
					checkTopK(t, got, all, tc.k, 1e-5)
					continue
				}
				if len(got) != min(tc.k, tc.n) {
					t.Fatalf("%d hits, want %d", len(got), min(tc.k, tc.n))
				}
				score := make(map[int64]float32)
				for _, h := range all {
					score[h.ID] = h.Score
				}
				seen := make(map[int64]bool)
				for i, h := range got {
					if seen[h.ID] {
						t.Fatalf("id %d twice", h.ID)
					}
					seen[h.ID] = true
					if s, ok := score[h.ID]; !ok || math.Abs(float64(s-h.Score)) > 1e-5 {
						t.Fatalf("hit %v: true score %v", h, s)
					}
					if i > 0 && !better(got[i-1], h) {
						t.Fatalf("hits %d and %d out of order: %v", i-1, i, got)
					}
				}
			}
		})
	}
}

func TestApproxEdges(t *testing.T) {
	a, err := BuildApprox(nil, nil, 8, ApproxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Search(make([]float32, 8), 3); len(got) != 0 || a.Len() != 0 {
		t.Errorf("empty index: %v, Len %d", got, a.Len())
	}
	r := rand.New(rand.NewPCG(5, 5))
	a, err = BuildApprox(seqIDs(100), randUnit(r, 100, 8), 8, ApproxOptions{Rerank: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Search(make([]float32, 8), 0); len(got) != 0 {
		t.Errorf("k=0: %v", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "dimension 7") {
			t.Errorf("recovered %v, want a dimension panic", r)
		}
	}()
	a.Search(make([]float32, 7), 1)
}

func TestBuildApproxErrors(t *testing.T) {
	for _, tc := range []struct {
		ids  []int64
		flat []float32
		dim  int
		opt  ApproxOptions
		want string
	}{
		{[]int64{1}, []float32{1, 2, 3}, 2, ApproxOptions{}, "3 floats for 1 ids"},
		{[]int64{1}, nil, 0, ApproxOptions{}, "dimension 0"},
		{[]int64{1}, []float32{1, 0}, 2, ApproxOptions{Bits: -1}, "negative option"},
		{[]int64{1}, []float32{1, 0}, 2, ApproxOptions{Rerank: -5}, "negative option"},
		{[]int64{1}, []float32{1, 0}, 2, ApproxOptions{Bits: maxBits + 1}, "sketch bits"},
	} {
		_, err := BuildApprox(tc.ids, tc.flat, tc.dim, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("BuildApprox(%v, %v, %d, %+v): error %v, want %q", tc.ids, tc.flat, tc.dim, tc.opt, err, tc.want)
		}
	}
}

func TestApproxOptions(t *testing.T) {
	for _, tc := range []struct {
		dim  int
		opt  ApproxOptions
		want ApproxOptions
	}{
		{256, ApproxOptions{}, ApproxOptions{Bits: 1024, Rerank: 3000}},
		{500, ApproxOptions{Seed: 9}, ApproxOptions{Bits: 1024, Rerank: 3000, Seed: 9}},
		{1000, ApproxOptions{Bits: 1500, Rerank: 7}, ApproxOptions{Bits: 2048, Rerank: 7}},
		{5, ApproxOptions{Bits: 100}, ApproxOptions{Bits: 128, Rerank: 3000}},
	} {
		a, err := BuildApprox(nil, nil, tc.dim, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Options(); got != tc.want {
			t.Errorf("dim %d, %+v: options %+v, want %+v", tc.dim, tc.opt, got, tc.want)
		}
		if got := a.WithRerank(11).Options().Rerank; got != 11 {
			t.Errorf("WithRerank(11): rerank %d", got)
		}
	}
}

func TestApproxDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	ids, flat := seqIDs(500), randUnit(r, 500, 32)
	build := func(seed uint64) *Approx {
		a, err := BuildApprox(ids, flat, 32, ApproxOptions{Seed: seed, Rerank: 20})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b, c := build(1), build(1), build(2)
	if !slices.Equal(a.codes, b.codes) {
		t.Error("same seed, different sketches")
	}
	if slices.Equal(a.codes, c.codes) {
		t.Error("different seeds, same sketches")
	}
}

func TestApproxConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n, dim = 5000, 32
	a, err := BuildApprox(seqIDs(n), randUnit(r, n, dim), dim, ApproxOptions{Rerank: 100})
	if err != nil {
		t.Fatal(err)
	}
	qs := rows(randUnit(r, 16, dim), dim)
	want := make([][]Hit, len(qs))
	for i, q := range qs {
		want[i] = a.Search(q, 10)
	}
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Go(func() {
			if got := a.Search(q, 10); !slices.Equal(got, want[i]) {
				t.Errorf("query %d: concurrent %v, alone %v", i, got, want[i])
			}
		})
	}
	wg.Wait()
}

func TestHadamard(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, n := range []int{1, 2, 4, 8, 64, 128} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		got := slices.Clone(x)
		hadamard(got)
		for i := range n {
			// H[i][j] = (-1)^popcount(i&j)
			var want float64
			for j := range n {
				want += float64(x[j]) * float64(1-2*(bits.OnesCount(uint(i&j))%2))
			}
			if math.Abs(float64(got[i])-want) > 1e-4 {
				t.Fatalf("n=%d: H x [%d] = %v, want %v", n, i, got[i], want)
			}
		}
	}
}

func TestSketchEstimatesAngle(t *testing.T) {
	// The share of differing bits estimates angle/pi; with 1024 bits its
	// standard error is below 0.016, so the mean absolute error over many
	// pairs must be small, whatever the angle.
	r := rand.New(rand.NewPCG(9, 9))
	for _, dim := range []int{3, 64, 200} {
		sk := newSketcher(dim, sketchBits(dim, 1024), 1)
		w := sk.words()
		buf := make([]float32, sk.pad)
		code := func(v []float32) []uint64 {
			out := make([]uint64, w)
			sk.encode(v, buf, out)
			return out
		}
		var sumErr float64
		const pairs = 200
		for i := range pairs {
			u := randUnit(r, 1, dim)
			v := randUnit(r, 1, dim)
			// Mix v towards u by a varying amount, for angles from 0 to ~90°.
			mix := float32(i) / pairs
			for j := range v {
				v[j] = mix*v[j] + (1-mix)*u[j]
			}
			normalize(v)
			cu, cv := code(u), code(v)
			d := 0
			for j := range cu {
				d += bits.OnesCount64(cu[j] ^ cv[j])
			}
			angle := math.Acos(math.Max(-1, math.Min(1, float64(dot(u, v)))))
			sumErr += math.Abs(float64(d)/float64(w*64) - angle/math.Pi)
		}
		if mean := sumErr / pairs; mean > 0.02 {
			t.Errorf("dim %d: mean |hamming/bits - angle/pi| = %.4f, want <= 0.02", dim, mean)
		}
		u := randUnit(r, 1, dim)
		neg := slices.Clone(u)
		for j := range neg {
			neg[j] = -neg[j]
		}
		cu, cn := code(u), code(neg)
		if !slices.Equal(cu, code(slices.Clone(u))) {
			t.Errorf("dim %d: sketch of a vector is not its own", dim)
		}
		d := 0
		for j := range cu {
			d += bits.OnesCount64(cu[j] ^ cn[j])
		}
		if d < w*64*99/100 {
			t.Errorf("dim %d: u and -u differ in %d of %d bits", dim, d, w*64)
		}
	}
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

func TestHamming(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, w := range []int{1, 4, 16, 32, 48} {
		const n = 50
		codes := make([]uint64, n*w)
		for i := range codes {
			codes[i] = r.Uint64()
		}
		q := make([]uint64, w)
		for i := range q {
			q[i] = r.Uint64()
		}
		copy(codes[7*w:], q) // one at distance 0
		dist := make([]uint16, n)
		hist := make([]int32, w*64+1)
		hamming(codes, q, dist, hist)
		want := make([]int32, w*64+1)
		for i := range n {
			d := 0
			for j := range w {
				for b := range 64 {
					if (codes[i*w+j]^q[j])>>b&1 == 1 {
						d++
					}
				}
			}
			if int(dist[i]) != d {
				t.Fatalf("%d words, sketch %d: distance %d, want %d", w, i, dist[i], d)
			}
			want[d]++
		}
		if !slices.Equal(hist, want) || dist[7] != 0 {
			t.Errorf("%d words: histogram or self-distance wrong", w)
		}
	}
}
