package llmsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
)

// JSON schemas as wire format v2 serialises them: properties in the order
// they are listed.

const (
	intSchema = `{"type":"integer"}`
	strSchema = `{"type":"string"}`
)

// objSchema is an object schema with properties name, schema, name,
// schema, ... in that order.
func objSchema(props ...string) string {
	var b strings.Builder
	b.WriteString(`{"type":"object","properties":{`)
	for i := 0; i+1 < len(props); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", props[i], props[i+1])
	}
	b.WriteString(`},"additionalProperties":false}`)
	return b.String()
}

func arraySchema(items string) string { return `{"type":"array","items":` + items + `}` }

func enumSchema(vals ...string) string {
	b, _ := json.Marshal(vals)
	return `{"type":"string","enum":` + string(b) + `}`
}

// anchorSchema is the anchor's answer schema in wire order.
func anchorSchema(labels ...string) string {
	label := enumSchema(labels...)
	entity := `{"anyOf":[` + objSchema("text", strSchema, "label", label) + "," +
		objSchema("text", strSchema, "occurrence", intSchema, "label", label) + `]}`
	return objSchema("passages", arraySchema(objSchema("id", intSchema, "entities", arraySchema(entity))))
}

// calibrateSchema is the calibration's answer schema in wire order.
func calibrateSchema(labels ...string) string {
	return objSchema("mentions", arraySchema(objSchema("id", intSchema, "text", strSchema, "label", enumSchema(labels...))))
}

// withSchema is the response_format of a request of kind with schema.
func withSchema(kind, schema string, extra map[string]any) map[string]any {
	out := map[string]any{"response_format": map[string]any{"type": "json_schema", "json_schema": map[string]any{
		"name": "zeroner_" + strings.ReplaceAll(kind, "-", "_"), "schema": json.RawMessage(schema)}}}
	maps.Copy(out, extra)
	return out
}

// narrowed is a mediation or calibration input in narrowed mode;
// wholeSchema the same mentions in whole-schema mode.
var (
	narrowed = map[string]any{"passages": []any{map[string]any{
		"text": "The data system of Google runs in Canada and Canada .",
		"mentions": []any{
			map[string]any{"id": 1, "text": "Google", "archetype": "organization", "candidates": []string{"organisation", "university", "misc"}},
			map[string]any{"id": 2, "text": "Canada", "occurrence": 1, "archetype": "location", "candidates": []string{"country", "misc"}},
			map[string]any{"id": 3, "text": "Canada", "occurrence": 2, "archetype": "location", "candidates": []string{"country", "misc"}},
		},
	}}}
	wholeSchema = map[string]any{"passages": []any{map[string]any{
		"text": "The data system of Google runs in Canada and Canada .",
		"mentions": []any{
			map[string]any{"id": 1, "text": "Google", "archetype": "organization", "likely": []string{"organisation", "university"}},
			map[string]any{"id": 2, "text": "Canada", "occurrence": 1, "archetype": "location", "likely": []string{"country"}},
			map[string]any{"id": 3, "text": "Canada", "occurrence": 2, "archetype": "location"},
		},
	}}}
)

type mentionAnswer struct {
	ID        int    `json:"id"`
	Text      string `json:"text"`
	Archetype string `json:"archetype"`
	Label     string `json:"label"`
}

func mentionsOf(t *testing.T, content string) []mentionAnswer {
	t.Helper()
	var a struct{ Mentions []mentionAnswer }
	if err := json.Unmarshal([]byte(content), &a); err != nil {
		t.Fatalf("%v: %s", err, content)
	}
	return a.Mentions
}

type passageAnswer struct {
	ID       int               `json:"id"`
	Entities []json.RawMessage `json:"entities"`
	Mentions []json.RawMessage `json:"mentions"`
}

func passagesOf(t *testing.T, content string) []passageAnswer {
	t.Helper()
	var a struct{ Passages []passageAnswer }
	if err := json.Unmarshal([]byte(content), &a); err != nil {
		t.Fatalf("%v: %s", err, content)
	}
	return a.Passages
}

func TestWholeSchemaCalibrate(t *testing.T) {
	other := &pipeline.Schema{Name: "x", Fallback: "other", Labels: []pipeline.Label{{Name: "organisation"}, {Name: "country"}, {Name: "other"}}}
	tests := []struct {
		name   string
		opt    Options
		schema string // "" for none
		want   []string
	}{
		{"gold labels allowed", Options{}, calibrateSchema("country", "organisation", "misc", "researcher"), []string{"organisation", "country", "misc"}},
		{"gold labels not allowed: misc", Options{}, calibrateSchema("person", "location", "misc"), []string{"misc", "misc", "misc"}},
		{"no schema: any gold label", Options{}, "", []string{"organisation", "country", "misc"}},
		{"the fallback of a known schema", Options{Schemas: []*pipeline.Schema{other}}, calibrateSchema("other", "country", "organisation"), []string{"organisation", "country", "other"}},
		{"no misc, no known schema: the last", Options{}, calibrateSchema("organisation", "country", "person"), []string{"organisation", "country", "person"}},
		// Label noise takes the label that is likely for the archetype.
		{"noise prefers the likely labels", Options{Noise: Noise{Label: 1}}, calibrateSchema("organisation", "university", "country", "misc"), []string{"university"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTest(t, tt.opt)
			var extra map[string]any
			if tt.schema != "" {
				extra = withSchema(KindCalibrate, tt.schema, nil)
			}
			content := ask(t, ts.URL, chatBody(KindCalibrate, wholeSchema, extra)).Choices[0].Message.Content
			got := mentionsOf(t, content)
			if len(got) != 3 {
				t.Fatalf("answer %s", content)
			}
			for k, want := range tt.want {
				if got[k].ID != k+1 || got[k].Text != []string{"Google", "Canada", "Canada"}[k] || got[k].Label != want {
					t.Errorf("mention %d: %+v, want label %q", k+1, got[k], want)
				}
			}
		})
	}
}

func TestParseSchema(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		path   []string
		props  []string // of the node at path
		enum   []string
	}{
		{"order kept", objSchema("b", strSchema, "a", strSchema, "c", strSchema), nil, []string{"b", "a", "c"}, nil},
		{"through items and anyOf", anchorSchema("x", "y"), []string{"passages", "entities", "label"}, nil, []string{"x", "y"}},
		{"nullable enum", objSchema("label", `{"anyOf":[{"type":"string","enum":["a","b"]},{"type":"null"}]}`), []string{"label"}, nil, []string{"a", "b"}},
		{"boolean schemas and other keywords skipped", `{"$defs":{"x":{"properties":{"z":{}}}},"properties":{"a":true,"b":{"items":false,"description":"[{"}},"required":["a"]}`,
			nil, []string{"a", "b"}, nil},
		{"missing", calibrateSchema("a"), []string{"passages"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseSchema(json.RawMessage(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			at := n.lookup(tt.path...)
			var props []string
			if at != nil {
				props = at.props
			}
			if !reflect.DeepEqual(props, tt.props) || !reflect.DeepEqual(n.enumAt(tt.path...), tt.enum) {
				t.Errorf("properties %q, enum %q", props, n.enumAt(tt.path...))
			}
		})
	}
	if _, err := parseSchema(json.RawMessage(`{"properties":[}`)); err == nil {
		t.Error("a broken schema is read")
	}
}
