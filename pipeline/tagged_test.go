package pipeline

import (
	"context"
	"testing"

	"github.com/zeroner/zeroner/pipeline/text"
)

func TestTaggedMention(t *testing.T) {
	s, err := ParseSchema([]byte("name: s\nlabels:\n  - {name: city, description: a city, archetypes: [location]}\n  - {name: thing, description: other}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Document{ID: "d1", Text: "In Zürich and Köln."}
	offs := text.NewRuneOffsets(d.Text)
	tests := []struct {
		name       string
		schema     *Schema
		start, end int
		label      string
		wantText   string
		wantArch   Archetype
	}{
		{"label with an archetype", s, 3, 9, "city", "Zürich", Location},
		{"label without one", s, 14, 18, "thing", "Köln", Misc},
		{"label outside the schema", s, 14, 18, "river", "Köln", Misc},
		{"no schema", nil, 3, 9, "city", "Zürich", Misc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := Tagged{Schema: tt.schema, Extractor: "x"}
			m := tg.Mention(d, offs, tt.start, tt.end, tt.label, 0.5)
			if m.Text != tt.wantText || m.Archetype != tt.wantArch || m.Label != tt.label ||
				m.DocID != "d1" || m.Start != tt.start || m.End != tt.end || m.Score != 0.5 ||
				len(m.Extractors) != 1 || m.Extractors[0] != "x" {
				t.Errorf("Mention = %+v, want text %q archetype %s", m, tt.wantText, tt.wantArch)
			}
		})
	}
	ms := []Mention{{DocID: "d1", Label: "city"}}
	for _, stage := range []func(context.Context, []Document, []Mention) (Result, error){Tagged{}.Mediate, Tagged{}.Calibrate} {
		r, err := stage(context.Background(), nil, ms)
		if err != nil || len(r.Mentions) != 1 || r.Mentions[0].Label != "city" {
			t.Errorf("stage = %+v, %v; want the mentions kept", r, err)
		}
	}
}
