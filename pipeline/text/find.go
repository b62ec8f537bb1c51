package text

import (
	"strings"
	"unicode/utf8"
)

// Find returns every occurrence of sub in s that starts and ends at a word
// boundary, as code point spans in order. Occurrences may overlap. It is how
// a model's mention string is put back on the text: "art" is not found in
// "party", but "Obama" is found in "Obama-era" and "John" in "John's".
// An empty sub is found nowhere.
func Find(s, sub string) []Span {
	if sub == "" {
		return nil
	}
	var out []Span
	n := utf8.RuneCountInString(sub)
	pos, runes := 0, 0 // byte offset scanned so far and its code point count
	for {
		i := strings.Index(s[pos:], sub)
		if i < 0 {
			return out
		}
		i += pos
		runes += utf8.RuneCountInString(s[pos:i])
		if Boundary(s, i) && Boundary(s, i+len(sub)) {
			out = append(out, Span{runes, runes + n})
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		pos = i + w
		runes++
	}
}

// Boundary reports whether byte offset i of s lies between two words: at
// either end of s, next to white space, punctuation or a symbol, or between
// two characters of a script written without spaces. It never lies inside a
// word, before a combining mark or inside an emoji sequence.
func Boundary(s string, i int) bool {
	if i <= 0 || i >= len(s) {
		return true
	}
	prev, _ := utf8.DecodeLastRuneInString(s[:i])
	next, _ := utf8.DecodeRuneInString(s[i:])
	cp, cn := classify(prev), classify(next)
	switch {
	case cn == mark || cn == joiner || cp == joiner:
		return false
	case cp == ideo || cn == ideo:
		return true
	}
	word := func(c class) bool { return c == letter || c == digit || c == mark }
	return !(word(cp) && word(cn))
}
