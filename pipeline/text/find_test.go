package text

import (
	"reflect"
	"testing"
)

func TestFind(t *testing.T) {
	tests := []struct {
		name, s, sub string
		want         []Span
	}{
		{"word", "the party of art", "art", []Span{{13, 16}}},
		{"repeated", "Bob met Bob and Bobby", "Bob", []Span{{0, 3}, {8, 11}}},
		{"hyphen and possessive", "Obama-era, Obama's", "Obama", []Span{{0, 5}, {11, 16}}},
		{"multi-word", "in New York and New Yorkers", "New York", []Span{{3, 11}}},
		{"code points", "Zoë and Zoë", "Zoë", []Span{{0, 3}, {8, 11}}},
		{"cjk inside a run", "東京都と東京", "東京", []Span{{0, 2}, {4, 6}}},
		{"combining mark", "Cafe\u0301 and Cafe", "Cafe", []Span{{10, 14}}},
		{"emoji", "go 👍🏽 go 👍", "👍", []Span{{9, 10}}},
		{"zwj", "👩\u200d💻 and 👩", "👩", []Span{{8, 9}}},
		{"punctuation mention", "(c) and c", "(c)", []Span{{0, 3}}},
		{"overlapping", "A A A", "A A", []Span{{0, 3}, {2, 5}}},
		{"absent", "nothing here", "there", nil},
		{"empty", "abc", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Find(tt.s, tt.sub)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Find(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.want)
			}
			rs := []rune(tt.s)
			for _, sp := range got {
				if string(rs[sp.Start:sp.End]) != tt.sub {
					t.Errorf("span %v is %q", sp, string(rs[sp.Start:sp.End]))
				}
			}
		})
	}
}

func TestFindLoose(t *testing.T) {
	tests := []struct {
		name, s, sub string
		want         []Span
	}{
		{"clitic split in the text", "the Serbian People 's Party", "People's Party", []Span{{12, 27}}},
		{"clitic split in the mention", "the People's Party", "People 's Party", []Span{{4, 18}}},
		{"initials", "the U. S. Army", "U.S. Army", []Span{{4, 14}}},
		{"parentheses in the text", "the ( BBC ) said", "(BBC)", []Span{{4, 11}}},
		{"parentheses in the mention", "the (BBC) said", "( BBC )", []Span{{4, 9}}},
		{"comma", "Bolt , Beranek and Newman", "Bolt, Beranek and Newman", []Span{{0, 25}}},
		{"runs of white space", "New \t York\n\nCity", "New  York City", []Span{{0, 16}}},
		{"mention trimmed", "a Bob b", "  Bob\t", []Span{{2, 5}}},
		{"curly apostrophe", "Gravity 's Rainbow", "Gravity’s Rainbow", []Span{{0, 18}}},
		{"acute accent as apostrophe", "O'Brien", "O´Brien", []Span{{0, 7}}},
		{"curly quotes for doubled ones", "he said ''Hello'' .", "“Hello”", []Span{{8, 17}}},
		{"backticks", "``Hello''", "\"Hello\"", []Span{{0, 9}}},
		{"single quotes", "the ‘Hello’ song", "'Hello'", []Span{{4, 11}}},
		{"non-ASCII", "Zoë 's café ( Zürich )", "Zoë's café (Zürich)", []Span{{0, 22}}},
		{"cjk", "東京 ( 日本 ) 大阪", "東京(日本)", []Span{{0, 9}}},
		{"repeated", "U. S. and U. S. .", "U.S.", []Span{{0, 5}, {10, 15}}},
		{"not inside a word", "Romeo 's", "Rome's", nil},
		{"word boundary at the end", "Romeo and Rome 's", "Rome's", []Span{{10, 17}}},
		{"not across a word", "the New Yorkers", "New York", nil},
		{"space between letters kept", "NewYork", "New York", nil},
		{"no space made up", "New York", "NewYork", nil},
		{"exact match too", "Obama-era, Obama's", "Obama", []Span{{0, 5}, {11, 16}}},
		{"white space only", "a b", " \t", nil},
		{"empty", "abc", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FindLoose(tt.s, tt.sub)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FindLoose(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.want)
			}
		})
	}
}

// FindLoose finds whatever Find does when the mention has no white space
// at its ends and no ' or ` there, which could pair with a quote of the
// text.
func TestFindLooseFindsWhatFindDoes(t *testing.T) {
	tests := [][2]string{
		{"the party of art", "art"},
		{"Bob met Bob and Bobby", "Bob"},
		{"Obama-era, Obama's", "Obama"},
		{"in New York and New Yorkers", "New York"},
		{"Zoë and Zoë", "Zoë"},
		{"東京都と東京", "東京"},
		{"Cafe\u0301 and Cafe", "Cafe"},
		{"go 👍🏽 go 👍", "👍"},
		{"👩\u200d💻 and 👩", "👩"},
		{"(c) and c", "(c)"},
		{"A A A", "A A"},
		{"Smith , Jones and Smith , Jones", "Smith , Jones"},
	}
	for _, tt := range tests {
		exact, loose := Find(tt[0], tt[1]), FindLoose(tt[0], tt[1])
		if !reflect.DeepEqual(exact, loose) {
			t.Errorf("Find(%q, %q) = %v, FindLoose %v", tt[0], tt[1], exact, loose)
		}
	}
}
