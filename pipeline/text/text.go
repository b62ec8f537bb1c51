// Package text splits a string into tokens and sentences. Every offset it
// returns counts Unicode code points, half-open [Start, End), as
// pipeline.Mention does.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Token is a word, number, punctuation mark or symbol of a text.
type Token struct {
	Text       string
	Start, End int // code point offsets
}

// Span is a code point range [Start, End) of a text.
type Span struct {
	Start, End int
}

// class is the coarse kind of one rune, as the tokenizer sees it.
type class uint8

const (
	space class = iota
	letter
	digit
	mark // combining marks: they stick to the rune before them
	ideo // scripts written without spaces: one token per character
	joiner
	other // punctuation and symbols
)

func classify(r rune) class {
	if r < 0x80 { // fast path: most text is ASCII
		switch {
		case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
			return letter
		case '0' <= r && r <= '9':
			return digit
		case r == ' ' || '\t' <= r && r <= '\r':
			return space
		}
		return other
	}
	switch {
	case r == '\u200d':
		return joiner
	case unicode.IsSpace(r) || r == '\u200b':
		return space
	case unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Thai, r):
		return ideo
	case unicode.IsLetter(r):
		return letter
	case unicode.IsDigit(r) || unicode.IsNumber(r):
		return digit
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Mc, r) ||
		(r >= 0x1f3fb && r <= 0x1f3ff): // emoji skin tones modify the rune before
		return mark
	}
	return other
}

func isApostrophe(r rune) bool { return r == '\'' || r == '\u2019' }
func isHyphen(r rune) bool     { return r == '-' || r == '\u2010' || r == '\u2011' }

// abbrevs are words that end in a period which does not end a sentence.
// Compared in lower case, without the final period.
var abbrevs = map[string]bool{
	"dr": true, "mr": true, "mrs": true, "ms": true, "prof": true, "sr": true,
	"jr": true, "st": true, "mt": true, "ft": true, "gen": true, "col": true,
	"lt": true, "sgt": true, "capt": true, "gov": true, "sen": true, "rep": true,
	"rev": true, "hon": true, "pres": true, "inc": true, "ltd": true, "co": true,
	"corp": true, "bros": true, "vs": true, "etc": true, "approx": true,
	"no": true, "vol": true, "pp": true, "fig": true, "ca": true, "cf": true,
	"al": true, "ed": true, "eds": true, "jan": true, "feb": true, "mar": true,
	"apr": true, "jun": true, "jul": true, "aug": true, "sep": true, "sept": true,
	"oct": true, "nov": true, "dec": true, "dept": true, "univ": true, "assn": true,
	"ave": true, "blvd": true, "op": true, "esp": true,
}

// IsAbbrev reports whether w (with or without its final period) is a known
// abbreviation, a dotted initialism such as "U.S." or "e.g.", or a single
// letter initial such as "J.".
func IsAbbrev(w string) bool {
	w = strings.TrimSuffix(w, ".")
	if w == "" {
		return false
	}
	if abbrevs[strings.ToLower(w)] {
		return true
	}
	if utf8.RuneCountInString(w) == 1 {
		r, _ := utf8.DecodeRuneInString(w)
		return unicode.IsLetter(r)
	}
	// Dotted initialism: runs of one or two letters separated by single
	// periods ("U.S", "e.g", "Ph.D").
	seg := 0
	for _, r := range w {
		if r == '.' {
			if seg == 0 {
				return false
			}
			seg = 0
			continue
		}
		if !unicode.IsLetter(r) || seg == 2 {
			return false
		}
		seg++
	}
	return strings.Contains(w, ".")
}

// Tokenize splits s into tokens. Words keep inner apostrophes ("don't",
// "O'Brien"), hyphens ("Wright-Patterson") and combining marks; numbers keep
// inner separators ("1,800", "3.14"); dotted abbreviations ("U.S.", "e.g.",
// "Dr.") keep their periods; every CJK character and every other
// punctuation mark or symbol is its own token, except that emoji sequences
// joined by ZWJ, variation selectors or skin tones stay whole.
func Tokenize(s string) []Token {
	rs := []rune(s)
	toks := make([]Token, 0, len(rs)/4+1)
	n := len(rs)
	for i := 0; i < n; {
		c := classify(rs[i])
		start := i
		switch c {
		case space:
			i++
			continue
		case letter, digit:
			i = wordEnd(rs, i)
		case other:
			if k := clitic(rs, i); k > 0 {
				i += k
				break
			}
			i = symbolEnd(rs, i)
		case ideo:
			i++
			for i < n && classify(rs[i]) == mark {
				i++
			}
		default:
			i = symbolEnd(rs, i)
		}
		toks = append(toks, Token{Text: string(rs[start:i]), Start: start, End: i})
	}
	return toks
}

// symbolEnd returns the end of the symbol at i with what modifies it:
// combining marks, variation selectors, skin tones and ZWJ sequences.
func symbolEnd(rs []rune, i int) int {
	n := len(rs)
	i++
	for i < n {
		k := classify(rs[i])
		if k == mark {
			i++
			continue
		}
		if k == joiner && i+1 < n && classify(rs[i+1]) == other {
			i += 2
			continue
		}
		break
	}
	return i
}

// clitics are the English endings split off a word: "John's" is "John" and
// "'s", so the name ends where the possessive begins.
var clitics = []string{"s", "S", "ll", "re", "ve", "d", "m", "t"}

// clitic returns the length of an apostrophe clitic at i ("'s", "'ll"), or 0.
func clitic(rs []rune, i int) int {
	if !isApostrophe(rs[i]) {
		return 0
	}
	for _, c := range clitics {
		j := i + 1 + len(c)
		if j > len(rs) || string(rs[i+1:j]) != c {
			continue
		}
		if j == len(rs) || (classify(rs[j]) != letter && classify(rs[j]) != digit) {
			return 1 + len(c)
		}
	}
	return 0
}

// wordEnd returns the end of the word or number starting at i.
func wordEnd(rs []rune, i int) int {
	n := len(rs)
	start := i
	for i < n {
		k := classify(rs[i])
		if k == letter || k == digit || k == mark {
			i++
			continue
		}
		if i+1 < n {
			r, next := rs[i], classify(rs[i+1])
			prev := classify(rs[i-1])
			alnum := next == letter || next == digit
			switch {
			case isApostrophe(r) && clitic(rs, i) == 2 && (rs[i+1] == 's' || rs[i+1] == 'S'):
				// possessive: stop before "'s"
			case (isApostrophe(r) || isHyphen(r)) && alnum && prev != digit:
				i++
				continue
			case isHyphen(r) && alnum:
				i++
				continue
			case (r == ',' || r == '.') && prev == digit && next == digit:
				i++
				continue
			}
		}
		break
	}
	// A final period belongs to an abbreviation ("Dr.", "U.S.", "e.g.").
	if i < n && rs[i] == '.' {
		j := i + 1
		// Extend over dotted initials: "U.S." "e.g." "Ph.D."
		for j+1 < n && classify(rs[j]) == letter && rs[j+1] == '.' {
			j += 2
		}
		if j > i+1 || IsAbbrev(string(rs[start:i])) {
			return j
		}
	}
	return i
}

// Sentences splits s into sentences, returned as code point spans with the
// surrounding white space trimmed. A sentence ends at ".", "!", "?", "…" or
// their CJK forms when followed by white space (or the end) and not part of
// an abbreviation, and at a blank line.
func Sentences(s string) []Span {
	rs := []rune(s)
	var out []Span
	n := len(rs)
	emit := func(a, b int) {
		for a < b && classify(rs[a]) == space {
			a++
		}
		for b > a && classify(rs[b-1]) == space {
			b--
		}
		if a < b {
			out = append(out, Span{a, b})
		}
	}
	start := 0
	for i := 0; i < n; i++ {
		r := rs[i]
		switch {
		case r == '\n' && i+1 < n && blankLineAt(rs, i+1):
			emit(start, i)
			start = i + 1
		case r == '。' || r == '！' || r == '？':
			j := closeEnd(rs, i+1)
			emit(start, j)
			start = j
			i = j - 1
		case r == '.' || r == '!' || r == '?' || r == '…':
			j := closeEnd(rs, i+1)
			for j < n && (rs[j] == '.' || rs[j] == '!' || rs[j] == '?') {
				j = closeEnd(rs, j+1)
			}
			if j < n && classify(rs[j]) != space {
				continue // "3.14", "U.S.A", "example.com"
			}
			if r == '.' && j == i+1 && abbrevBefore(rs, i) && !nextIsStart(rs, j) {
				continue
			}
			emit(start, j)
			start = j
			i = j - 1
		}
	}
	emit(start, n)
	return out
}

// blankLineAt reports whether only spaces come before the next newline.
func blankLineAt(rs []rune, i int) bool {
	for ; i < len(rs); i++ {
		if rs[i] == '\n' {
			return true
		}
		if classify(rs[i]) != space {
			return false
		}
	}
	return false
}

// closeEnd skips closing quotes and brackets after a sentence end.
func closeEnd(rs []rune, i int) int {
	for i < len(rs) && strings.ContainsRune("\"'”’)]」』", rs[i]) {
		i++
	}
	return i
}

// abbrevBefore reports whether the period at i ends an abbreviation.
func abbrevBefore(rs []rune, i int) bool {
	j := i
	for j > 0 && (classify(rs[j-1]) == letter || rs[j-1] == '.') {
		j--
	}
	return j < i && IsAbbrev(string(rs[j:i]))
}

// nextIsStart reports whether the text after an abbreviation clearly starts a
// new sentence. Only a single initial followed by a capital stays joined
// ("J. Smith"), and so do titles ("Dr. Who"); after "etc." or "U.S." a
// capitalised function word starts a sentence.
func nextIsStart(rs []rune, j int) bool {
	for j < len(rs) && classify(rs[j]) == space {
		j++
	}
	if j >= len(rs) {
		return true
	}
	k := j
	for k < len(rs) && classify(rs[k]) == letter {
		k++
	}
	w := string(rs[j:k])
	return sentenceStarters[w]
}

// sentenceStarters are capitalised words that almost always begin a sentence.
var sentenceStarters = map[string]bool{
	"The": true, "This": true, "That": true, "These": true, "Those": true,
	"He": true, "She": true, "It": true, "They": true, "We": true, "I": true,
	"In": true, "On": true, "At": true, "However": true, "But": true,
	"There": true, "His": true, "Her": true, "Its": true, "Their": true,
	"A": true, "An": true, "After": true, "When": true, "Although": true,
}

// RuneOffsets converts between byte and code point offsets of one string.
// Build it once per string when converting many offsets.
type RuneOffsets struct {
	bytes []int // bytes[k] is the byte offset of code point k; last is len(s)
}

// NewRuneOffsets indexes s.
func NewRuneOffsets(s string) *RuneOffsets {
	b := make([]int, 0, len(s)+1)
	for i := range s {
		b = append(b, i)
	}
	b = append(b, len(s))
	return &RuneOffsets{bytes: b}
}

// Byte returns the byte offset of code point offset r, clamped to the string.
func (o *RuneOffsets) Byte(r int) int {
	if r < 0 {
		return 0
	}
	if r >= len(o.bytes) {
		return o.bytes[len(o.bytes)-1]
	}
	return o.bytes[r]
}

// Rune returns the code point offset of byte offset b; a byte inside a code
// point maps to that code point.
func (o *RuneOffsets) Rune(b int) int {
	lo, hi := 0, len(o.bytes)-1
	for lo < hi { // last k with bytes[k] <= b
		mid := (lo + hi + 1) / 2
		if o.bytes[mid] <= b {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Len returns the number of code points.
func (o *RuneOffsets) Len() int { return len(o.bytes) - 1 }

// Slice returns s[start:end] for code point offsets, clamped.
func Slice(s string, start, end int) string {
	o := NewRuneOffsets(s)
	return s[o.Byte(start):o.Byte(end)]
}
