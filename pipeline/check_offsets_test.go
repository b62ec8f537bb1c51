package pipeline

import (
	"strings"
	"testing"
)

// CheckMentions finds a mention's text by code points far into a long text
// (past the offset index's marks) and in a text with invalid UTF-8, where
// the text at the offsets reads each bad byte as U+FFFD.
func TestCheckMentionsLongAndInvalid(t *testing.T) {
	long := strings.Repeat("Zoë 東京 🎉 ", 1000) + "Angela Merkel"
	n := 1000*len([]rune("Zoë 東京 🎉 ")) + len([]rune("Angela Merkel"))
	docs := []Document{{ID: "long", Text: long}, {ID: "bad", Text: "a\xffb Bob"}}
	tests := []struct {
		name string
		m    Mention
		ok   bool
	}{
		{"far in", Mention{DocID: "long", Start: n - 13, End: n - 7, Text: "Angela"}, true},
		{"at the end", Mention{DocID: "long", Start: n - 6, End: n, Text: "Merkel"}, true},
		{"each repeat", Mention{DocID: "long", Start: 9*500 + 4, End: 9*500 + 6, Text: "東京"}, true},
		{"off by one", Mention{DocID: "long", Start: n - 12, End: n - 6, Text: "Angela"}, false},
		{"past the end", Mention{DocID: "long", Start: n - 6, End: n + 1, Text: "Merkel"}, false},
		{"after a bad byte", Mention{DocID: "bad", Start: 4, End: 7, Text: "Bob"}, true},
		{"over a bad byte", Mention{DocID: "bad", Start: 0, End: 3, Text: "a\uFFFDb"}, true},
		{"bad byte as is", Mention{DocID: "bad", Start: 0, End: 3, Text: "a\xffb"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckMentions(docs, []Mention{tt.m})
			if (err == nil) != tt.ok {
				t.Fatalf("CheckMentions = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
