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
		{name: "empty", in: "", wantErr: "no name"},
		{name: "wrong type is one line", in: "name: s\nlabels: x\n", wantErr: "parse schema: yaml: line 2: cannot unmarshal"},
		{name: "anchors and merge keys", in: "name: s\nbase: &b {description: x}\nlabels:\n  - {<<: *b, name: a}\n", wantErr: `unknown field "base"`},
		{name: "merge key", in: "name: s\nlabels:\n  - &a {name: a, description: x}\n  - {<<: *a, name: b}\n", labels: []string{"a", "b", "misc"}},
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

// Decoding is strict: a field the schema does not define is an error that
// names it and its line, in YAML and in JSON, at every level.
func TestParseSchemaUnknownField(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "yaml top level", in: "name: s\nlables:\n  - name: a\n    description: x\n",
			want: `line 2: unknown field "lables" in the schema (it has name, fallback, labels)`},
		{name: "json top level", in: `{"name": "s", "lables": [{"name": "a", "description": "x"}]}`,
			want: `line 1: unknown field "lables" in the schema`},
		{name: "yaml label", in: "name: s\nlabels:\n  - name: city\n    descripton: A town.\n",
			want: `line 4: unknown field "descripton" in label "city" (it has name, description, archetypes, gazetteer)`},
		{name: "json label", in: "{\"name\": \"s\",\n \"labels\": [{\"name\": \"city\", \"description\": \"A town.\", \"gazeteer\": [\"Paris\"]}]}",
			want: `line 2: unknown field "gazeteer" in label "city"`},
		{name: "label without a name", in: "name: s\nlabels:\n  - {Name: a, description: x}\n",
			want: `unknown field "Name" in a label`},
		{name: "first of several", in: "name: s\nfalback: other\nlables: []\n", want: `unknown field "falback"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchema([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseSchema: %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on several lines: %q", err)
			}
		})
	}
}

// Validation errors come on one line, all of them.
func TestParseSchemaErrorsOneLine(t *testing.T) {
	_, err := ParseSchema([]byte("labels:\n  - name: a\n  - name: b\n"))
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `label "a" has no description; label "b" has no description`) {
		t.Fatalf("ParseSchema: %q, want every problem on one line", err)
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
