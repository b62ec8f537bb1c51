package retriever

import (
	"math"
	"testing"
)

func TestRPrecision(t *testing.T) {
	rel := func(ids ...string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	tests := []struct {
		name     string
		ranked   []string
		relevant map[string]bool
		want     float64
	}{
		{"all first", []string{"a", "b", "x", "y"}, rel("a", "b"), 1},
		{"one of two", []string{"a", "x", "b"}, rel("a", "b"), 0.5},
		{"beyond R does not count", []string{"x", "y", "a", "b"}, rel("a", "b"), 0},
		{"short ranking misses", []string{"a"}, rel("a", "b", "c", "d"), 0.25},
		{"empty ranking", nil, rel("a"), 0},
		{"duplicate counts once", []string{"a", "a", "b"}, rel("a", "b", "c"), 2.0 / 3},
		{"false is not relevant", []string{"a", "b"}, map[string]bool{"a": true, "b": false}, 1},
		{"no relevant", []string{"a"}, nil, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RPrecision(tt.ranked, tt.relevant)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("RPrecision = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMacroAverage(t *testing.T) {
	tests := []struct {
		name   string
		scores map[string]float64
		want   float64
	}{
		{"mean", map[string]float64{"city": 1, "person": 0.5, "team": 0}, 0.5},
		{"skips NaN", map[string]float64{"city": 0.2, "empty": math.NaN(), "team": 0.4}, 0.3},
		{"all NaN", map[string]float64{"empty": math.NaN()}, math.NaN()},
		{"none", nil, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MacroAverage(tt.scores)
			if !(math.Abs(got-tt.want) < 1e-12 || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("MacroAverage = %v, want %v", got, tt.want)
			}
		})
	}
}
