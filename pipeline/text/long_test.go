package text

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// denseOffsets is the plain reference for RuneOffsets: the byte offset of
// every code point, and one past the end.
func denseOffsets(s string) []int {
	var b []int
	for i := range s {
		b = append(b, i)
	}
	return append(b, len(s))
}

// randomText mixes ASCII, two-, three- and four-byte code points, what the
// tokenizer treats specially (apostrophes, hyphens, periods, combining marks,
// joiners, emoji modifiers, white space of all kinds) and, when bad is set,
// bytes that are not UTF-8.
func randomText(r *rand.Rand, n int, bad bool) string {
	pieces := []string{"a", "B", "s", "t", "ll", " ", ".", ",", "'", "’", "-", "7", "é", "ß", "日", "本", "ไทย",
		"🎉", "👍", "\U0001F3FD", "\u200d", "\ufe0f", "\u0301", "\u200b", "\u00a0", "\n", "\t", "\"", "(", "Dr", "U.S", "e.g"}
	if bad {
		pieces = append(pieces, "\xff", "\xe6\x97", "\xc3")
	}
	var b strings.Builder
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// RuneOffsets, which keeps a mark every runeStride code points, converts
// every offset as a table of every code point's offset does, on both sides
// of each mark and out of range.
func TestRuneOffsetsMatchDense(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		s    string
	}{
		{"empty", ""},
		{"one", "é"},
		{"ascii over marks", strings.Repeat("abc ", 3*runeStride)},
		{"mixed", randomText(r, 5*runeStride+7, false)},
		{"long mixed", randomText(r, 2000, false)},
		{"invalid bytes", randomText(r, 3*runeStride+1, true)},
		{"only invalid", "\xff\xfe\xfd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewRuneOffsets(tt.s)
			dense := denseOffsets(tt.s)
			n := len(dense) - 1
			if o.Len() != n {
				t.Fatalf("Len() = %d, want %d", o.Len(), n)
			}
			for rn := -2; rn <= n+2; rn++ {
				want := dense[min(max(rn, 0), n)]
				if got := o.Byte(rn); got != want {
					t.Fatalf("Byte(%d) = %d, want %d", rn, got, want)
				}
			}
			k := 0 // last code point starting at or before b
			for b := -2; b <= len(tt.s)+2; b++ {
				for k < n && dense[k+1] <= b {
					k++
				}
				want := k
				if b >= len(tt.s) {
					want = n
				}
				if got := o.Rune(b); got != want {
					t.Fatalf("Rune(%d) = %d, want %d", b, got, want)
				}
			}
		})
	}
}

// tokenizeRef is Tokenize as it first was: the whole text as []rune, each
// token's text a copy.
func tokenizeRef(s string) []Token {
	rs := []rune(s)
	var toks []Token
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

// Tokenize, which reads the text one run without white space at a time,
// gives the tokens of the whole-text reference.
func TestTokenizeMatchesReference(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		bad   bool
		seeds uint64
	}{
		{"short", 8, false, 500},
		{"medium", 60, false, 200},
		{"long", 5000, false, 5},
		{"short invalid", 8, true, 500},
		{"medium invalid", 60, true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range tt.seeds {
				s := randomText(rand.New(rand.NewPCG(seed, uint64(tt.n))), tt.n, tt.bad)
				got, want := Tokenize(s), tokenizeRef(s)
				if !slices.Equal(got, want) {
					t.Fatalf("Tokenize(%q)\n = %v\nwant %v", s, got, want)
				}
			}
		})
	}
	for _, s := range fuzzSeeds {
		if got, want := Tokenize(s), tokenizeRef(s); !slices.Equal(got, want) {
			t.Fatalf("Tokenize(%q)\n = %v\nwant %v", s, got, want)
		}
	}
}

// Token texts are slices of the text at their code point offsets, also
// around invalid UTF-8 (where they hold U+FFFD, as []rune reads it).
func TestTokenTexts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		s    string
	}{
		{"ascii", "Dr. Smith met U.S. Senator O'Brien's aide in 2004 ."},
		{"accents and CJK", "Zoë Ström spoke in Zürich , not in 東京 . 🎉👍🏽"},
		{"random", randomText(r, 3000, false)},
		{"invalid", randomText(r, 3000, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := []rune(tt.s)
			for _, tok := range Tokenize(tt.s) {
				if want := string(rs[tok.Start:tok.End]); tok.Text != want {
					t.Fatalf("token at [%d, %d) is %q, want %q", tok.Start, tok.End, tok.Text, want)
				}
			}
			if !utf8.ValidString(tt.s) {
				return
			}
			o := NewRuneOffsets(tt.s)
			for _, tok := range Tokenize(tt.s) {
				if got := tt.s[o.Byte(tok.Start):o.Byte(tok.End)]; got != tok.Text {
					t.Fatalf("token %q at [%d, %d): the text there is %q", tok.Text, tok.Start, tok.End, got)
				}
			}
		})
	}
}

// sentencesRef is Sentences as it first was: the whole text as []rune.
func sentencesRef(s string) []Span {
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
	blankLineAt := func(i int) bool {
		for ; i < n; i++ {
			if rs[i] == '\n' {
				return true
			}
			if classify(rs[i]) != space {
				return false
			}
		}
		return false
	}
	closeEnd := func(i int) int {
		for i < n && strings.ContainsRune("\"'”’)]」』", rs[i]) {
			i++
		}
		return i
	}
	abbrevBefore := func(i int) bool {
		j := i
		for j > 0 && (classify(rs[j-1]) == letter || rs[j-1] == '.') {
			j--
		}
		return j < i && IsAbbrev(string(rs[j:i]))
	}
	nextIsStart := func(j int) bool {
		for j < n && classify(rs[j]) == space {
			j++
		}
		if j >= n {
			return true
		}
		k := j
		for k < n && classify(rs[k]) == letter {
			k++
		}
		return sentenceStarters[string(rs[j:k])]
	}
	start := 0
	for i := 0; i < n; i++ {
		r := rs[i]
		switch {
		case r == '\n' && i+1 < n && blankLineAt(i+1):
			emit(start, i)
			start = i + 1
		case r == '。' || r == '！' || r == '？':
			j := closeEnd(i + 1)
			emit(start, j)
			start = j
			i = j - 1
		case r == '.' || r == '!' || r == '?' || r == '…':
			j := closeEnd(i + 1)
			for j < n && (rs[j] == '.' || rs[j] == '!' || rs[j] == '?') {
				j = closeEnd(j + 1)
			}
			if j < n && classify(rs[j]) != space {
				continue
			}
			if r == '.' && j == i+1 && abbrevBefore(i) && !nextIsStart(j) {
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

// sentenceText is random text full of what decides where a sentence ends:
// marks, closing quotes, abbreviations, initials, sentence starters, blank
// lines, CJK punctuation and, when bad is set, bytes that are not UTF-8.
func sentenceText(r *rand.Rand, n int, bad bool) string {
	pieces := []string{" ", " ", "  ", "\n", "\n\n", "\n \n", "\t", "\u00a0", ".", ".", "!", "?", "…", "。", "！", "？",
		"\"", "'", "”", "’", ")", "]", "」", "Dr", "U.S", "etc", "J", "e.g", "Ph.D", "The", "He", "Smith", "zoë",
		"東京", "3", "14", "a", "B", "é", "\u200b"}
	if bad {
		pieces = append(pieces, "\xff", "\xe3\x80", "\xc3")
	}
	var b strings.Builder
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// Sentences, which reads the text in place, splits it as the []rune
// reference does.
func TestSentencesMatchReference(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		bad   bool
		seeds uint64
	}{
		{"short", 6, false, 2000},
		{"medium", 40, false, 500},
		{"long", 4000, false, 10},
		{"short invalid", 6, true, 2000},
		{"medium invalid", 40, true, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range tt.seeds {
				s := sentenceText(rand.New(rand.NewPCG(seed, uint64(tt.n))), tt.n, tt.bad)
				if got, want := Sentences(s), sentencesRef(s); !slices.Equal(got, want) {
					t.Fatalf("Sentences(%q)\n = %v\nwant %v", s, got, want)
				}
			}
		})
	}
	for _, s := range fuzzSeeds {
		if got, want := Sentences(s), sentencesRef(s); !slices.Equal(got, want) {
			t.Fatalf("Sentences(%q)\n = %v\nwant %v", s, got, want)
		}
	}
}

// A long run of sentence marks inside a word ("...x") is read once, not
// again from each mark: a megabyte of them takes milliseconds.
func TestSentencesLongMarkRun(t *testing.T) {
	s := "It ends" + strings.Repeat(".", 1<<20) + "x. Then more."
	got := Sentences(s)
	want := []Span{{0, utf8.RuneCountInString(s) - len(" Then more.")}, {utf8.RuneCountInString(s) - len("Then more."), utf8.RuneCountInString(s)}}
	if !slices.Equal(got, want) {
		t.Fatalf("Sentences = %v, want %v", got, want)
	}
}
