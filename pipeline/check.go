package pipeline

import "fmt"

// CheckMentions reports the first mention that does not lie inside its
// document or whose Text is not the document's text at its offsets. Stages
// run it on their output, so no table ever holds an offset that downstream
// users cannot slice with.
func CheckMentions(docs []Document, ms []Mention) error {
	byID := make(map[string]int, len(docs))
	for i, d := range docs {
		byID[d.ID] = i
	}
	runes := make(map[int][]rune)
	for _, m := range ms {
		i, ok := byID[m.DocID]
		if !ok {
			return fmt.Errorf("mention %q: unknown document %q", m.Text, m.DocID)
		}
		rs, ok := runes[i]
		if !ok {
			rs = []rune(docs[i].Text)
			runes[i] = rs
		}
		if m.Start < 0 || m.End <= m.Start || m.End > len(rs) {
			return fmt.Errorf("mention %q in %s: offsets [%d, %d) outside a text of %d code points", m.Text, m.DocID, m.Start, m.End, len(rs))
		}
		if got := string(rs[m.Start:m.End]); got != m.Text {
			return fmt.Errorf("mention %q in %s: text at [%d, %d) is %q", m.Text, m.DocID, m.Start, m.End, got)
		}
	}
	return nil
}
