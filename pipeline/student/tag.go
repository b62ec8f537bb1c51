package student

import (
	"github.com/zeroner/zeroner/pipeline/text"
)

// Tagger tags texts with a model, in buffers it reuses: nothing is
// allocated per token. It is not safe for concurrent use; a model can
// serve one Tagger per goroutine.
type Tagger struct {
	m     *Model
	x     *extractor
	d     *decoder
	toks  []text.Token
	vocab []int32 // per token of a sentence, its word's vector or -1
}

// Tagger returns a new tagger of m.
func (m *Model) Tagger() *Tagger {
	return &Tagger{m: m, x: newExtractor(m.bits, m.lex), d: newDecoder(m.cls.n())}
}

// Tag returns the entity spans of s, in order, and a score for each: the
// mean over its tokens of their class's softmax share of the token's
// scores (a confidence in [0, 1], not a calibrated probability).
func (t *Tagger) Tag(s string) ([]Span, []float64) {
	t.toks = t.toks[:0]
	for tok := range text.Tokens(s) {
		t.toks = append(t.toks, tok)
	}
	var spans []Span
	var scores []float64
	forSentences(s, t.toks, func(lo, hi int) {
		spans, scores = t.sentence(t.toks[lo:hi], spans, scores)
	})
	return spans, scores
}

// sentence tags one sentence and appends its spans and their scores.
func (t *Tagger) sentence(toks []text.Token, spans []Span, scores []float64) ([]Span, []float64) {
	m, d := t.m, t.d
	t.scores(toks)
	path := d.viterbi(m.tt, m.spread)
	open := -1 // index in spans of the span being read
	var sum float64
	var count int
	end := func() {
		if open >= 0 {
			scores = append(scores, sum/float64(count))
		}
		open = -1
	}
	for i, c := range path {
		if c == 0 {
			end()
			continue
		}
		p := d.confidence(i, m.tt)
		if c%2 == 0 && open >= 0 { // I-t: Viterbi put it after B-t or I-t
			spans[open].End = toks[i].End
			sum += p
			count++
			continue
		}
		end()
		typ, _ := m.cls.typeOf(int(c))
		spans = append(spans, Span{Start: toks[i].Start, End: toks[i].End, Label: typ})
		open, sum, count = len(spans)-1, p, 1
	}
	end()
	return spans, scores
}
