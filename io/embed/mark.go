package embed

import "strings"

// The tags Mark puts around a mention.
const (
	MarkOpen  = "<m>"
	MarkClose = "</m>"
)

// Mark returns m.Text with the mention wrapped in MarkOpen and MarkClose,
// the template an embeddings endpoint sees: "in <m>Paris</m> today". The
// offsets count code points. A span that does not fit the text (Start < 0,
// End < Start or End past the end) is not guessed at: Mark returns the text
// unchanged, and Valid reports such spans. An empty span inserts the two
// tags side by side.
func Mark(m Mention) string {
	a, b, ok := byteSpan(m)
	if !ok {
		return m.Text
	}
	var sb strings.Builder
	sb.Grow(len(m.Text) + len(MarkOpen) + len(MarkClose))
	sb.WriteString(m.Text[:a])
	sb.WriteString(MarkOpen)
	sb.WriteString(m.Text[a:b])
	sb.WriteString(MarkClose)
	sb.WriteString(m.Text[b:])
	return sb.String()
}

// Valid reports whether m's span lies within its text.
func Valid(m Mention) bool {
	_, _, ok := byteSpan(m)
	return ok
}

// byteSpan converts m's code point span to byte offsets, scanning the text
// only up to the span's end.
func byteSpan(m Mention) (start, end int, ok bool) {
	if m.Start < 0 || m.End < m.Start {
		return 0, 0, false
	}
	start, end = -1, -1
	n := 0 // code points before byte offset i
	for i := range m.Text {
		if n == m.Start {
			start = i
		}
		if n == m.End {
			end = i
			break
		}
		n++
	}
	if end < 0 && n == m.End {
		end = len(m.Text)
	}
	if start < 0 && n == m.Start {
		start = len(m.Text)
	}
	if start < 0 || end < 0 {
		return 0, 0, false
	}
	return start, end, true
}
