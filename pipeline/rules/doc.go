package rules

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zeroner/zeroner/pipeline/text"
)

// flags describe one token's shape.
type flags uint16

const (
	fCap       flags = 1 << iota // starts with a capital letter
	fAcronym                     // two or more letters, all capitals ("SVM", "U.S.")
	fMixed                       // capital after a lower-case start ("iPhone", "eBay")
	fLower                       // starts with a lower-case letter
	fNum                         // digits only (with inner separators)
	fYear                        // a four-digit number 1000-2099
	fWord                        // has a letter
	fSentStart                   // first token of a sentence
	fAbbrev                      // ends with a period that is part of it ("Dr.", "J.")
)

// doc is a tokenised document with per-token shape.
type doc struct {
	toks  []text.Span // token offsets in code points
	words []string    // token texts
	low   []string    // lower-cased texts
	flags []flags
}

func newDoc(s string) *doc {
	// About one token per space, and a quarter more for punctuation; the
	// slices grow if there are more. A token keeps its offsets, not a
	// text.Token, whose text words already holds: a long document has
	// millions of tokens.
	n := strings.Count(s, " ") + strings.Count(s, "\n")
	n += n/4 + 16
	d := &doc{
		toks:  make([]text.Span, 0, n),
		words: make([]string, 0, n),
		low:   make([]string, 0, n),
		flags: make([]flags, 0, n),
	}
	for t := range text.Tokens(s) {
		d.toks = append(d.toks, text.Span{Start: t.Start, End: t.End})
		d.words = append(d.words, t.Text)
		d.low = append(d.low, strings.ToLower(t.Text))
		d.flags = append(d.flags, shape(t.Text))
	}
	toks := d.toks
	// Sentence starts: the first token, and the first token of each
	// sentence the splitter finds. Most inputs are one sentence.
	if len(toks) > 0 {
		d.flags[0] |= fSentStart
	}
	if strings.ContainsAny(s, ".!?。！？\n") {
		k := 0
		for _, sp := range text.Sentences(s) {
			for k < len(toks) && toks[k].Start < sp.Start {
				k++
			}
			if k < len(toks) {
				d.flags[k] |= fSentStart
			}
		}
	}
	// A word right after an opening quote, colon or bracket starts a clause.
	for i := 1; i < len(toks); i++ {
		switch d.words[i-1] {
		case ":", "\"", "“", ";":
			d.flags[i] |= fSentStart
		}
	}
	return d
}

// shape computes a token's flags.
func shape(w string) flags {
	var f flags
	r, _ := utf8.DecodeRuneInString(w)
	letters, uppers, lowers := 0, 0, 0
	digits, others := 0, 0
	upperAfterLower := false
	for _, c := range w {
		switch {
		case unicode.IsUpper(c) || unicode.IsTitle(c):
			letters++
			uppers++
			if lowers > 0 {
				upperAfterLower = true
			}
		case unicode.IsLetter(c):
			letters++
			lowers++
		case unicode.IsDigit(c):
			digits++
		case c == ',' || c == '.':
		default:
			others++
		}
	}
	if letters > 0 {
		f |= fWord
	}
	switch {
	case unicode.IsUpper(r) || unicode.IsTitle(r):
		f |= fCap
	case unicode.IsLower(r):
		f |= fLower
		if upperAfterLower {
			f |= fMixed
		}
	case unicode.IsDigit(r) && uppers > 0:
		f |= fCap // "3Arena", "2D"
	}
	if uppers >= 2 && lowers == 0 {
		f |= fAcronym
	}
	if letters == 0 && digits > 0 && others == 0 {
		f |= fNum
		if len(w) == 4 && (w[:2] == "19" || w[:2] == "20" || w[0] == '1') {
			f |= fYear
		}
	}
	if letters > 0 && strings.HasSuffix(w, ".") {
		f |= fAbbrev
	}
	return f
}

// is reports whether token i has all of the flags f.
func (d *doc) is(i int, f flags) bool {
	return i >= 0 && i < len(d.flags) && d.flags[i]&f == f
}

// nameLike reports whether token i can be part of a capitalised name.
func (d *doc) nameLike(i int) bool {
	if i < 0 || i >= len(d.flags) {
		return false
	}
	f := d.flags[i]
	if f&(fCap|fMixed) == 0 {
		return false
	}
	if d.words[i] == "I" && !(i > 0 && d.flags[i-1]&fCap != 0) { // the pronoun, not "World War I"
		return false
	}
	return true
}

// span maps code point offsets to the token range [i, j) they cover.
func (d *doc) span(start, end int) (int, int) {
	i := sort.Search(len(d.toks), func(k int) bool { return d.toks[k].End > start })
	j := i
	for j < len(d.toks) && d.toks[j].Start < end {
		j++
	}
	return i, j
}

// docCache tokenises each document of a call once.
type docCache map[string]*doc

func (c docCache) get(id, s string) *doc {
	if d, ok := c[id]; ok {
		return d
	}
	d := newDoc(s)
	c[id] = d
	return d
}
