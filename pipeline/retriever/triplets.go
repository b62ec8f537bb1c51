package retriever

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// TripletOptions tune Triplets. Zero values take the defaults, the paper's.
type TripletOptions struct {
	Positives int // mentions of the type per type; 25
	Negatives int // mentions of other types per type; 25
	// Hard is how many of the negatives are the other types' mentions
	// nearest the description; 5 when 0, none when negative.
	Hard int
	// Seed seeds the sampling. Each type draws from its own stream, so
	// adding a type does not change the others' triplets.
	Seed uint64
}

// Default triplet sampling.
const (
	DefaultPositives = 25
	DefaultNegatives = 25
	DefaultHard      = 5
)

// Triplets samples training triplets from silver-labelled mentions: vecs[i]
// is the raw vector of a mention and labels[i] its silver label ("" for
// none: such mentions are never used). For every label with a query vector
// (its description encoded by Encoder.Queries) and at least one mention of
// its own and one of another label, it draws Positives mentions of the
// label and Negatives mentions of other labels, the Hard nearest the query
// (by cosine, ties to the lower index) and the rest at random, and pairs
// every positive with every negative: up to 25×25 = 625 triplets per type
// by default. Types come in sorted order. Triplets share vecs' and
// queries' slices. It panics if vecs and labels differ in length or the
// vectors in width.
func Triplets(queries map[string][]float32, vecs [][]float32, labels []string, opt TripletOptions) []Triplet {
	if len(vecs) != len(labels) {
		panic(fmt.Sprintf("retriever: Triplets: %d vectors, %d labels", len(vecs), len(labels)))
	}
	for i, v := range vecs {
		if len(v) != len(vecs[0]) {
			panic(fmt.Sprintf("retriever: Triplets: vector %d has %d dimensions, vector 0 has %d", i, len(v), len(vecs[0])))
		}
	}
	for l, q := range queries {
		if len(vecs) > 0 && len(q) != len(vecs[0]) {
			panic(fmt.Sprintf("retriever: Triplets: query %q has %d dimensions, the vectors %d", l, len(q), len(vecs[0])))
		}
	}
	nPos := cmp.Or(opt.Positives, DefaultPositives)
	nNeg := cmp.Or(opt.Negatives, DefaultNegatives)
	nHard := max(cmp.Or(opt.Hard, DefaultHard), 0)

	byLabel := map[string][]int{}
	labelled := 0
	for i, l := range labels {
		if l != "" {
			byLabel[l] = append(byLabel[l], i)
			labelled++
		}
	}
	var types []string
	for l := range queries {
		if n := len(byLabel[l]); n > 0 && n < labelled {
			types = append(types, l)
		}
	}
	sort.Strings(types)
	norms := make([]float64, len(vecs))
	for i, v := range vecs {
		norms[i] = math.Sqrt(float64(dot(v, v)))
	}

	per := make([][]Triplet, len(types))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for ti, l := range types {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rng := rand.New(rand.NewPCG(opt.Seed, uint64(hashOf("type").str(l))))
			q := queries[l]
			pos := sample(rng, byLabel[l], nPos)
			others := make([]int, 0, labelled-len(byLabel[l]))
			for i, x := range labels {
				if x != "" && x != l {
					others = append(others, i)
				}
			}
			neg := hardest(q, vecs, norms, others, min(nHard, nNeg))
			others = slices.DeleteFunc(others, func(i int) bool { return slices.Contains(neg, i) })
			neg = append(neg, sample(rng, others, nNeg-len(neg))...)
			ts := make([]Triplet, 0, len(pos)*len(neg))
			for _, p := range pos {
				for _, n := range neg {
					ts = append(ts, Triplet{Label: l, Anchor: q, Pos: vecs[p], Neg: vecs[n]})
				}
			}
			per[ti] = ts
		})
	}
	wg.Wait()
	return slices.Concat(per...)
}

// sample draws k of the indexes without replacement, all of them if there
// are no more than k, in a seeded random order. It reorders idx.
func sample(rng *rand.Rand, idx []int, k int) []int {
	idx = slices.Clone(idx)
	k = min(k, len(idx))
	for i := range k {
		j := i + rng.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:k]
}

// hardest returns the k candidates whose vectors have the highest cosine
// with q, best first, ties to the lower index.
func hardest(q []float32, vecs [][]float32, norms []float64, cand []int, k int) []int {
	if k <= 0 {
		return nil
	}
	type scored struct {
		i int
		s float64
	}
	qn := math.Sqrt(float64(dot(q, q)))
	ss := make([]scored, len(cand))
	for j, i := range cand {
		s := float64(dot(q, vecs[i]))
		if d := qn * norms[i]; d > 0 {
			s /= d
		}
		ss[j] = scored{i, s}
	}
	slices.SortFunc(ss, func(a, b scored) int {
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]int, 0, k)
	for _, s := range ss[:min(k, len(ss))] {
		out = append(out, s.i)
	}
	return out
}
