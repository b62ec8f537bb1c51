// Package silver turns a run's annotations into silver training data for a
// small, fast NER model: which mentions to keep, how documents are split
// into train and dev, and the BIO, JSONL and tokens + tag ids layouts. It is
// plain Go: no storage, no Temporal.
//
// Units. BIO and the tag-id layout are per sentence: a document is cut with
// pipeline/text.Sentences and tokenized with pipeline/text.Tokenize, and a
// sentence's id is "<doc id>@<n>", n counting from 1. JSONL is per
// document, with the mentions' code point offsets as they are.
//
// Tags are IOB2. A mention that does not start and end on token boundaries
// is snapped to the tokens it overlaps ("Obama" in "Obama-era" tags the
// whole token); of mentions that overlap after snapping, the one starting
// first, then the longest, is kept (pipeline/eval.Tags). A mention that
// runs over a sentence end continues into the next sentence with a B- tag.
package silver

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/pipeline/sam"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Filter says which mentions are kept.
type Filter struct {
	MinScore float64 `json:"min_score"` // drop mentions scoring below
	MinVotes int     `json:"min_votes"` // drop mentions with fewer votes
	// SeedFree: the schema's gazetteer (the user's seed names) does not
	// vote, and a mention only the gazetteer proposed is dropped, so the
	// data holds what the extractors found.
	SeedFree bool `json:"seed_free"`
}

// Votes is the number of extractors that proposed m; a mention with none
// recorded has one. With seedFree the gazetteer is not counted.
func Votes(m pipeline.Mention, seedFree bool) int {
	if len(m.Extractors) == 0 {
		return 1
	}
	n := 0
	for _, e := range m.Extractors {
		if !seedFree || e != sam.Gazetteer {
			n++
		}
	}
	return n
}

// Keep reports whether f keeps m.
func (f Filter) Keep(m pipeline.Mention) bool {
	v := Votes(m, f.SeedFree)
	return m.Score >= f.MinScore && v >= f.MinVotes && v > 0
}

// Dev reports whether a document belongs to the dev split: the first 8
// bytes of sha256(docID), big-endian, as a fraction of 2^64, are below
// share. The split depends on the id alone, so it is the same in every
// export and a document never changes sides when the corpus grows.
func Dev(docID string, share float64) bool {
	h := sha256.Sum256([]byte(docID))
	return float64(binary.BigEndian.Uint64(h[:8])) < share*(1<<64)
}

// Sentence is one training example: tokens and their IOB2 tags.
type Sentence struct {
	ID     string
	Tokens []string
	Tags   []string
}

// Sentences cuts doc into sentences of tokens tagged with ms, the mentions
// to keep. A document without text has none.
func Sentences(doc pipeline.Document, ms []pipeline.Mention) []Sentence {
	toks := text.Tokenize(doc.Text)
	spans := make([]eval.Span, len(ms))
	for i, m := range ms {
		spans[i] = eval.Span{Start: m.Start, End: m.End, Label: m.Label}
	}
	tags := eval.Tags(toks, spans)
	var out []Sentence
	k := 0
	for _, s := range text.Sentences(doc.Text) {
		sent := Sentence{ID: doc.ID + "@" + strconv.Itoa(len(out)+1)}
		// Tokens never hold white space, and sentences lose only white
		// space at their ends, so every token is in a sentence.
		for ; k < len(toks) && toks[k].Start < s.End; k++ {
			sent.Tokens = append(sent.Tokens, toks[k].Text)
			sent.Tags = append(sent.Tags, tags[k])
		}
		if len(sent.Tokens) == 0 {
			continue
		}
		if l, ok := strings.CutPrefix(sent.Tags[0], "I-"); ok {
			sent.Tags[0] = "B-" + l
		}
		out = append(out, sent)
	}
	return out
}

// WriteBIO writes sentences as CoNLL columns, "token<TAB>tag", with a blank
// line after each sentence: what io/corpus.ReadBIO and most NER trainers
// read.
func WriteBIO(w io.Writer, sents []Sentence) error {
	bw := bufio.NewWriter(w)
	for _, s := range sents {
		for i, t := range s.Tokens {
			bw.WriteString(t)
			bw.WriteByte('\t')
			bw.WriteString(s.Tags[i])
			bw.WriteByte('\n')
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// Span is a mention in the JSONL layout.
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Label string `json:"label"`
	Text  string `json:"text"`
}

// jsonDoc is one line of the JSONL layout.
type jsonDoc struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Spans []Span `json:"spans"`
}

// WriteJSONL writes doc as one JSON line: {"id", "text", "spans"}, spans
// being {"start", "end", "label", "text"} with code point offsets, half-open
// (Python's text[start:end] is the span's text), sorted by offsets.
func WriteJSONL(w io.Writer, doc pipeline.Document, ms []pipeline.Mention) error {
	d := jsonDoc{ID: doc.ID, Text: doc.Text, Spans: make([]Span, len(ms))}
	for i, m := range ms {
		d.Spans[i] = Span{Start: m.Start, End: m.End, Label: m.Label, Text: m.Text}
	}
	slices.SortFunc(d.Spans, func(a, b Span) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), strings.Compare(a.Label, b.Label))
	})
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// LabelMap numbers IOB2 tags for the tag-id layout: 0 is "O", then "B-l"
// and "I-l" for each label l in order.
type LabelMap struct {
	tags []string
	ids  map[string]int32
}

// NewLabelMap numbers the tags of labels, in their order.
func NewLabelMap(labels []string) *LabelMap {
	m := &LabelMap{tags: []string{"O"}, ids: map[string]int32{"O": 0}}
	for _, l := range labels {
		for _, t := range []string{"B-" + l, "I-" + l} {
			if _, ok := m.ids[t]; !ok {
				m.ids[t] = int32(len(m.tags))
				m.tags = append(m.tags, t)
			}
		}
	}
	return m
}

// Tags returns the tags by id.
func (m *LabelMap) Tags() []string { return slices.Clone(m.tags) }

// IDs returns the ids of tags.
func (m *LabelMap) IDs(tags []string) ([]int32, error) {
	out := make([]int32, len(tags))
	for i, t := range tags {
		id, ok := m.ids[t]
		if !ok {
			return nil, fmt.Errorf("tag %q is not in the label map", t)
		}
		out[i] = id
	}
	return out, nil
}

// MarshalJSON writes the map as Hugging Face's id2label: {"0": "O",
// "1": "B-...", ...}, ids in order.
func (m *LabelMap) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, t := range m.tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, strconv.Itoa(i))
		b = append(b, ':')
		q, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		b = append(b, q...)
	}
	return append(b, '}'), nil
}
