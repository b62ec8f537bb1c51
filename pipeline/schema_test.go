package pipeline

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSchema(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		labels  []string
	}{
		{name: "yaml, fallback added", in: "name: s\nlabels:\n  - name: person\n    description: A human.\n",
			labels: []string{"person", "misc"}},
		{name: "json", in: `{"name": "s", "fallback": "other", "labels": [{"name": "city", "description": "A town."}, {"name": "other", "description": "Else."}]}`,
			labels: []string{"city", "other"}},
		{name: "gazetteer and archetypes", in: "name: s\nlabels:\n  - name: researcher\n    description: A scientist.\n    archetypes: [person]\n    gazetteer: [Yann LeCun, Geoffrey Hinton]\n",
			labels: []string{"researcher", "misc"}},
		{name: "no name", in: "labels:\n  - name: a\n    description: b\n", wantErr: "no name"},
		{name: "no labels", in: "name: s\n", wantErr: "no labels"},
		{name: "no description", in: "name: s\nlabels:\n  - name: a\n", wantErr: `label "a" has no description`},
		{name: "twice", in: "name: s\nlabels:\n  - {name: a, description: x}\n  - {name: a, description: y}\n", wantErr: "defined twice"},
		{name: "bad archetype", in: "name: s\nlabels:\n  - {name: a, description: x, archetypes: [animal]}\n", wantErr: `unknown archetype "animal"`},
		{name: "empty gazetteer entry", in: "name: s\nlabels:\n  - {name: a, description: x, gazetteer: [\" \"]}\n", wantErr: "empty gazetteer entry"},
		{name: "not yaml", in: "name: [", wantErr: "parse schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchema([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSchema: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Names(); !slices.Equal(got, tt.labels) {
				t.Errorf("labels %v, want %v", got, tt.labels)
			}
		})
	}
}

func TestSchemaHashFollowsContent(t *testing.T) {
	a, _ := ParseSchema([]byte("name: s\nlabels:\n  - {name: a, description: x}\n"))
	b, _ := ParseSchema([]byte("name: s\nlabels:\n  - {name: a, description: x, gazetteer: [Foo]}\n"))
	if a.Hash() == b.Hash() {
		t.Error("a gazetteer entry does not change the schema's hash")
	}
	if c, _ := ParseSchema([]byte("name: s\nlabels:\n  - {name: a, description: x}\n")); c.Hash() != a.Hash() {
		t.Error("the same schema hashes differently")
	}
}
