package retriever

import (
	"cmp"
	"math"
	"slices"
)

// BM25 is the lexical baseline NER Retriever is compared with: Okapi BM25
// over a fixed set of texts (sentences or documents). Terms are the
// lower-cased word tokens of pipeline/text (Words); stop words are dropped
// from queries, not from texts, so that text lengths stay true. A term's
// weight is
//
//	idf · tf·(k1+1) / (tf + k1·(1 - b + b·len/avglen))
//
// with idf = ln(1 + (N - df + 0.5)/(df + 0.5)), which is never negative,
// and a query term counts once however often it is repeated. A BM25 is
// safe for concurrent searches.
type BM25 struct {
	k1, b    float64
	keepStop bool
	postings map[string][]posting
	lens     []int32
	avgLen   float64
}

type posting struct {
	doc, tf int32
}

// BM25Options tune BM25. Zero values take the defaults.
type BM25Options struct {
	K1 float64 // term frequency saturation; 1.2
	// B is the length normalisation; 0.75 when 0, none (0) when negative.
	B float64
	// KeepStopWords keeps stop words in queries.
	KeepStopWords bool
}

// NewBM25 indexes the texts; Search returns indexes into them.
func NewBM25(docs []string, opt BM25Options) *BM25 {
	m := &BM25{
		k1:       cmp.Or(opt.K1, 1.2),
		b:        max(cmp.Or(opt.B, 0.75), 0),
		keepStop: opt.KeepStopWords,
		postings: map[string][]posting{},
		lens:     make([]int32, len(docs)),
	}
	var total int
	tf := map[string]int32{}
	for i, d := range docs {
		clear(tf)
		words := Words(d)
		for _, w := range words {
			tf[w]++
		}
		// Terms in first-seen order, so postings do not depend on map order.
		for _, w := range words {
			if n := tf[w]; n > 0 {
				m.postings[w] = append(m.postings[w], posting{int32(i), n})
				tf[w] = 0
			}
		}
		m.lens[i] = int32(len(words))
		total += len(words)
	}
	if len(docs) > 0 {
		m.avgLen = float64(total) / float64(len(docs))
	}
	return m
}

// Len is the number of indexed texts.
func (m *BM25) Len() int { return len(m.lens) }

// Scored is a text's index and score.
type Scored struct {
	Index int
	Score float64
}

// Search returns the k best texts for the query, best first, ties to the
// lower index; k <= 0 returns every text that matches. Only texts sharing
// a term with the query are returned; a query of stop words alone matches
// nothing unless KeepStopWords is set.
func (m *BM25) Search(query string, k int) []Scored {
	n := float64(len(m.lens))
	scores := map[int32]float64{}
	var terms []string
	for _, w := range Words(query) {
		if (m.keepStop || !stopWords[w]) && !slices.Contains(terms, w) {
			terms = append(terms, w)
		}
	}
	for _, w := range terms {
		ps := m.postings[w]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			tf := float64(p.tf)
			norm := 1 - m.b
			if m.avgLen > 0 {
				norm += m.b * float64(m.lens[p.doc]) / m.avgLen
			}
			scores[p.doc] += idf * tf * (m.k1 + 1) / (tf + m.k1*norm)
		}
	}
	out := make([]Scored, 0, len(scores))
	for d, s := range scores {
		out = append(out, Scored{int(d), s})
	}
	slices.SortFunc(out, func(a, b Scored) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Index, b.Index))
	})
	if k > 0 && len(out) > k {
		out = out[:k]
	}
	return out
}
