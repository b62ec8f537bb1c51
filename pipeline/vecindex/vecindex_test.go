package vecindex

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randUnit returns n random unit vectors of dim, row-major: normalised
// Gaussians, uniform on the sphere.
func randUnit(r *rand.Rand, n, dim int) []float32 {
	flat := make([]float32, n*dim)
	for i := range n {
		v := flat[i*dim : (i+1)*dim]
		var s float64
		for j := range v {
			x := r.NormFloat64()
			v[j] = float32(x)
			s += x * x
		}
		inv := 1 / math.Sqrt(s)
		for j := range v {
			v[j] = float32(float64(v[j]) * inv)
		}
	}
	return flat
}

// randInts returns n vectors of dim with components in -2..2. Their inner
// products are small integers, exact in float32 whatever the order of
// summation, and equal often: every tie is a real tie.
func randInts(r *rand.Rand, n, dim int) []float32 {
	flat := make([]float32, n*dim)
	for i := range flat {
		flat[i] = float32(r.IntN(5) - 2)
	}
	return flat
}

func rows(flat []float32, dim int) [][]float32 {
	var out [][]float32
	for i := 0; i+dim <= len(flat); i += dim {
		out = append(out, flat[i:i+dim])
	}
	return out
}

// bruteForce is the reference: every score in float64, sorted by score
// descending then id ascending. It returns all n hits.
func bruteForce(ids []int64, flat []float32, dim int, q []float32) []Hit {
	type scored struct {
		id int64
		s  float64
	}
	all := make([]scored, len(ids))
	for i, id := range ids {
		var s float64
		for j := range dim {
			s += float64(q[j]) * float64(flat[i*dim+j])
		}
		all[i] = scored{id, s}
	}
	slices.SortFunc(all, func(a, b scored) int {
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]Hit, len(all))
	for i, a := range all {
		out[i] = Hit{ID: a.id, Score: float32(a.s)}
	}
	return out
}

// checkTopK asserts that got is want[:k] up to float32 rounding: same
// length, scores within tol position by position, and where ids differ,
// the id got returned scores within tol of the one it displaced (a
// near-tie that rounding may order either way). With tol 0 the match must
// be exact.
func checkTopK(t *testing.T, got, all []Hit, k int, tol float64) {
	t.Helper()
	want := all[:min(k, len(all))]
	if len(got) != len(want) {
		t.Fatalf("got %d hits, want %d", len(got), len(want))
	}
	score := make(map[int64]float32, len(all))
	for _, h := range all {
		score[h.ID] = h.Score
	}
	seen := make(map[int64]bool, len(got))
	for i, h := range got {
		if seen[h.ID] {
			t.Fatalf("hit %d: id %d returned twice", i, h.ID)
		}
		seen[h.ID] = true
		if d := math.Abs(float64(h.Score - want[i].Score)); d > tol {
			t.Fatalf("hit %d: score %v, want %v (id %d)", i, h.Score, want[i].Score, want[i].ID)
		}
		if h.ID == want[i].ID {
			continue
		}
		s, ok := score[h.ID]
		if !ok || tol == 0 || math.Abs(float64(s-want[i].Score)) > tol {
			t.Fatalf("hit %d: id %d (score %v), want id %d (score %v)", i, h.ID, s, want[i].ID, want[i].Score)
		}
	}
}

func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for n := 1; n <= 70; n++ {
		a, b := randUnit(r, 1, n), randUnit(r, 1, n)
		var want float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
		}
		for name, f := range map[string]func(a, b []float32) float32{"go": dotGo, "chosen": dot} {
			if got := f(a, b); math.Abs(float64(got)-want) > 1e-6 {
				t.Errorf("%s dot of length %d: %v, want %v", name, n, got, want)
			}
		}
	}
}

func TestTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, k := range []int{1, 2, 7, 50, 200} {
		var all []Hit
		h := newTopK(k)
		for i := range 150 {
			// Few distinct scores, so that ties are decided by id.
			hit := Hit{ID: int64(r.IntN(1000)), Score: float32(r.IntN(20))}
			if i%3 == 0 {
				hit.ID = int64(i) // keep ids unique
			}
			all = append(all, hit)
			h.offer(hit.ID, hit.Score)
		}
		slices.SortFunc(all, compareHits)
		got := merge(k, h)
		if want := all[:min(k, len(all))]; !slices.Equal(got, want) {
			t.Errorf("k=%d: got %v, want %v", k, got, want)
		}
	}
}

// stub returns fixed hits.
type stub struct{ hits []Hit }

func (s stub) Search(q []float32, k int) []Hit { return s.hits[:min(k, len(s.hits))] }
func (s stub) Len() int                        { return len(s.hits) }

func TestRecall(t *testing.T) {
	ref := stub{[]Hit{{1, 0.9}, {2, 0.8}, {3, 0.7}, {4, 0.6}}}
	qs := [][]float32{{1}, {0}}
	for _, tc := range []struct {
		name string
		got  Searcher
		k    int
		want float64
	}{
		{"same", ref, 4, 1},
		{"none", stub{[]Hit{{7, 1}, {8, 1}, {9, 1}, {10, 1}}}, 4, 0},
		{"half", stub{[]Hit{{1, 1}, {8, 1}, {3, 1}, {10, 1}}}, 4, 0.5},
		{"repeats count once", stub{[]Hit{{1, 1}, {1, 1}, {1, 1}, {1, 1}}}, 4, 0.25},
		{"short", stub{[]Hit{{2, 1}}}, 2, 0.5},
		{"k past ref", stub{[]Hit{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}}, 10, 1},
	} {
		if got := Recall(ref, tc.got, qs, tc.k); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: recall %v, want %v", tc.name, got, tc.want)
		}
	}
}
