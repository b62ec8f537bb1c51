package eval

import (
	"math"
	"strings"
	"testing"
)

func TestAddPredictions(t *testing.T) {
	tests := []struct {
		name    string
		ms      []Mention
		want    map[string]int // predictions by document
		wantErr string
	}{
		{name: "none", want: map[string]int{"a": 0, "b": 0}},
		{name: "to their documents", ms: []Mention{
			{DocID: "a", Text: "Paris", Span: Span{0, 5, "city"}},
			{DocID: "b", Text: "Ada", Span: Span{0, 3, "person"}},
			{DocID: "a", Text: "Lyon", Span: Span{10, 14, "city"}}},
			want: map[string]int{"a": 2, "b": 1}},
		{name: "not in the gold", ms: []Mention{{DocID: "c", Text: "Rome", Span: Span{0, 4, "city"}}},
			wantErr: `mention "Rome" of document c, which is not in the gold`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := []Doc{{ID: "a"}, {ID: "b"}}
			err := AddPredictions(docs, tt.ms)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("AddPredictions = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				if len(d.Pred) != tt.want[d.ID] {
					t.Errorf("%s: %d predictions, want %d", d.ID, len(d.Pred), tt.want[d.ID])
				}
			}
		})
	}
}

func TestScoreRetrieval(t *testing.T) {
	// Three documents: a and b hold a city, b and c a person.
	docs := []Doc{
		{ID: "a", Gold: []Span{{0, 5, "city"}}},
		{ID: "b", Gold: []Span{{0, 4, "city"}, {10, 13, "person"}}},
		{ID: "c", Gold: []Span{{0, 3, "person"}}},
	}
	tests := []struct {
		name      string
		ms        []Mention
		ranked    map[string][][]string
		want      map[string][2]float64 // label -> R-Precision of "x", reach
		wantMacro map[string]float64
	}{
		{
			name:      "perfect",
			ms:        []Mention{{DocID: "a", Span: Span{0, 5, "city"}}, {DocID: "b", Span: Span{0, 4, "city"}}, {DocID: "b", Span: Span{10, 13, "person"}}, {DocID: "c", Span: Span{0, 3, "person"}}},
			ranked:    map[string][][]string{"x": {{"a", "b"}, {"c", "b"}}},
			want:      map[string][2]float64{"city": {1, 1}, "person": {1, 1}},
			wantMacro: map[string]float64{"x": 1, "reach": 1},
		},
		{
			name: "half found, half reached",
			// A mention overlapping a gold span of another label reaches
			// that label: reach asks whether retrieval can find the
			// document, not whether the run typed it right.
			ms:        []Mention{{DocID: "a", Span: Span{2, 8, "person"}}, {DocID: "c", Span: Span{5, 9, "person"}}, {DocID: "z", Span: Span{0, 9, "city"}}},
			ranked:    map[string][][]string{"x": {{"a", "c"}, {"a", "a"}}},
			want:      map[string][2]float64{"city": {0.5, 0.5}, "person": {0, 0}},
			wantMacro: map[string]float64{"x": 0.25, "reach": 0.25},
		},
		{
			name:      "repeats count once, beyond R not at all",
			ranked:    map[string][][]string{"x": {{"a", "a", "b"}, {}}},
			want:      map[string][2]float64{"city": {0.5, 0}, "person": {0, 0}},
			wantMacro: map[string]float64{"x": 0.25, "reach": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, macro := ScoreRetrieval(docs, tt.ms, []string{"city", "person"}, tt.ranked, []string{"x"})
			if len(got) != 2 {
				t.Fatalf("scores %+v: want city and person", got)
			}
			for _, s := range got {
				w := tt.want[s.Label]
				if s.Relevant != 2 || s.Scores["x"] != w[0] || s.Reach != w[1] {
					t.Errorf("%s: R %d, R-Precision %v, reach %v; want R 2, %v, %v", s.Label, s.Relevant, s.Scores["x"], s.Reach, w[0], w[1])
				}
			}
			for k, v := range tt.wantMacro {
				if math.Abs(macro[k]-v) > 1e-12 {
					t.Errorf("macro %s %v, want %v", k, macro[k], v)
				}
			}
			if len(macro) != len(tt.wantMacro) {
				t.Errorf("macro %v: want the keys of %v", macro, tt.wantMacro)
			}
		})
	}
}

func TestRelevant(t *testing.T) {
	got := Relevant([]Doc{{ID: "a", Gold: []Span{{0, 1, "x"}, {2, 3, "x"}}}, {ID: "b", Gold: []Span{{0, 1, "y"}}}, {ID: "c"}})
	if len(got) != 2 || len(got["x"]) != 1 || !got["x"]["a"] || !got["y"]["b"] {
		t.Errorf("Relevant = %v, want x: a, y: b", got)
	}
}
