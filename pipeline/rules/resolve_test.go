package rules

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// resolveRef is resolve as it first was: each span in resolve's order is
// compared with every span kept before it. Quadratic, and plainly right.
func resolveRef(cs []cand) []cand {
	cs = slices.Clone(cs)
	sort.Slice(cs, func(a, b int) bool {
		la, lb := cs[a].j-cs[a].i, cs[b].j-cs[b].i
		if cs[a].prio != cs[b].prio && (cs[a].prio >= prioPattern || cs[b].prio >= prioPattern) {
			return cs[a].prio > cs[b].prio
		}
		if la != lb {
			return la > lb
		}
		if cs[a].prio != cs[b].prio {
			return cs[a].prio > cs[b].prio
		}
		return cs[a].i < cs[b].i
	})
	var kept []cand
	for _, c := range cs {
		ok := true
		for _, k := range kept {
			if c.i < k.j && k.i < c.j {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	sort.Slice(kept, func(a, b int) bool { return kept[a].i < kept[b].i })
	return kept
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		in   []cand
		want []cand
	}{
		{"none", nil, nil},
		{"one", []cand{{3, 5, prioRun}}, []cand{{3, 5, prioRun}}},
		{"longest wins", []cand{{0, 2, prioLex}, {1, 4, prioRun}}, []cand{{1, 4, prioRun}}},
		{"lexicon wins a tie", []cand{{0, 2, prioRun}, {1, 3, prioLex}}, []cand{{1, 3, prioLex}}},
		{"earliest wins a tie", []cand{{1, 3, prioRun}, {0, 2, prioRun}}, []cand{{0, 2, prioRun}}},
		{"pattern beats longer", []cand{{0, 6, prioRun}, {4, 5, prioPattern}}, []cand{{4, 5, prioPattern}}},
		{"quote beats pattern", []cand{{0, 6, prioPattern}, {4, 5, prioQuote}}, []cand{{4, 5, prioQuote}}},
		{"touching spans both kept", []cand{{2, 4, prioRun}, {0, 2, prioLex}, {4, 5, prioRun}},
			[]cand{{0, 2, prioLex}, {2, 4, prioRun}, {4, 5, prioRun}}},
		{"duplicates kept once", []cand{{1, 2, prioRun}, {1, 2, prioRun}}, []cand{{1, 2, prioRun}}},
		{"nested", []cand{{2, 3, prioLex}, {0, 9, prioRun}, {5, 7, prioLex}}, []cand{{0, 9, prioRun}}},
		{"dropped span frees nothing", []cand{{0, 4, prioRun}, {3, 6, prioRun}, {5, 8, prioLex}},
			[]cand{{0, 4, prioRun}, {5, 8, prioLex}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolve(slices.Clone(tt.in)); !slices.Equal(got, tt.want) {
				t.Errorf("resolve(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if got := resolveRef(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("resolveRef(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// resolve keeps exactly the spans the quadratic reference keeps, on random
// spans: sparse and dense, short and long, with and without patterns.
func TestResolveMatchesReference(t *testing.T) {
	tests := []struct {
		n, width, maxLen int
		prios            []int
	}{
		{n: 5, width: 10, maxLen: 3, prios: []int{prioRun}},
		{n: 20, width: 15, maxLen: 4, prios: []int{prioRun, prioLex}},
		{n: 50, width: 40, maxLen: 6, prios: []int{prioRun, prioLex, prioPattern, prioQuote}},
		{n: 200, width: 1000, maxLen: 5, prios: []int{prioRun, prioLex, prioPattern, prioQuote}},
		{n: 300, width: 60, maxLen: 20, prios: []int{prioRun, prioLex, prioPattern, prioQuote}},
		{n: 1000, width: 5000, maxLen: 12, prios: []int{prioRun, prioLex, prioPattern}},
		{n: 1000, width: 30, maxLen: 30, prios: []int{prioRun, prioLex, prioPattern, prioQuote}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d width=%d len<=%d prios=%v", tt.n, tt.width, tt.maxLen, tt.prios), func(t *testing.T) {
			for seed := range uint64(50) {
				r := rand.New(rand.NewPCG(seed, uint64(tt.n)))
				cs := make([]cand, r.IntN(tt.n+1))
				for k := range cs {
					i := r.IntN(tt.width)
					cs[k] = cand{i, i + 1 + r.IntN(tt.maxLen), tt.prios[r.IntN(len(tt.prios))]}
				}
				want := resolveRef(cs)
				if got := resolve(slices.Clone(cs)); !slices.Equal(got, want) {
					t.Fatalf("seed %d: resolve(%v)\n = %v\nwant %v", seed, cs, got, want)
				}
			}
		})
	}
}

// A document's worth of spans resolves in about linear time: a million
// spans take well under a second, where comparing each with every kept one
// took hours.
func BenchmarkResolve(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	cs := make([]cand, 1_000_000)
	for k := range cs {
		i := r.IntN(5_000_000)
		cs[k] = cand{i, i + 1 + r.IntN(4), []int{prioRun, prioLex, prioPattern}[r.IntN(3)]}
	}
	buf := make([]cand, len(cs))
	b.ResetTimer()
	for range b.N {
		copy(buf, cs)
		resolve(buf)
	}
}
