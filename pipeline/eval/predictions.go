package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/zeroner/zeroner/pipeline/text"
)

// WriteBIO writes docs as CoNLL columns, "token<TAB>gold<TAB>predicted" with
// IOB2 tags and a blank line after each doc, the input conlleval and seqeval
// read. Tokens are the doc's text split at spaces (BIO corpora join their
// tokens with single spaces, so this gives the original tokens back).
//
// BIO cannot hold everything a span list can, so: a span tags every token
// it overlaps (a span inside a token grows to the token), and of spans
// that overlap (nested, or after growing), the one starting first, then
// the longest, is kept. The JSONL output keeps the spans as they are.
func WriteBIO(w io.Writer, docs []Doc) error {
	bw := bufio.NewWriter(w)
	for _, d := range docs {
		toks := tokens(d.Text)
		gold, pred := Tags(toks, d.Gold), Tags(toks, d.Pred)
		for i, t := range toks {
			fmt.Fprintf(bw, "%s\t%s\t%s\n", t.Text, gold[i], pred[i])
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// tokens are the pieces of s between spaces.
func tokens(s string) []text.Token {
	var out []text.Token
	pos := 0
	for _, f := range strings.Split(s, " ") {
		n := utf8.RuneCountInString(f)
		if f != "" {
			out = append(out, text.Token{Text: f, Start: pos, End: pos + n})
		}
		pos += n + 1
	}
	return out
}

// Tags turns spans into one IOB2 tag per token, as WriteBIO says: a span
// tags every token it overlaps, and of spans that overlap (after growing to
// whole tokens) the one starting first, then the longest, is kept. Tokens
// are in text order and do not overlap.
func Tags(toks []text.Token, spans []Span) []string {
	out := make([]string, len(toks))
	for i := range out {
		out[i] = "O"
	}
	sorted := append([]Span(nil), spans...)
	sort.SliceStable(sorted, func(a, b int) bool {
		if sorted[a].Start != sorted[b].Start {
			return sorted[a].Start < sorted[b].Start
		}
		return sorted[a].End > sorted[b].End
	})
	for _, s := range sorted {
		i := sort.Search(len(toks), func(k int) bool { return toks[k].End > s.Start })
		j := i
		for j < len(toks) && toks[j].Start < s.End {
			j++
		}
		if i == j || slices.ContainsFunc(out[i:j], func(t string) bool { return t != "O" }) {
			continue // covers no token, or overlaps a span already placed
		}
		out[i] = "B-" + s.Label
		for k := i + 1; k < j; k++ {
			out[k] = "I-" + s.Label
		}
	}
	return out
}

// jsonDoc is one line of the JSONL predictions.
type jsonDoc struct {
	ID    string     `json:"id"`
	Text  string     `json:"text"`
	Spans []jsonSpan `json:"spans"`
	Gold  []jsonSpan `json:"gold"`
}

type jsonSpan struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Label string `json:"label"`
	Text  string `json:"text"`
}

// WriteJSONL writes one JSON object per doc: {"id", "text", "spans",
// "gold"}, spans being {"start", "end", "label", "text"} with code point
// offsets, half-open (Python's text[start:end] is the span's text), sorted
// by offset. "spans" are the predictions, as given.
func WriteJSONL(w io.Writer, docs []Doc) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		runes := []rune(d.Text)
		conv := func(spans []Span) []jsonSpan {
			out := make([]jsonSpan, 0, len(spans))
			for _, s := range spans {
				js := jsonSpan{Start: s.Start, End: s.End, Label: s.Label}
				if 0 <= s.Start && s.Start <= s.End && s.End <= len(runes) {
					js.Text = string(runes[s.Start:s.End])
				}
				out = append(out, js)
			}
			sort.SliceStable(out, func(a, b int) bool {
				if out[a].Start != out[b].Start {
					return out[a].Start < out[b].Start
				}
				return out[a].End < out[b].End
			})
			return out
		}
		if err := enc.Encode(jsonDoc{ID: d.ID, Text: d.Text, Spans: conv(d.Pred), Gold: conv(d.Gold)}); err != nil {
			return err
		}
	}
	return bw.Flush()
}
