package pipeline

import (
	"fmt"
	"unicode/utf8"

	"github.com/zeroner/zeroner/pipeline/text"
)

// CheckMentions reports the first mention that does not lie inside its
// document or whose Text is not the document's text at its offsets. Stages
// run it on their output, so no table ever holds an offset that downstream
// users cannot slice with.
func CheckMentions(docs []Document, ms []Mention) error {
	byID := make(map[string]int, len(docs))
	for i, d := range docs {
		byID[d.ID] = i
	}
	// Offsets are looked up in a sparse index of each text rather than in a
	// copy as []rune, which costs four bytes per code point: a shard may
	// hold a document of many megabytes.
	texts := make(map[int]runeText)
	for _, m := range ms {
		i, ok := byID[m.DocID]
		if !ok {
			return fmt.Errorf("mention %q: unknown document %q", m.Text, m.DocID)
		}
		t, ok := texts[i]
		if !ok {
			t = newRuneText(docs[i].Text)
			texts[i] = t
		}
		n := t.len()
		if m.Start < 0 || m.End <= m.Start || m.End > n {
			return fmt.Errorf("mention %q in %s: offsets [%d, %d) outside a text of %d code points", m.Text, m.DocID, m.Start, m.End, n)
		}
		if got := t.slice(m.Start, m.End); got != m.Text {
			return fmt.Errorf("mention %q in %s: text at [%d, %d) is %q", m.Text, m.DocID, m.Start, m.End, got)
		}
	}
	return nil
}

// runeText slices a text by code point offsets. A text with invalid UTF-8
// is sliced as []rune, which reads each bad byte as U+FFFD, as backends do.
type runeText struct {
	s    string
	offs *text.RuneOffsets // nil for invalid UTF-8
	rs   []rune
}

func newRuneText(s string) runeText {
	if utf8.ValidString(s) {
		return runeText{s: s, offs: text.NewRuneOffsets(s)}
	}
	return runeText{rs: []rune(s)}
}

func (t runeText) len() int {
	if t.offs != nil {
		return t.offs.Len()
	}
	return len(t.rs)
}

// slice returns the text of code points [start, end), which must lie inside.
func (t runeText) slice(start, end int) string {
	if t.offs != nil {
		return t.s[t.offs.Byte(start):t.offs.Byte(end)]
	}
	return string(t.rs[start:end])
}
