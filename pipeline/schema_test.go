package pipeline

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline/text"
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
			want: `line 2: unknown field "lables" in the schema (it has name, fallback, labels, examples)`},
		{name: "json top level", in: `{"name": "s", "lables": [{"name": "a", "description": "x"}]}`,
			want: `line 1: unknown field "lables" in the schema`},
		{name: "yaml label", in: "name: s\nlabels:\n  - name: city\n    descripton: A town.\n",
			want: `line 4: unknown field "descripton" in label "city" (it has name, description, archetypes, gazetteer)`},
		{name: "json label", in: "{\"name\": \"s\",\n \"labels\": [{\"name\": \"city\", \"description\": \"A town.\", \"gazeteer\": [\"Paris\"]}]}",
			want: `line 2: unknown field "gazeteer" in label "city"`},
		{name: "label without a name", in: "name: s\nlabels:\n  - {Name: a, description: x}\n",
			want: `unknown field "Name" in a label`},
		{name: "first of several", in: "name: s\nfalback: other\nlables: []\n", want: `unknown field "falback"`},
		{name: "example", in: "name: s\nlabels: [{name: a, description: x}]\nexamples:\n  - {text: Bo ran}\n  - {txt: Bo ran}\n",
			want: `line 5: unknown field "txt" in example 2 (it has text, entities)`},
		{name: "example entity", in: "name: s\nlabels: [{name: a, description: x}]\nexamples:\n  - text: Bo ran\n    entities:\n      - {text: Bo, label: a}\n      - {text: Bo, lable: a}\n",
			want: `line 7: unknown field "lable" in example 1, entity 2 (it has text, label, occurrence)`},
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

func TestParseSchemaExamples(t *testing.T) {
	const head = "name: s\nlabels:\n  - {name: person, description: A human.}\n  - {name: city, description: A town.}\nexamples:\n"
	tests := []struct {
		name, in string
		wantErr  string
		spans    [][]text.Span // per example, per entity
	}{
		{name: "entities", in: head + "  - text: Bo met Ann in Rome .\n    entities:\n      - {text: Bo, label: person}\n      - {text: Rome, label: city}\n",
			spans: [][]text.Span{{{Start: 0, End: 2}}, {{Start: 14, End: 18}}}},
		{name: "every occurrence", in: head + "  - text: Bo and Bo\n    entities: [{text: Bo, label: person}]\n",
			spans: [][]text.Span{{{Start: 0, End: 2}, {Start: 7, End: 9}}}},
		{name: "one occurrence", in: head + "  - text: Bo and Bo\n    entities: [{text: Bo, label: person, occurrence: 2}]\n",
			spans: [][]text.Span{{{Start: 7, End: 9}}}},
		{name: "non-ASCII", in: head + "  - {text: Zoë left Zürich ., entities: [{text: Zürich, label: city}]}\n",
			spans: [][]text.Span{{{Start: 9, End: 15}}}},
		{name: "fallback label", in: head + "  - {text: the Nile, entities: [{text: Nile, label: misc}]}\n",
			spans: [][]text.Span{{{Start: 4, End: 8}}}},
		{name: "no entities", in: head + "  - text: Nothing here .\n", spans: [][]text.Span{}},
		{name: "json", in: `{"name": "s", "labels": [{"name": "city", "description": "A town."}], "examples": [{"text": "Rome", "entities": [{"text": "Rome", "label": "city"}]}]}`,
			spans: [][]text.Span{{{Start: 0, End: 4}}}},

		{name: "no text", in: head + "  - text: Bo ran\n  - text: \" \"\n", wantErr: `invalid schema "s": example 2 has no text`},
		{name: "unknown label", in: head + "  - {text: Bo ran, entities: [{text: Bo, label: human}]}\n",
			wantErr: `example 1, entity 1 ("Bo"): label "human" is not in the schema`},
		{name: "not in the text", in: head + "  - {text: Bo ran, entities: [{text: Ann, label: person}]}\n",
			wantErr: `example 1, entity 1 ("Ann") is not in the text at word boundaries`},
		{name: "inside a word", in: head + "  - {text: Romeo ran, entities: [{text: Rome, label: city}]}\n",
			wantErr: `example 1, entity 1 ("Rome") is not in the text at word boundaries`},
		{name: "occurrence past the count", in: head + "  - {text: Bo and Bo, entities: [{text: Bo, label: person, occurrence: 3}]}\n",
			wantErr: `example 1, entity 1 ("Bo") has occurrence 3, but the text has only 2`},
		{name: "negative occurrence", in: head + "  - {text: Bo ran, entities: [{text: Bo, label: person, occurrence: -1}]}\n",
			wantErr: `occurrence -1, which is not positive`},
		{name: "empty entity", in: head + "  - {text: Bo ran, entities: [{text: \"\", label: person}]}\n",
			wantErr: `example 1, entity 1 ("") has no text`},
		{name: "white space", in: head + "  - {text: Bo ran, entities: [{text: \"Bo \", label: person}]}\n",
			wantErr: `starts or ends with white space`},
		{name: "same span twice", in: head + "  - {text: Bo and Bo, entities: [{text: Bo, label: person}, {text: Bo, label: city, occurrence: 2}]}\n",
			wantErr: `example 1, entity 2 ("Bo") has the same span as entity 1`},
		{name: "second example", in: head + "  - {text: Bo ran}\n  - {text: Ann ran, entities: [{text: Ann, label: city}, {text: Bo, label: person}]}\n",
			wantErr: `example 2, entity 2 ("Bo") is not in the text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchema([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("ParseSchema: %v, want a one-line error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]text.Span
			for _, x := range s.Examples {
				for _, e := range x.Entities {
					got = append(got, x.Spans(e))
				}
			}
			if len(got) != len(tt.spans) || len(got) > 0 && !reflect.DeepEqual(got, tt.spans) {
				t.Errorf("spans %v, want %v", got, tt.spans)
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
	x, _ := ParseSchema([]byte("name: s\nlabels:\n  - {name: a, description: x}\nexamples:\n  - {text: Foo ran, entities: [{text: Foo, label: a}]}\n"))
	y, _ := ParseSchema([]byte("name: s\nlabels:\n  - {name: a, description: x}\nexamples:\n  - {text: Foo ran, entities: [{text: Foo, label: misc}]}\n"))
	if x.Hash() == a.Hash() || x.Hash() == y.Hash() {
		t.Error("examples do not change the schema's hash")
	}
}
