package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are texts that exercise every class the tokenizer knows: mixed
// scripts, combining marks, emoji sequences, abbreviations, CRLF and NUL.
var fuzzSeeds = []string{
	"",
	" ",
	"Hello, world! Dr. Smith met Mr. Jones. They talked.",
	"The U.S. Navy grew. It won... What?! No.",
	"我很好。你呢？好！東京都と東京",
	"مرحبا بالعالم. كيف حالك؟",
	"Cafe\u0301 noir, Zoë and Jürgen.",
	"go 👍🏽 go 👩\u200d💻 and ❤\ufe0f 🎉!",
	"\u200d\u0301 leading joiner and mark",
	"line one\r\n\r\nline two\x00 with NUL",
	"He said \"stop.\" Then left.\n\n  \n",
	"1,800 papers cost 3.14 or -2; 1990-2000, O'Brien's, 'Beatles'",
	"e.g. J. S. Bach etc. The end.",
	"\ufeffBOM then text",
	"\xff\xfe invalid \xc3 bytes",
}

// FuzzTokenize checks that tokens are in order, do not overlap, are the text
// at their offsets, and leave out only white space.
func FuzzTokenize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs := []rune(s)
		prev := 0
		for _, tok := range Tokenize(s) {
			if tok.Start < prev || tok.End <= tok.Start || tok.End > len(rs) {
				t.Fatalf("Tokenize(%q): token %+v out of order or range (previous end %d, %d code points)", s, tok, prev, len(rs))
			}
			if got := string(rs[tok.Start:tok.End]); got != tok.Text {
				t.Fatalf("Tokenize(%q): token %q at [%d,%d) is %q", s, tok.Text, tok.Start, tok.End, got)
			}
			if g := rs[prev:tok.Start]; strings.TrimFunc(string(g), isSpace) != "" {
				t.Fatalf("Tokenize(%q): non-space %q dropped before token %+v", s, string(g), tok)
			}
			prev = tok.End
		}
		if g := rs[prev:]; strings.TrimFunc(string(g), isSpace) != "" {
			t.Fatalf("Tokenize(%q): non-space tail %q dropped", s, string(g))
		}
	})
}

// isSpace is white space as the tokenizer classifies it.
func isSpace(r rune) bool { return classify(r) == space }

// FuzzSentences checks that sentences are in order, do not overlap, lie in
// the text, are trimmed, and together with the white space between them
// cover all of it.
func FuzzSentences(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs := []rune(s)
		prev := 0
		for _, sp := range Sentences(s) {
			if sp.Start < prev || sp.End <= sp.Start || sp.End > len(rs) {
				t.Fatalf("Sentences(%q): span %+v out of order or range (previous end %d, %d code points)", s, sp, prev, len(rs))
			}
			if isSpace(rs[sp.Start]) || isSpace(rs[sp.End-1]) {
				t.Fatalf("Sentences(%q): span %+v = %q is not trimmed", s, sp, string(rs[sp.Start:sp.End]))
			}
			if g := rs[prev:sp.Start]; strings.TrimFunc(string(g), isSpace) != "" {
				t.Fatalf("Sentences(%q): text %q between sentences is lost", s, string(g))
			}
			prev = sp.End
		}
		if g := rs[prev:]; strings.TrimFunc(string(g), isSpace) != "" {
			t.Fatalf("Sentences(%q): tail %q is lost", s, string(g))
		}
	})
}

// FuzzFind checks the aligner against a brute-force search: every span is
// in the text, is the needle, starts and ends at word boundaries, and every
// such occurrence is found. Documents and model answers are valid UTF-8 by
// the time they reach Find (the corpus reader rejects invalid text, JSON
// decoding replaces it), so invalid input is skipped.
func FuzzFind(f *testing.F) {
	pairs := [][2]string{
		{"the party of art", "art"},
		{"Obama-era, Obama's", "Obama"},
		{"東京都と東京", "東京"},
		{"Cafe\u0301 and Cafe", "Cafe"},
		{"go 👍🏽 go 👍", "👍"},
		{"👩\u200d💻 and 👩", "👩"},
		{"A A A", "A A"},
		{"مرحبا محمد", "محمد"},
		{"(c) and c", "(c)"},
		{"aaa", "a"},
		{"abc", ""},
	}
	for _, p := range pairs {
		f.Add(p[0], p[1])
	}
	for _, s := range fuzzSeeds {
		f.Add(s, "e")
	}
	f.Fuzz(func(t *testing.T, s, sub string) {
		if !utf8.ValidString(s) || !utf8.ValidString(sub) {
			t.Skip("invalid UTF-8 never reaches Find")
		}
		got := Find(s, sub)
		rs := []rune(s)
		o := NewRuneOffsets(s)
		prev := -1
		for _, sp := range got {
			if sp.Start <= prev || sp.Start < 0 || sp.End > len(rs) || sp.End-sp.Start != utf8.RuneCountInString(sub) {
				t.Fatalf("Find(%q, %q): span %+v out of order or range", s, sub, sp)
			}
			if string(rs[sp.Start:sp.End]) != sub {
				t.Fatalf("Find(%q, %q): span %+v is %q", s, sub, sp, string(rs[sp.Start:sp.End]))
			}
			if !Boundary(s, o.Byte(sp.Start)) || !Boundary(s, o.Byte(sp.End)) {
				t.Fatalf("Find(%q, %q): span %+v not at word boundaries", s, sub, sp)
			}
			prev = sp.Start
		}
		if sub == "" {
			if len(got) != 0 {
				t.Fatalf("Find(%q, \"\") = %v", s, got)
			}
			return
		}
		var want int
		for i := range s { // valid UTF-8 matches only at code point starts
			if strings.HasPrefix(s[i:], sub) && Boundary(s, i) && Boundary(s, i+len(sub)) {
				want++
			}
		}
		if len(got) != want {
			t.Fatalf("Find(%q, %q) found %d, brute force %d", s, sub, len(got), want)
		}
	})
}

// FuzzFindLoose checks the loose aligner: every span is in the text, in
// order, starts and ends on a character that is not white space and at
// word boundaries, and is the mention when both are loosened. When the
// mention has nothing at its ends that the text around a match could
// change (white space, a ' or ` that pairs with a neighbour), it also finds
// whatever Find does.
func FuzzFindLoose(f *testing.F) {
	pairs := [][2]string{
		{"the Serbian People 's Party", "People's Party"},
		{"the U. S. Army", "U.S. Army"},
		{"the ( BBC ) said", "(BBC)"},
		{"he said ''Hello'' .", "“Hello”"},
		{"``Hello''", "\"Hello\""},
		{"Zoë 's café ( Zürich )", "Zoë’s café (Zürich)"},
		{"東京 ( 日本 ) 大阪", "東京(日本)"},
		{"Romeo and Rome 's", "Rome's"},
		{"New \t York\n\nCity", "New York City"},
		{"go 👍🏽 go 👍", "👍"},
		{"'''a'''", "'a'"},
		{"a b", " "},
	}
	for _, p := range pairs {
		f.Add(p[0], p[1])
	}
	for _, s := range fuzzSeeds {
		f.Add(s, "e")
	}
	f.Fuzz(func(t *testing.T, s, sub string) {
		if !utf8.ValidString(s) || !utf8.ValidString(sub) {
			t.Skip("invalid UTF-8 never reaches the aligner")
		}
		got := FindLoose(s, sub)
		rs := []rune(s)
		o := NewRuneOffsets(s)
		want, _ := loosen(sub)
		prev := -1
		for _, sp := range got {
			if sp.Start <= prev || sp.Start < 0 || sp.End <= sp.Start || sp.End > len(rs) {
				t.Fatalf("FindLoose(%q, %q): span %+v out of order or range", s, sub, sp)
			}
			if isSpace(rs[sp.Start]) || isSpace(rs[sp.End-1]) {
				t.Fatalf("FindLoose(%q, %q): span %+v = %q starts or ends on white space", s, sub, sp, string(rs[sp.Start:sp.End]))
			}
			if !Boundary(s, o.Byte(sp.Start)) || !Boundary(s, o.Byte(sp.End)) {
				t.Fatalf("FindLoose(%q, %q): span %+v not at word boundaries", s, sub, sp)
			}
			if m, _ := loosen(string(rs[sp.Start:sp.End])); m != want {
				t.Fatalf("FindLoose(%q, %q): span %+v = %q is loosely %q, want %q", s, sub, sp, string(rs[sp.Start:sp.End]), m, want)
			}
			prev = sp.Start
		}
		if sub == "" || strings.TrimFunc(sub, isSpace) != sub || strings.ContainsAny(sub[:1]+sub[len(sub)-1:], "'`") {
			return
		}
		loose := make(map[Span]bool, len(got))
		for _, sp := range got {
			loose[sp] = true
		}
		for _, sp := range Find(s, sub) {
			if !loose[sp] {
				t.Fatalf("FindLoose(%q, %q) = %v misses %+v, which Find finds", s, sub, got, sp)
			}
		}
	})
}
