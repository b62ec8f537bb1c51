package student

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// best enumerates every sequence of n classes of k that reads as BIO and
// returns the best one's score (ties are not compared).
func best(em, trans []float32, k, n int) float32 {
	top := negInf
	seq := make([]int, n)
	var rec func(i int, score float32)
	rec = func(i int, score float32) {
		if i == n {
			top = max(top, score)
			return
		}
		prev := k
		if i > 0 {
			prev = seq[i-1]
		}
		for c := range k {
			pj := prev
			if prev == k {
				pj = -1
			}
			if !allowed(pj, c) {
				continue
			}
			seq[i] = c
			rec(i+1, score+em[i*k+c]+trans[prev*k+c])
		}
	}
	rec(0, 0)
	return top
}

func TestViterbi(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for trial := range 300 {
		k := 1 + 2*(1+r.IntN(3))
		n := 1 + r.IntN(5)
		if trial >= 100 {
			n = 1 + r.IntN(40) // too long to enumerate: pruned against full only
		}
		// Small integers make ties common; the tie rule must hold with
		// pruning too.
		v := func() float32 { return float32(r.IntN(7) - 3) }
		if trial%2 == 1 {
			v = func() float32 { return float32(r.NormFloat64() * 5) }
		}
		trans := make([]float32, (k+1)*k)
		for i := range trans {
			trans[i] = v()
		}
		d := newDecoder(k)
		d.reset(n)
		for i := range d.em {
			d.em[i] = v()
		}
		tt := transpose(trans, k, nil)
		full := slices.Clone(d.viterbi(tt, float32(1e30)))
		pruned := d.viterbi(tt, spread(trans, k))
		if !slices.Equal(full, pruned) {
			t.Fatalf("trial %d: pruned path %v, full %v", trial, pruned, full)
		}
		prev := -1
		var score float32
		for i, c := range full {
			if !allowed(prev, int(c)) {
				t.Fatalf("trial %d: path %v has %d after %d", trial, full, c, prev)
			}
			p := k
			if i > 0 {
				p = prev
			}
			score += d.em[i*k+int(c)] + trans[p*k+int(c)]
			prev = int(c)
		}
		if n <= 5 {
			if want := best(d.em, trans, k, n); score < want-1e-3 {
				t.Fatalf("trial %d: path %v scores %v, the best sequence %v", trial, full, score, want)
			}
		}
	}
}
