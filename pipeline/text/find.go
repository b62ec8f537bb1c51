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

// FindLoose returns the occurrences of sub in s that are written
// differently, as a model copying a tokenized passage writes them: white
// space next to punctuation or a symbol does not count ("People's" is
// found in "People 's", "U.S." in "U. S.", "(BBC)" in "( BBC )" and the
// other way round), a run of white space is one space, and quotes are
// compared by kind: ‘ ’ ´ ` are ', and “ ” and a doubled ' or ` are ".
// Letters are compared exactly, so "New York" is not "NewYork".
//
// As with Find, each match starts and ends at a word boundary of s and is a
// code point span of s, in order; it starts and ends on a character of s,
// never on white space. It is the fallback for when Find finds nothing:
// Find is exact, cheaper, and what a model that copies well is held to.
func FindLoose(s, sub string) []Span {
	want, _ := loosen(sub)
	if want == "" {
		return nil
	}
	norm, at := loosen(s)
	n := utf8.RuneCountInString(want)
	var out []Span
	var o *RuneOffsets // built at the first match: most calls find none
	pos, k := 0, 0     // byte offset in norm scanned so far and its code point count
	for {
		i := strings.Index(norm[pos:], want)
		if i < 0 {
			return out
		}
		i += pos
		k += utf8.RuneCountInString(norm[pos:i])
		start, last := at[k], at[k+n-1]
		_, w := looseRune(s, last)
		if end := last + w; Boundary(s, start) && Boundary(s, end) {
			if o == nil {
				o = NewRuneOffsets(s)
			}
			out = append(out, Span{o.Rune(start), o.Rune(end)})
		}
		_, w = utf8.DecodeRuneInString(norm[i:])
		pos = i + w
		k++
	}
}

// loosen returns s as FindLoose compares it, and the byte offset in s of
// each of its code points. White space at either end and next to
// punctuation or a symbol is left out; any other run of it is one space,
// whose offset is the run's start. A byte that is not UTF-8 becomes U+FFFD.
func loosen(s string) (string, []int) {
	var b strings.Builder
	b.Grow(len(s))
	at := make([]int, 0, len(s))
	prev := rune(-1) // the last code point written; -1 before the first
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if classify(r) != space {
			r, w = looseRune(s, i)
			b.WriteRune(r)
			at = append(at, i)
			prev = r
			i += w
			continue
		}
		j := i + w
		for j < len(s) {
			r, w := utf8.DecodeRuneInString(s[j:])
			if classify(r) != space {
				break
			}
			j += w
		}
		if prev >= 0 && j < len(s) {
			next, _ := looseRune(s, j)
			if classify(prev) != other && classify(next) != other {
				b.WriteByte(' ')
				at = append(at, i)
				prev = ' '
			}
		}
		i = j
	}
	return b.String(), at
}

// looseRune returns the code point at byte offset i of s as FindLoose
// compares it, and how many bytes of s it stands for: one code point, or
// two for a doubled ' or ` (the closing and opening quotes of tokenized
// English text).
func looseRune(s string, i int) (rune, int) {
	r, w := utf8.DecodeRuneInString(s[i:])
	switch r {
	case '\'', '`':
		if i+1 < len(s) && s[i+1] == s[i] {
			return '"', 2
		}
		return '\'', 1
	case '\u2018', '\u2019', '\u00b4': // ‘ ’ ´
		return '\'', w
	case '\u201c', '\u201d': // “ ”
		return '"', w
	}
	return r, w
}
