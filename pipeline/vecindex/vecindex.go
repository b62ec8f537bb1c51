// Package vecindex is the search half of NER Retriever (METHODS.md §2): one
// unit vector per entity mention, scored against a query by inner product,
// which for unit vectors is their cosine.
//
// Exact scans every vector (blocked, parallel dot products) and is the
// reference. Approx scans short binary sketches of the vectors instead,
// then rescores the best few thousand candidates exactly; it returns exact
// scores, only possibly missing a true neighbour (see Recall).
package vecindex

import (
	"cmp"
	"slices"

	"github.com/viterin/vek/vek32"
)

// Hit is one search result: the id of a vector and its inner product with
// the query.
type Hit struct {
	ID    int64
	Score float32
}

// Searcher is an index searched for the k vectors of highest inner product
// with a query. Results are sorted by Score descending, ties by ID
// ascending; there are min(k, Len()) of them.
type Searcher interface {
	Search(q []float32, k int) []Hit
	Len() int
}

// Recall is the mean recall@k of got against ref over the queries: the
// share of ref's top k ids that got also returns in its top k. Ties at
// ref's k-th score are broken by id, so an index that keeps a different one
// of several equal scores loses recall for it.
func Recall(ref, got Searcher, queries [][]float32, k int) float64 {
	if len(queries) == 0 {
		return 0
	}
	var sum float64
	for _, q := range queries {
		sum += recallOf(ref.Search(q, k), got.Search(q, k))
	}
	return sum / float64(len(queries))
}

// recallOf is the share of want's hits whose ids got has too, a repeated
// id counted once; 1 when want is empty: nothing to find, nothing missed.
func recallOf(want, got []Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	ids := make(map[int64]bool, len(want))
	for _, h := range want {
		ids[h.ID] = true
	}
	found := 0
	for _, h := range got {
		if ids[h.ID] {
			found++
			delete(ids, h.ID)
		}
	}
	return float64(found) / float64(len(want))
}

// dot is the inner product used by both indexes. vek32's AVX2 kernel is
// about six times faster than unrolled Go at 256 dimensions on amd64 and
// differs from it only in summation order; vek32 itself falls back to a
// plain loop elsewhere, so the unrolled loop is used then.
var dot = func() func(a, b []float32) float32 {
	if vek32.Info().Acceleration {
		return vek32.Dot
	}
	return dotGo
}()

// dotGo is the inner product with eight independent accumulators, which
// lets the CPU overlap the additions.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x, y := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// better reports whether a ranks before b: higher score, then lower id.
func better(a, b Hit) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.ID < b.ID)
}

func compareHits(a, b Hit) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// topK keeps the k best hits offered to it. It is a binary heap whose root
// is the worst hit kept, so most offers are rejected by one comparison.
type topK struct {
	k    int
	hits []Hit
}

func newTopK(k int) *topK {
	return &topK{k: k, hits: make([]Hit, 0, min(k, 1024))}
}

// offer considers one hit.
func (t *topK) offer(id int64, score float32) {
	h := Hit{ID: id, Score: score}
	if len(t.hits) < t.k {
		t.hits = append(t.hits, h)
		t.up(len(t.hits) - 1)
		return
	}
	if !better(h, t.hits[0]) {
		return
	}
	t.hits[0] = h
	t.down(0)
}

// full reports whether offers below min can be skipped.
func (t *topK) full() bool { return len(t.hits) == t.k }

// min is the score of the worst hit kept, valid when full.
func (t *topK) min() float32 { return t.hits[0].Score }

func (t *topK) up(i int) {
	h := t.hits
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (t *topK) down(i int) {
	h := t.hits
	for {
		w := i
		l, r := 2*i+1, 2*i+2
		if l < len(h) && better(h[w], h[l]) {
			w = l
		}
		if r < len(h) && better(h[w], h[r]) {
			w = r
		}
		if w == i {
			return
		}
		h[w], h[i] = h[i], h[w]
		i = w
	}
}

// merge returns the k best of the hits kept by all heaps, sorted.
func merge(k int, heaps ...*topK) []Hit {
	n := 0
	for _, t := range heaps {
		n += len(t.hits)
	}
	if n == 0 {
		return nil
	}
	out := make([]Hit, 0, n)
	for _, t := range heaps {
		out = append(out, t.hits...)
	}
	slices.SortFunc(out, compareHits)
	if len(out) > k {
		out = out[:k:k]
	}
	return out
}
