package eval

import (
	"maps"
	"slices"
	"testing"
)

func TestRelevantAndReached(t *testing.T) {
	docs := []Doc{
		{ID: "a", Gold: []Span{{0, 5, "person"}, {10, 15, "city"}}, Pred: []Span{{3, 8, "x"}}},
		{ID: "b", Gold: []Span{{0, 5, "person"}}, Pred: []Span{{5, 9, "person"}}},
		{ID: "c", Gold: []Span{{2, 4, "city"}}, Pred: []Span{{0, 3, "misc"}}},
	}
	ids := func(m map[string]map[string]bool, label string) []string {
		return slices.Sorted(maps.Keys(m[label]))
	}
	rel := Relevant(docs)
	if got := ids(rel, "person"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("relevant person %v, want [a b]", got)
	}
	if got := ids(rel, "city"); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("relevant city %v, want [a c]", got)
	}
	// b's prediction only touches its gold span (half-open spans): not reached.
	reached := Reached(docs)
	if got := ids(reached, "person"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("reached person %v, want [a]", got)
	}
	if got := ids(reached, "city"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("reached city %v, want [c]", got)
	}
}
