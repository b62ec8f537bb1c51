package pipeline

import "testing"

func TestCheckMentions(t *testing.T) {
	docs := []Document{{ID: "a", Text: "Zoë met Bob"}, {ID: "b", Text: "東京 is big"}}
	tests := []struct {
		name string
		ms   []Mention
		ok   bool
	}{
		{"none", nil, true},
		{"code points", []Mention{{DocID: "a", Start: 0, End: 3, Text: "Zoë"}, {DocID: "b", Start: 0, End: 2, Text: "東京"}}, true},
		{"unknown doc", []Mention{{DocID: "c", Start: 0, End: 1, Text: "x"}}, false},
		{"past end", []Mention{{DocID: "a", Start: 8, End: 12, Text: "Bob"}}, false},
		{"empty", []Mention{{DocID: "a", Start: 2, End: 2, Text: ""}}, false},
		{"negative", []Mention{{DocID: "a", Start: -1, End: 2, Text: "Zo"}}, false},
		{"byte offsets", []Mention{{DocID: "a", Start: 8, End: 11, Text: "met"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckMentions(docs, tt.ms)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckMentions = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
