package kg

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

func TestNeo4jLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"politician", "politician"},
		{"political party", "political_party"},
		{"music-genre", "music_genre"},
		{"3d model", "L3d_model"},
		{"_x", "L_x"},
		{"a;b`c", "a_b_c"},
		{"Straße", "Straße"},
		{"", "Entity"},
	}
	for _, tt := range tests {
		if got := Neo4jLabel(tt.in); got != tt.want {
			t.Errorf("Neo4jLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// readCSV parses a file as neo4j-admin does with its defaults (RFC 4180
// quoting, one record per line).
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	if bytes.Contains(bytes.TrimSuffix(b, []byte("\n")), []byte("\n\n")) {
		t.Error("blank line in a CSV file")
	}
	r := csv.NewReader(bytes.NewReader(b))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, b)
	}
	if n := bytes.Count(b, []byte("\n")); n != len(rows) {
		t.Errorf("%d lines for %d records: a field spans lines", n, len(rows))
	}
	return rows
}

func TestNeo4jFiles(t *testing.T) {
	txt := `Smith, "Jr" met O"Neil; then "Big Co, Inc" hired Smith, "Jr". Big Co, Inc grew.`
	doc := pipeline.Document{ID: "doc;1%", Text: txt}
	var ms []pipeline.Mention
	for _, m := range []struct{ s, label string }{
		{`Smith, "Jr"`, "person"}, {`O"Neil`, "person"}, {`"Big Co, Inc"`, "organisation"}, {"Big Co, Inc", "organisation"},
	} {
		for _, sp := range text.Find(txt, m.s) {
			ms = append(ms, pipeline.Mention{DocID: doc.ID, Start: sp.Start, End: sp.End, Text: m.s, Label: m.label, Archetype: pipeline.Person})
		}
	}
	ms = append(ms, pipeline.Mention{DocID: "other\ndoc", Start: 0, End: 3, Text: "Smith,\n\"Jr\"", Label: "political party"})
	g := Build([]pipeline.Document{doc}, ms)

	var nodes, rels bytes.Buffer
	if err := WriteNeo4jNodes(&nodes, g.Entities); err != nil {
		t.Fatal(err)
	}
	if err := WriteNeo4jRelationships(&rels, g.Edges); err != nil {
		t.Fatal(err)
	}
	t.Logf("entities.csv:\n%s\ncooccurs.csv:\n%s", nodes.String(), rels.String())

	nrows := readCSV(t, nodes.Bytes())
	if got := strings.Join(nrows[0], ","); got != "entityId:ID,name,label:LABEL,archetype,mentions:int,documents:int" {
		t.Errorf("nodes header %q", got)
	}
	ids := make(map[string]bool)
	names := make(map[string]string)
	label := regexp.MustCompile(`^\pL[\pL\pN_]*$`)
	for _, r := range nrows[1:] {
		if len(r) != 6 {
			t.Fatalf("node %q: %d fields", r, len(r))
		}
		if ids[r[0]] {
			t.Errorf("node id %s twice", r[0])
		}
		ids[r[0]] = true
		names[r[0]] = r[1]
		if !label.MatchString(r[2]) {
			t.Errorf("node label %q is not a plain Neo4j label", r[2])
		}
		for _, n := range r[4:] {
			if _, err := strconv.Atoi(n); err != nil {
				t.Errorf("node %q: %q is not an int", r, n)
			}
		}
	}
	if len(ids) != len(g.Entities) {
		t.Errorf("%d nodes, want %d", len(ids), len(g.Entities))
	}
	// Names come back whole, commas and quotes included.
	got := slices.Sorted(func(yield func(string) bool) {
		for _, n := range names {
			if !yield(n) {
				return
			}
		}
	})
	want := []string{`Big Co, Inc`, `O"Neil`, `Smith, "Jr"`, `Smith, "Jr"`}
	if !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
	if !bytes.Contains(nodes.Bytes(), []byte(`,"Smith, ""Jr""",`)) {
		t.Error(`no RFC 4180 quoting of Smith, "Jr"`)
	}

	rrows := readCSV(t, rels.Bytes())
	if got := strings.Join(rrows[0], ","); got != ":START_ID,:END_ID,:TYPE,count:int,examples:string[]" {
		t.Errorf("relationships header %q", got)
	}
	if len(rrows)-1 != len(g.Edges) || len(g.Edges) == 0 {
		t.Fatalf("%d relationships, %d edges", len(rrows)-1, len(g.Edges))
	}
	for _, r := range rrows[1:] {
		if !ids[r[0]] || !ids[r[1]] {
			t.Errorf("relationship %q: an endpoint is not a node", r)
		}
		if r[2] != CoOccurs {
			t.Errorf("relationship type %q", r[2])
		}
		if n, err := strconv.Atoi(r[3]); err != nil || n < 1 {
			t.Errorf("count %q", r[3])
		}
		if r[4] != "doc%3B1%25" {
			t.Errorf("examples %q: want the id with ';' and '%%' escaped", r[4])
		}
	}
}
