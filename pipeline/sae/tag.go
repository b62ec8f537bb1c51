package sae

import (
	"context"
	"fmt"
	"math"
)

// Tagger tags texts with a map over the features of a source. It is safe
// for concurrent use if its source is.
type Tagger struct {
	m   *Map
	src Source
}

// NewTagger returns a tagger of m over src, the source m was estimated
// from.
func NewTagger(m *Map, src Source) *Tagger { return &Tagger{m: m, src: src} }

// Tag returns each text's entity spans, with a score per span: the mean,
// over its tokens, of the winning class's share of the token's evidence
// (its probability under the product decoder, its precision under max).
func (t *Tagger) Tag(ctx context.Context, texts []string) ([][]Span, [][]float64, error) {
	spans := make([][]Span, len(texts))
	scores := make([][]float64, len(texts))
	var buf decodeBuf
	if l, ok := t.src.(*Local); ok {
		// The local source builds one text at a time in reused buffers.
		sc := scratch{reuse: true}
		for i, s := range texts {
			if i%256 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
			}
			spans[i], scores[i] = t.m.decode(l.tokens(s, &sc), &buf)
		}
		return spans, scores, nil
	}
	for lo := 0; lo < len(texts); lo += t.m.opt.Batch {
		hi := min(lo+t.m.opt.Batch, len(texts))
		toks, err := t.src.Features(ctx, texts[lo:hi])
		if err != nil {
			return nil, nil, fmt.Errorf("sae: tag texts %d-%d: %w", lo, hi-1, err)
		}
		if len(toks) != hi-lo {
			return nil, nil, fmt.Errorf("sae: tag texts %d-%d: %d answers for %d texts", lo, hi-1, len(toks), hi-lo)
		}
		for i, ts := range toks {
			spans[lo+i], scores[lo+i] = t.m.decode(ts, &buf)
		}
	}
	return spans, scores, nil
}

// decodeBuf is reused across the texts of one Tag call.
type decodeBuf struct {
	score []float32
	cls   []int
	conf  []float32
}

// Decode returns the spans of one text's tokens and their scores.
func (m *Map) Decode(toks []Token) ([]Span, []float64) {
	var buf decodeBuf
	return m.decode(toks, &buf)
}

func (m *Map) decode(toks []Token, buf *decodeBuf) ([]Span, []float64) {
	k := len(m.classes)
	if cap(buf.score) < k {
		buf.score = make([]float32, k)
	}
	sc := buf.score[:k]
	buf.cls, buf.conf = buf.cls[:0], buf.conf[:0]
	for _, t := range toks {
		c, conf := m.classify(t.Feats, sc)
		buf.cls = append(buf.cls, c)
		buf.conf = append(buf.conf, conf)
	}
	return m.spans(toks, buf.cls, buf.conf)
}

// weights returns the n class weights of an active feature the map knows;
// false for a feature too weak to count or unknown to the map.
func (m *Map) weights(f Feature, n int) ([]float32, bool) {
	if f.Act <= m.opt.MinAct {
		return nil, false
	}
	o, ok := m.index[f.ID]
	if !ok {
		return nil, false
	}
	return m.w[o : int(o)+n], true
}

// classify returns a token's class and the confidence in it.
func (m *Map) classify(fs []Feature, sc []float32) (int, float32) {
	if m.opt.Decode == DecodeMax {
		best, bc := float32(0), 0
		for _, f := range fs {
			ws, ok := m.weights(f, len(sc))
			if !ok {
				continue
			}
			for c, w := range ws {
				if w > best {
					best, bc = w, c
				}
			}
		}
		return bc, best
	}
	copy(sc, m.logPri)
	for _, f := range fs {
		ws, ok := m.weights(f, len(sc))
		if !ok {
			continue
		}
		for c := range sc {
			sc[c] += ws[c]
		}
	}
	bc := 0
	for c := range sc {
		if sc[c] > sc[bc] {
			bc = c
		}
	}
	// The winner's probability, from the log scores, is computed only for
	// entity tokens: O tokens need no score.
	if bc == 0 {
		return 0, 0
	}
	var z float64
	for _, s := range sc {
		z += exp32(s - sc[bc])
	}
	return bc, float32(1 / z)
}

// exp32 is exp for scores relative to the maximum (x <= 0), cut at -30
// where it no longer matters.
func exp32(x float32) float64 {
	if x < -30 {
		return 0
	}
	return math.Exp(float64(x))
}

// spans reads BIO classes as conlleval does.
func (m *Map) spans(toks []Token, cls []int, conf []float32) ([]Span, []float64) {
	var out []Span
	var scores []float64
	open := -1 // index in out of the span being built
	var sum float64
	var n int
	closeSpan := func() {
		if open >= 0 {
			scores = append(scores, sum/float64(n))
		}
		open = -1
	}
	for i, c := range cls {
		if c == 0 {
			closeSpan()
			continue
		}
		t := m.typeOf[c]
		if m.inside[c] && open >= 0 && out[open].Label == t {
			out[open].End = toks[i].End
			sum += float64(conf[i])
			n++
			continue
		}
		closeSpan()
		out = append(out, Span{Start: toks[i].Start, End: toks[i].End, Label: t})
		open, sum, n = len(out)-1, float64(conf[i]), 1
	}
	closeSpan()
	return out, scores
}
