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
