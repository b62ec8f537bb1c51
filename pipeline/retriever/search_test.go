package retriever

import (
	"reflect"
	"testing"
)

func TestDistinctDocs(t *testing.T) {
	type hit struct{ doc string }
	hits := []hit{{"d1"}, {"d2"}, {"d1"}, {"d3"}, {"d2"}, {"d4"}, {"d1"}, {"d4"}}
	doc := func(h hit) string { return h.doc }
	tests := []struct {
		name string
		hits []hit
		k    int
		want []DocHits
	}{
		{"two documents, all their hits", hits, 2, []DocHits{{"d1", []int{0, 2, 6}}, {"d2", []int{1, 4}}}},
		{"three", hits, 3, []DocHits{{"d1", []int{0, 2, 6}}, {"d2", []int{1, 4}}, {"d3", []int{3}}}},
		{"more than there are", hits, 10, []DocHits{{"d1", []int{0, 2, 6}}, {"d2", []int{1, 4}}, {"d3", []int{3}}, {"d4", []int{5, 7}}}},
		{"k zero", hits, 0, nil},
		{"no hits", nil, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DistinctDocs(tt.hits, doc, tt.k)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DistinctDocs(k=%d) = %v, want %v", tt.k, got, tt.want)
			}
		})
	}
}
