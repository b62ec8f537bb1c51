package table

import (
	"reflect"
	"testing"
)

func TestGraphTablesRoundTrip(t *testing.T) {
	ents := []Entity{
		{"r", "0123456789abcdef", "The Beatles", "band", "organization", 12, 3},
		{"r", "fedcba9876543210", `Smith, "Jr"`, "person", "", 1, 1},
	}
	gotEnts, err := ReadEntities(open(writeAll(t, NewEntityWriter, ents)))
	if err != nil || !reflect.DeepEqual(gotEnts, ents) {
		t.Errorf("entities: %+v, %v; want %+v", gotEnts, err, ents)
	}

	edges := []Edge{
		{"r", "a", "b", 7, []string{"d1", "d2"}},
		{"r", "a", "c", 1, nil},
	}
	gotEdges, err := ReadEdges(open(writeAll(t, NewEdgeWriter, edges)))
	if err != nil || !reflect.DeepEqual(gotEdges, edges) {
		t.Errorf("edges: %+v, %v; want %+v", gotEdges, err, edges)
	}

	links := []MentionEntity{{"r", "d1", 0, 11, "a"}, {"r", "d2", 5, 9, "b"}}
	gotLinks, err := ReadMentionEntities(open(writeAll(t, NewMentionEntityWriter, links)))
	if err != nil || !reflect.DeepEqual(gotLinks, links) {
		t.Errorf("mention entities: %+v, %v; want %+v", gotLinks, err, links)
	}
	if n, err := NumRows(open(writeAll(t, NewMentionEntityWriter, links))); n != 2 || err != nil {
		t.Errorf("NumRows = %d, %v; want 2", n, err)
	}
	if _, err := NumRows(open([]byte("not parquet"))); err == nil {
		t.Error("NumRows of garbage: no error")
	}
}
