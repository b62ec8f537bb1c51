package rules

import (
	"slices"
	"testing"
)

func TestLexicons(t *testing.T) {
	ls := Lexicons()
	byName := map[string][]string{}
	for _, l := range ls {
		byName[l.Name] = l.Entries
	}
	if len(byName) != len(ls) {
		t.Fatalf("%d lexicons, %d names: names repeat", len(ls), len(byName))
	}
	for _, tt := range []struct{ name, entry string }{
		{"country", "France"},
		{"country", "Bosnia and Herzegovina"},
		{"firstname", "John"},
		{"musicgenre", "jazz"},
	} {
		if !slices.Contains(byName[tt.name], tt.entry) {
			t.Errorf("lexicon %q lacks %q", tt.name, tt.entry)
		}
	}
	ls[0].Entries[0] = "changed"
	if Lexicons()[0].Entries[0] == "changed" {
		t.Error("Lexicons returned shared entries")
	}
}
