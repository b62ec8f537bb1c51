package vecindex

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// split cuts ids and flat into shards of the given sizes (the last takes
// the rest) and adds them to a new index.
func split(t *testing.T, ids []int64, flat []float32, dim int, sizes []int) *Exact {
	t.Helper()
	e := NewExact(dim)
	lo := 0
	for i, s := range append(sizes, len(ids)) {
		hi := min(lo+s, len(ids))
		if i == len(sizes) {
			hi = len(ids)
		}
		if err := e.Add(ids[lo:hi], flat[lo*dim:hi*dim]); err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	if e.Len() != len(ids) {
		t.Fatalf("Len %d, want %d", e.Len(), len(ids))
	}
	return e
}

func TestExactMatchesBruteForce(t *testing.T) {
	for _, tc := range []struct {
		dim, n int
		shards []int
		ints   bool // integer data: exact scores, many ties
		dups   int  // rows copied onto others, under other ids
	}{
		{dim: 1, n: 50, ints: true},
		{dim: 3, n: 1, shards: []int{0}},
		{dim: 3, n: 700, shards: []int{0, 5, 0, 300}, ints: true, dups: 100},
		{dim: 8, n: 2000, shards: []int{1, 256, 257}, ints: true},
		{dim: 64, n: 3000, shards: []int{1000, 1000}},
		{dim: 64, n: 1500, shards: []int{7}, dups: 200},
		{dim: 257, n: 1200, shards: []int{600}, ints: true, dups: 50},
		{dim: 256, n: 2500},
	} {
		name := fmt.Sprintf("dim%d_n%d_shards%v_ints%v_dups%d", tc.dim, tc.n, tc.shards, tc.ints, tc.dups)
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.dim), uint64(tc.n)))
			var flat []float32
			if tc.ints {
				flat = randInts(r, tc.n, tc.dim)
			} else {
				flat = randUnit(r, tc.n, tc.dim)
			}
			for range tc.dups {
				from, to := r.IntN(tc.n), r.IntN(tc.n)
				copy(flat[to*tc.dim:(to+1)*tc.dim], flat[from*tc.dim:(from+1)*tc.dim])
			}
			// Ids not in row order, so that ordering by id is tested apart
			// from ordering by position.
			ids := make([]int64, tc.n)
			for i, p := range r.Perm(tc.n) {
				ids[i] = int64(p)*3 - 100
			}
			e := split(t, ids, flat, tc.dim, tc.shards)
			var qs [][]float32
			if tc.ints {
				qs = rows(randInts(r, 12, tc.dim), tc.dim)
			} else {
				qs = rows(randUnit(r, 12, tc.dim), tc.dim)
			}
			qs = append(qs, flat[:tc.dim]) // a query equal to an indexed vector
			tol := 1e-5
			if tc.ints {
				tol = 0
			}
			for _, k := range []int{1, 10, 100, tc.n, tc.n + 7} {
				batch := e.SearchBatch(qs, k)
				for i, q := range qs {
					want := bruteForce(ids, flat, tc.dim, q)
					got := e.Search(q, k)
					checkTopK(t, got, want, k, tol)
					if !slices.Equal(batch[i], got) {
						t.Fatalf("k=%d query %d: SearchBatch %v, Search %v", k, i, batch[i], got)
					}
				}
			}
		})
	}
}

func TestExactEdges(t *testing.T) {
	e := NewExact(4)
	if got := e.Search([]float32{1, 0, 0, 0}, 3); len(got) != 0 {
		t.Errorf("empty index: %v", got)
	}
	if err := e.Add([]int64{1, 2}, []float32{1, 0, 0, 0, 0, 1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{0, -1} {
		if got := e.Search([]float32{1, 0, 0, 0}, k); len(got) != 0 {
			t.Errorf("k=%d: %v", k, got)
		}
	}
	got := e.SearchBatch(nil, 3)
	if len(got) != 0 {
		t.Errorf("no queries: %v", got)
	}
	if got := e.SearchBatch([][]float32{{1, 0, 0, 0}}, 0); len(got) != 1 || got[0] != nil {
		t.Errorf("batch k=0: %v", got)
	}
	if got := e.Search([]float32{0, 1, 0, 0}, 5); !slices.Equal(got, []Hit{{2, 1}, {1, 0}}) {
		t.Errorf("k > n: %v", got)
	}
}

func TestExactAddErrors(t *testing.T) {
	for _, tc := range []struct {
		dim  int
		ids  []int64
		flat []float32
		want string
	}{
		{2, []int64{1}, []float32{1, 2, 3}, "3 floats for 1 ids"},
		{2, []int64{1, 2}, []float32{1, 2}, "2 floats for 2 ids"},
		{0, []int64{1}, nil, "dimension 0"},
	} {
		err := NewExact(tc.dim).Add(tc.ids, tc.flat)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%v, %v) at dim %d: error %v, want %q", tc.ids, tc.flat, tc.dim, err, tc.want)
		}
	}
}

func TestExactQueryDimPanics(t *testing.T) {
	e := NewExact(3)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "dimension 2") {
			t.Errorf("recovered %v, want a dimension panic", r)
		}
	}()
	e.Search([]float32{1, 2}, 1)
}
