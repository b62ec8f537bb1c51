package student

import (
	"math"
)

var negInf = float32(math.Inf(-1))

// decoder finds a sentence's best class sequence from its tokens' class
// scores (em, n×k) and the transition weights. Its buffers are reused
// across sentences.
type decoder struct {
	k      int
	em     []float32 // filled by the caller
	bp     []uint8
	path   []uint8
	cand   []uint8 // the classes viterbi tries as predecessors
	dp, nx []float32
}

func newDecoder(k int) *decoder {
	return &decoder{k: k, dp: make([]float32, k), nx: make([]float32, k), cand: make([]uint8, 0, k)}
}

// reset sizes the buffers for n tokens and zeroes em.
func (d *decoder) reset(n int) {
	if cap(d.em) < n*d.k {
		d.em = make([]float32, n*d.k)
		d.bp = make([]uint8, n*d.k)
		d.path = make([]uint8, n)
	}
	d.em = d.em[:n*d.k]
	clear(d.em)
	d.bp = d.bp[:n*d.k]
	d.path = d.path[:n]
}

// viterbi fills d.path with the best sequence whose I-t classes each
// follow B-t or I-t; tt is the transitions transposed (see transpose).
// Ties go to the lower class.
//
// O and B-t may follow any class, which makes Viterbi quadratic in the
// classes. But a class whose score is far below the best one's cannot be
// the best predecessor of anything: with spread at least the range of any
// column of transition weights, a class more than spread below the best
// loses to it for every next class. Only the others are tried, in class
// order, so the result is that of trying all; an infinite spread tries
// all.
func (d *decoder) viterbi(tt []float32, spread float32) []uint8 {
	k, n := d.k, len(d.path)
	if n == 0 {
		return d.path
	}
	dp, nx := d.dp[:k], d.nx[:k]
	for c := range k {
		dp[c] = negInf
		if allowed(-1, c) {
			dp[c] = d.em[c] + tt[c*(k+1)+k]
		}
	}
	cand := d.cand[:0]
	for i := 1; i < n; i++ {
		em, bp := d.em[i*k:(i+1)*k], d.bp[i*k:(i+1)*k]
		top := dp[0]
		for _, p := range dp[1:] {
			if p > top { // not max: no NaN to care for
				top = p
			}
		}
		cand = cand[:0]
		for j, p := range dp {
			if p >= top-spread {
				cand = append(cand, uint8(j))
			}
		}
		for c := range k {
			from := tt[c*(k+1) : c*(k+1)+k]
			best, arg := negInf, 0
			if c > 0 && c%2 == 0 {
				// I-t: only from B-t or I-t.
				if v := dp[c-1] + from[c-1]; v > best {
					best, arg = v, c-1
				}
				if v := dp[c] + from[c]; v > best {
					best, arg = v, c
				}
			} else {
				for _, j := range cand {
					if v := dp[j] + from[j]; v > best {
						best, arg = v, int(j)
					}
				}
			}
			nx[c], bp[c] = best+em[c], uint8(arg)
		}
		dp, nx = nx, dp
	}
	d.cand = cand
	best := 0
	for c := range k {
		if dp[c] > dp[best] {
			best = c
		}
	}
	for i := n - 1; i >= 0; i-- {
		d.path[i] = uint8(best)
		best = int(d.bp[i*k+best])
	}
	return d.path
}

// spread is a bound for viterbi: the widest range of the transition
// weights into a class that may follow any class, with room for rounding.
func spread(trans []float32, k int) float32 {
	var s float32
	for c := range k {
		if c > 0 && c%2 == 0 {
			continue
		}
		lo, hi := trans[c], trans[c]
		for j := range k {
			lo, hi = min(lo, trans[j*k+c]), max(hi, trans[j*k+c])
		}
		s = max(s, hi-lo)
	}
	return s*1.001 + 1e-3
}

// transpose returns the transitions (k+1)×k, trans[j*k+c] for class j
// then c (j == k: the start), as k×(k+1), tt[c*(k+1)+j]: Viterbi reads
// each class's predecessors in a row.
func transpose(trans []float32, k int, tt []float32) []float32 {
	tt = tt[:0]
	for c := range k {
		for j := range k + 1 {
			tt = append(tt, trans[j*k+c])
		}
	}
	return tt
}

// confidence is the share of token i's chosen class among the classes
// that may follow the class before it, by the softmax of their scores.
func (d *decoder) confidence(i int, tt []float32) float64 {
	k := d.k
	prev, pj := k, -1 // the start
	if i > 0 {
		prev = int(d.path[i-1])
		pj = prev
	}
	c := int(d.path[i])
	em := d.em[i*k : (i+1)*k]
	s := em[c] + tt[c*(k+1)+prev]
	var z float64
	for j := range k {
		if allowed(pj, j) {
			z += math.Exp(float64(em[j] + tt[j*(k+1)+prev] - s))
		}
	}
	return 1 / z
}
