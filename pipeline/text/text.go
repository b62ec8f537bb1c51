// Package text splits a string into tokens and sentences. Every offset it
// returns counts Unicode code points, half-open [Start, End), as
// pipeline.Mention does.
package text

import (
	"iter"
	"slices"
	"sort"
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
	return slices.AppendSeq(make([]Token, 0, len(s)/4+1), Tokens(s))
}

// Tokens yields the tokens of s in order, as Tokenize returns them, without
// holding them all: a caller that keeps less of each token than a Token
// saves that much on a long document.
func Tokens(s string) iter.Seq[Token] {
	return func(yield func(Token) bool) {
		// No token holds or looks past white space, so the text is
		// tokenized one run of other code points at a time: a long
		// document is never held as []rune whole. A string with invalid
		// UTF-8 has each bad byte read as U+FFFD, as []rune does.
		valid := utf8.ValidString(s)
		var rs []rune // the current run, reused
		pos := 0      // code point offset of byte offset b
		for b := 0; b < len(s); {
			r, w := utf8.DecodeRuneInString(s[b:])
			if classify(r) == space {
				b += w
				pos++
				continue
			}
			start := b
			rs = rs[:0]
			for b < len(s) {
				r, w = utf8.DecodeRuneInString(s[b:])
				if classify(r) == space {
					break
				}
				rs = append(rs, r)
				b += w
			}
			if !runTokens(s[start:b], rs, pos, valid, yield) {
				return
			}
			pos += len(rs)
		}
	}
}

// runTokens yields the tokens of run, a text without white space at code
// point offset base, whose code points are rs, and reports whether yield
// wants more. A token's text is a slice of run, not a copy, unless run has
// invalid UTF-8: a document's tokens then cost their headers only.
func runTokens(run string, rs []rune, base int, valid bool, yield func(Token) bool) bool {
	n := len(rs)
	pos, b := 0, 0 // the code point at byte offset b of run
	for i := 0; i < n; {
		c := classify(rs[i])
		start := i
		switch c {
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
		var text string
		if valid {
			for ; pos < start; pos++ {
				b += utf8.RuneLen(rs[pos])
			}
			e := b
			for ; pos < i; pos++ {
				e += utf8.RuneLen(rs[pos])
			}
			text, b = run[b:e], e
		} else {
			text = string(rs[start:i])
		}
		if !yield(Token{Text: text, Start: base + start, End: base + i}) {
			return false
		}
	}
	return true
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
//
// It reads s in place, by byte offsets, and counts code points only for the
// spans it returns: a long document is never held as []rune. A byte that is
// not UTF-8 counts as one code point, as []rune reads it.
func Sentences(s string) []Span {
	var out []Span
	pos, runes := 0, 0 // a byte offset and the code points before it
	emit := func(a, b int) {
		for a < b {
			r, w := utf8.DecodeRuneInString(s[a:])
			if classify(r) != space {
				break
			}
			a += w
		}
		for b > a {
			r, w := utf8.DecodeLastRuneInString(s[a:b])
			if classify(r) != space {
				break
			}
			b -= w
		}
		if a < b {
			// Spans come in order, so the count only moves forward.
			runes += utf8.RuneCountInString(s[pos:a])
			start := runes
			runes += utf8.RuneCountInString(s[a:b])
			pos = b
			out = append(out, Span{start, runes})
		}
	}
	n := len(s)
	start := 0
	for i := 0; i < n; {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n' && i+w < n && blankLineAt(s, i+w):
			emit(start, i)
			start = i + w
		case r == '。' || r == '！' || r == '？':
			j := closeEnd(s, i+w)
			emit(start, j)
			start = j
			i = j
			continue
		case r == '.' || r == '!' || r == '?' || r == '…':
			j := closeEnd(s, i+w)
			for j < n && (s[j] == '.' || s[j] == '!' || s[j] == '?') {
				j = closeEnd(s, j+1)
			}
			if j < n {
				if r, _ := utf8.DecodeRuneInString(s[j:]); classify(r) != space {
					// "3.14", "U.S.A", "example.com". Every mark up to j
					// would come here too: go on from j, or a long run
					// of them would be read again from each one.
					i = j
					continue
				}
			}
			if r == '.' && j == i+w && abbrevBefore(s, i) && !nextIsStart(s, j) {
				break
			}
			emit(start, j)
			start = j
			i = j
			continue
		}
		i += w
	}
	emit(start, n)
	return out
}

// blankLineAt reports whether only spaces come before the next newline.
func blankLineAt(s string, i int) bool {
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == '\n' {
			return true
		}
		if classify(r) != space {
			return false
		}
		i += w
	}
	return false
}

// closeEnd skips closing quotes and brackets after a sentence end.
func closeEnd(s string, i int) int {
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if !strings.ContainsRune("\"'”’)]」』", r) {
			break
		}
		i += w
	}
	return i
}

// abbrevBefore reports whether the period at byte offset i ends an
// abbreviation.
func abbrevBefore(s string, i int) bool {
	j := i
	for j > 0 {
		r, w := utf8.DecodeLastRuneInString(s[:j])
		if classify(r) != letter && r != '.' {
			break
		}
		j -= w
	}
	return j < i && IsAbbrev(s[j:i])
}

// nextIsStart reports whether the text after an abbreviation clearly starts a
// new sentence. Only a single initial followed by a capital stays joined
// ("J. Smith"), and so do titles ("Dr. Who"); after "etc." or "U.S." a
// capitalised function word starts a sentence.
func nextIsStart(s string, j int) bool {
	for j < len(s) {
		r, w := utf8.DecodeRuneInString(s[j:])
		if classify(r) != space {
			break
		}
		j += w
	}
	if j >= len(s) {
		return true
	}
	k := j
	for k < len(s) {
		r, w := utf8.DecodeRuneInString(s[k:])
		if classify(r) != letter {
			break
		}
		k += w
	}
	return sentenceStarters[s[j:k]]
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
// Build it once per string when converting many offsets. It keeps the byte
// offset of every runeStride-th code point and decodes from there, so a
// long text costs a few percent of its size, not eight bytes per code point.
type RuneOffsets struct {
	s     string
	marks []int // marks[k] is the byte offset of code point k*runeStride
	n     int   // code points
}

// runeStride is how many code points lie between two marks: at most that
// many are decoded per conversion.
const runeStride = 32

// NewRuneOffsets indexes s.
func NewRuneOffsets(s string) *RuneOffsets {
	o := &RuneOffsets{s: s, marks: make([]int, 0, len(s)/runeStride+1)}
	for i := range s {
		if o.n%runeStride == 0 {
			o.marks = append(o.marks, i)
		}
		o.n++
	}
	return o
}

// Byte returns the byte offset of code point offset r, clamped to the string.
func (o *RuneOffsets) Byte(r int) int {
	if r <= 0 {
		return 0
	}
	if r >= o.n {
		return len(o.s)
	}
	b := o.marks[r/runeStride]
	for range r % runeStride {
		b += o.width(b)
	}
	return b
}

// Rune returns the code point offset of byte offset b; a byte inside a code
// point maps to that code point.
func (o *RuneOffsets) Rune(b int) int {
	if b <= 0 {
		return 0
	}
	if b >= len(o.s) {
		return o.n
	}
	k := sort.Search(len(o.marks), func(k int) bool { return o.marks[k] > b }) - 1
	r, p := k*runeStride, o.marks[k]
	for {
		w := o.width(p)
		if p+w > b {
			return r
		}
		p += w
		r++
	}
}

// width is the length in bytes of the code point at byte offset b, as a
// range loop over the string steps (an invalid byte is one).
func (o *RuneOffsets) width(b int) int {
	if o.s[b] < utf8.RuneSelf {
		return 1
	}
	_, w := utf8.DecodeRuneInString(o.s[b:])
	return w
}

// Len returns the number of code points.
func (o *RuneOffsets) Len() int { return o.n }

// Slice returns s[start:end] for code point offsets, clamped.
func Slice(s string, start, end int) string {
	o := NewRuneOffsets(s)
	return s[o.Byte(start):o.Byte(end)]
}
