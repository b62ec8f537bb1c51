package sam

import (
	"slices"
	"strings"

	"github.com/zeroner/zeroner/pipeline/text"
)

// passage is a stretch of one document's text that a model sees whole.
type passage struct {
	doc        int // index of the document in the stage call
	start, end int // code point offsets in the document
	text       string
}

// estTokens estimates the tokens of s as a model would count them.
func estTokens(s string) int { return (len(s) + 3) / 4 }

// pieceOverlap is the most words that consecutive pieces of one over-long
// sentence share, so that a name cut by one piece is whole in the next.
const pieceOverlap = 16

// doc is a document's text with its code point index.
type doc struct {
	text string
	offs *text.RuneOffsets
}

func newDoc(s string) doc { return doc{s, text.NewRuneOffsets(s)} }

func (d doc) slice(sp text.Span) string { return d.text[d.offs.Byte(sp.Start):d.offs.Byte(sp.End)] }

func (d doc) bytes(start, end int) int { return d.offs.Byte(end) - d.offs.Byte(start) }

// discoverSpans cuts a document into the passages discovery asks about: the
// whole text when it fits in chunk tokens, else chunks of whole sentences
// overlapping by overlap sentences. Nothing is left out: every code point
// of the text that is not white space lies in some passage.
func discoverSpans(d doc, chunk, overlap int) []text.Span {
	if strings.TrimSpace(d.text) == "" {
		return nil
	}
	n := d.offs.Len()
	if estTokens(d.text) <= chunk {
		return []text.Span{{Start: 0, End: n}}
	}
	var units []text.Span
	for _, s := range text.Sentences(d.text) {
		units = append(units, cut(d, s, chunk*4, pieceOverlap, nil)...)
	}
	return group(d, units, chunk*4, overlap)
}

// group packs consecutive units into spans of at most budget bytes (a unit
// alone may not exceed it, cut sees to that), each sharing overlap units
// with the one before.
func group(d doc, units []text.Span, budget, overlap int) []text.Span {
	var out []text.Span
	for i := 0; i < len(units); {
		j := i
		for j+1 < len(units) && d.bytes(units[i].Start, units[j+1].End) <= budget {
			j++
		}
		out = append(out, text.Span{Start: units[i].Start, End: units[j].End})
		if j+1 >= len(units) {
			break
		}
		i = max(i+1, j+1-overlap)
	}
	return out
}

// cut splits span sp of d into pieces of at most budget bytes at word
// boundaries, consecutive pieces sharing up to overlap words. A cut never
// falls where inside(p) holds (inside a mention), unless no other cut
// exists. A single word longer than the budget is cut inside.
func cut(d doc, sp text.Span, budget, overlap int, inside func(p int) bool) []text.Span {
	if d.bytes(sp.Start, sp.End) <= budget {
		return []text.Span{sp}
	}
	toks := text.Tokenize(d.slice(sp))
	for k := range toks {
		toks[k].Start += sp.Start
		toks[k].End += sp.Start
	}
	ok := func(k int) bool { return inside == nil || !inside(toks[k].End) }
	var out []text.Span
	for a := 0; a < len(toks); {
		if d.bytes(toks[a].Start, toks[a].End) > budget {
			out = append(out, hardCut(d, text.Span{Start: toks[a].Start, End: toks[a].End}, budget)...)
			a++
			continue
		}
		b, last := a, -1 // last: the furthest allowed cut within budget
		for b < len(toks) && d.bytes(toks[a].Start, toks[b].End) <= budget {
			if ok(b) {
				last = b
			}
			b++
		}
		if last < 0 { // every cut in budget splits a mention: go past it
			for last = b; last < len(toks)-1 && !ok(last); last++ {
			}
			last = min(last, len(toks)-1)
		}
		out = append(out, text.Span{Start: toks[a].Start, End: toks[last].End})
		if last == len(toks)-1 {
			break
		}
		next := last + 1
		if overlap > 0 {
			next = max(a+1, last+1-min(overlap, (last-a+1)/4))
			for next > a+1 && inside != nil && inside(toks[next].Start) {
				next-- // do not start inside a mention
			}
		}
		a = next
	}
	return out
}

// hardCut splits a span with no word boundary into pieces of at most budget
// bytes at code point boundaries.
func hardCut(d doc, sp text.Span, budget int) []text.Span {
	var out []text.Span
	start := sp.Start
	for p := sp.Start + 1; p <= sp.End; p++ {
		if p == sp.End || d.bytes(start, p+1) > budget {
			out = append(out, text.Span{Start: start, End: p})
			start = p
		}
	}
	return out
}

// contextSpans cuts a document into the passages that give its mentions
// context for mediation and calibration: the whole text when it fits, else
// the sentences that hold mentions (merged where a mention crosses a
// sentence boundary, cut between mentions where too long). It returns the
// passages and, for each mention, the index of its passage. ms must be
// sorted by start.
func contextSpans(d doc, ms []text.Span, chunk int) ([]text.Span, []int) {
	where := make([]int, len(ms))
	n := d.offs.Len()
	if estTokens(d.text) <= chunk {
		return []text.Span{{Start: 0, End: n}}, where
	}
	// Units: sentences and mentions, merged where they overlap.
	units := append(text.Sentences(d.text), ms...)
	slices.SortFunc(units, func(a, b text.Span) int { return a.Start - b.Start })
	merged := units[:0:0]
	for _, u := range units {
		if k := len(merged) - 1; k >= 0 && u.Start < merged[k].End {
			merged[k].End = max(merged[k].End, u.End)
			continue
		}
		merged = append(merged, u)
	}
	inside := func(p int) bool {
		// A mention strictly around p; ms is sorted by start.
		k, _ := slices.BinarySearchFunc(ms, p, func(m text.Span, p int) int { return m.Start - p })
		for j := k - 1; j >= 0 && j >= k-64; j-- {
			if ms[j].Start < p && p < ms[j].End {
				return true
			}
		}
		return false
	}
	var out []text.Span
	mi := 0
	for _, u := range merged {
		first := mi
		for mi < len(ms) && ms[mi].Start < u.End {
			mi++
		}
		if mi == first {
			continue // no mention here
		}
		pieces := cut(d, u, chunk*4, 0, inside)
		for j := first; j < mi; j++ {
			k := 0
			for k+1 < len(pieces) && pieces[k+1].Start <= ms[j].Start {
				k++
			}
			where[j] = len(out) + k
		}
		out = append(out, pieces...)
	}
	return out, where
}

// pack groups units into requests of at most budget estimated tokens (cost
// gives a unit's), most units, and mostItems items (items gives a unit's;
// nil counts none). A unit over a limit gets a request of its own.
func pack(n int, cost, items func(i int) int, budget, most, mostItems int) [][]int {
	var out [][]int
	var cur []int
	used, held := 0, 0
	for i := range n {
		c, k := cost(i), 0
		if items != nil {
			k = items(i)
		}
		if len(cur) > 0 && (used+c > budget || len(cur) >= most || (items != nil && held+k > mostItems)) {
			out = append(out, cur)
			cur, used, held = nil, 0, 0
		}
		cur = append(cur, i)
		used += c
		held += k
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Answer budgets. A request's max_tokens is sized from the answer it
// expects, as a model that indents its JSON writes it (Llama and Qwen often
// do, and grammars allow it): about twice the passage's tokens for an
// anchor (each entity's text, label and punctuation), about as many for an
// explorer, about 20 tokens and the text for a mention of mediate or
// calibrate; then half again for a margin. An answer cut off anyway is
// split (ask).
func answerTokens(kind string, textTokens, passages, mentions int) int {
	var want int
	switch kind {
	case KindAnchor:
		want = 2*textTokens + 8*passages
	case KindExplorer:
		want = textTokens + 8*passages
	default:
		want = 20*mentions + textTokens
	}
	return max(256, (16+want)*3/2)
}

// halve cuts span sp of d into two spans of whole sentences, about half of
// them each, or returns nil for a single sentence: a passage whose answer
// does not fit is asked again in halves, down to one sentence.
func halve(d doc, sp text.Span) []text.Span {
	ss := text.Sentences(d.slice(sp))
	if len(ss) < 2 {
		return nil
	}
	h := len(ss) / 2
	return []text.Span{
		{Start: sp.Start + ss[0].Start, End: sp.Start + ss[h-1].End},
		{Start: sp.Start + ss[h].Start, End: sp.Start + ss[len(ss)-1].End},
	}
}
