package eval

import (
	"math"
	"strings"
	"testing"
)

// counts are the (TP, pred, gold) of a PRF.
type counts [3]int

func countsOf(c PRF) counts { return counts{c.TP, c.Pred, c.Gold} }

func TestScore(t *testing.T) {
	const text = "Paris and Paris met Ada Lovelace ."
	// Offsets in text: Paris [0,5), Paris [10,15), Ada [20,23),
	// Lovelace [24,32), Ada Lovelace [20,32).
	tests := []struct {
		name       string
		docs       []Doc
		strict     counts
		noMisc     counts
		span       counts
		samner     counts
		errors     Errors
		strictF1   float64
		wantLabels map[string]counts
	}{
		{
			name:     "exact match",
			docs:     []Doc{{Text: text, Gold: []Span{{20, 32, "person"}}, Pred: []Span{{20, 32, "person"}}}},
			strict:   counts{1, 1, 1},
			noMisc:   counts{1, 1, 1},
			span:     counts{1, 1, 1},
			samner:   counts{1, 1, 1},
			errors:   Errors{Correct: 1},
			strictF1: 100,
		},
		{
			name:     "partial overlap is a miss and a false alarm",
			docs:     []Doc{{Text: text, Gold: []Span{{20, 32, "person"}}, Pred: []Span{{24, 32, "person"}}}},
			strict:   counts{0, 1, 1},
			noMisc:   counts{0, 1, 1},
			span:     counts{0, 1, 1},
			samner:   counts{0, 1, 1},
			errors:   Errors{Boundary: 1},
			strictF1: 0,
		},
		{
			name: "right span, wrong label",
			docs: []Doc{{Text: text, Gold: []Span{{20, 32, "person"}}, Pred: []Span{{20, 32, "organisation"}}}},
			// Span-only counts it; strict does not.
			strict: counts{0, 1, 1}, noMisc: counts{0, 1, 1}, span: counts{1, 1, 1}, samner: counts{0, 1, 1},
			errors: Errors{Label: 1},
			wantLabels: map[string]counts{
				"person":       {0, 0, 1},
				"organisation": {0, 1, 0},
			},
		},
		{
			name:   "nested prediction inside a right one",
			docs:   []Doc{{Text: text, Gold: []Span{{20, 32, "person"}}, Pred: []Span{{20, 32, "person"}, {20, 23, "person"}}}},
			strict: counts{1, 2, 1}, noMisc: counts{1, 2, 1}, span: counts{1, 2, 1}, samner: counts{1, 2, 1},
			errors:   Errors{Correct: 1, Boundary: 1},
			strictF1: 2 * 50 * 100 / 150.0,
		},
		{
			name:   "nested gold",
			docs:   []Doc{{Text: text, Gold: []Span{{20, 32, "person"}, {24, 32, "misc"}}, Pred: []Span{{24, 32, "misc"}}}},
			strict: counts{1, 1, 2}, noMisc: counts{0, 0, 1}, span: counts{1, 1, 2}, samner: counts{1, 1, 2},
			errors:   Errors{Correct: 1},
			strictF1: 200 / 3.0,
		},
		{
			name: "duplicate prediction counts once as right, once as wrong",
			docs: []Doc{{Text: text, Gold: []Span{{0, 5, "location"}}, Pred: []Span{{0, 5, "location"}, {0, 5, "location"}}}},
			// SAM-NER's sets forgive the duplicate.
			strict: counts{1, 2, 1}, noMisc: counts{1, 2, 1}, span: counts{1, 2, 1}, samner: counts{1, 1, 1},
			errors:   Errors{Correct: 2},
			strictF1: 200 / 3.0,
		},
		{
			name:   "repeated mention found once: SAM-NER's sets count it once",
			docs:   []Doc{{Text: text, Gold: []Span{{0, 5, "location"}, {10, 15, "location"}}, Pred: []Span{{0, 5, "location"}}}},
			strict: counts{1, 1, 2}, noMisc: counts{1, 1, 2}, span: counts{1, 1, 2}, samner: counts{1, 1, 1},
			errors:   Errors{Correct: 1, Missed: 1},
			strictF1: 200 / 3.0,
		},
		{
			name:   "SAM-NER ignores offsets: the other occurrence scores",
			docs:   []Doc{{Text: text, Gold: []Span{{0, 5, "location"}}, Pred: []Span{{10, 15, "location"}}}},
			strict: counts{0, 1, 1}, noMisc: counts{0, 1, 1}, span: counts{0, 1, 1}, samner: counts{1, 1, 1},
			errors: Errors{Spurious: 1, Missed: 1},
		},
		{
			name: "misc kept and dropped, case-insensitively",
			docs: []Doc{{Text: text,
				Gold: []Span{{0, 5, "MISC"}, {20, 32, "person"}},
				Pred: []Span{{0, 5, "MISC"}, {20, 32, "MISC"}}}},
			// Dropping misc removes a right and a wrong prediction and one gold.
			strict: counts{1, 2, 2}, noMisc: counts{0, 0, 1}, span: counts{2, 2, 2}, samner: counts{1, 2, 2},
			errors:   Errors{Correct: 1, Label: 1},
			strictF1: 50,
			wantLabels: map[string]counts{
				"MISC":   {1, 2, 1},
				"person": {0, 0, 1},
			},
		},
		{
			name:   "empty predictions",
			docs:   []Doc{{Text: text, Gold: []Span{{0, 5, "location"}, {20, 32, "person"}}}},
			strict: counts{0, 0, 2}, noMisc: counts{0, 0, 2}, span: counts{0, 0, 2}, samner: counts{0, 0, 2},
			errors: Errors{Missed: 2},
		},
		{
			name:   "empty gold",
			docs:   []Doc{{Text: text, Pred: []Span{{0, 5, "location"}}}},
			strict: counts{0, 1, 0}, noMisc: counts{0, 1, 0}, span: counts{0, 1, 0}, samner: counts{0, 1, 0},
			errors: Errors{Spurious: 1},
		},
		{
			name: "a sentence with no entities changes nothing",
			docs: []Doc{
				{Text: text, Gold: []Span{{20, 32, "person"}}, Pred: []Span{{20, 32, "person"}}},
				{Text: "Nothing to see here ."},
			},
			strict: counts{1, 1, 1}, noMisc: counts{1, 1, 1}, span: counts{1, 1, 1}, samner: counts{1, 1, 1},
			errors:   Errors{Correct: 1},
			strictF1: 100,
		},
		{
			name: "no docs at all",
		},
		{
			name: "micro over sentences",
			docs: []Doc{
				{Text: text, Gold: []Span{{20, 32, "person"}}, Pred: []Span{{20, 32, "person"}}},
				{Text: text, Gold: []Span{{0, 5, "location"}, {10, 15, "location"}}, Pred: []Span{{0, 5, "person"}}},
			},
			strict: counts{1, 2, 3}, noMisc: counts{1, 2, 3}, span: counts{2, 2, 3}, samner: counts{1, 2, 2},
			errors:   Errors{Correct: 1, Label: 1, Missed: 1},
			strictF1: 2 * 50 * (100 / 3.0) / (50 + 100/3.0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Score("test", tt.docs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want counts
			}{
				{"strict", countsOf(r.Strict), tt.strict},
				{"no misc", countsOf(r.StrictNoMisc), tt.noMisc},
				{"span", countsOf(r.Span), tt.span},
				{"SAM-NER", countsOf(r.SAMNER), tt.samner},
			} {
				if c.got != c.want {
					t.Errorf("%s (TP, pred, gold) = %v, want %v", c.name, c.got, c.want)
				}
			}
			if r.Errors != tt.errors {
				t.Errorf("errors %+v, want %+v", r.Errors, tt.errors)
			}
			if math.Abs(r.Strict.F1-tt.strictF1) > 1e-9 {
				t.Errorf("strict F1 %v, want %v", r.Strict.F1, tt.strictF1)
			}
			for _, l := range r.Labels {
				if want, ok := tt.wantLabels[l.Label]; ok && countsOf(l.PRF) != want {
					t.Errorf("label %s (TP, pred, gold) = %v, want %v", l.Label, countsOf(l.PRF), want)
				}
			}
			checkConsistent(t, r)
		})
	}
}

// checkConsistent checks what must hold of any Results: the confusion
// matrix agrees with the span and strict counts, the labels add up to
// strict, and every F1 follows from its counts.
func checkConsistent(t *testing.T, r Results) {
	t.Helper()
	c := r.Confusion
	var all, diag, missed, spurious int
	for i, row := range c.Counts {
		for j, n := range row {
			all += n
			if i == j {
				diag += n
			}
		}
		missed += c.Missed[i]
		spurious += c.Spurious[i]
	}
	if all != r.Span.TP || diag != r.Strict.TP {
		t.Errorf("confusion sums to %d with diagonal %d; want span TP %d, strict TP %d", all, diag, r.Span.TP, r.Strict.TP)
	}
	if missed != r.Span.Gold-r.Span.TP || spurious != r.Span.Pred-r.Span.TP {
		t.Errorf("missed %d spurious %d; want %d and %d", missed, spurious, r.Span.Gold-r.Span.TP, r.Span.Pred-r.Span.TP)
	}
	var sum counts
	for _, l := range r.Labels {
		sum[0] += l.TP
		sum[1] += l.Pred
		sum[2] += l.Gold
	}
	if sum != countsOf(r.Strict) {
		t.Errorf("labels add up to %v, strict is %v", sum, countsOf(r.Strict))
	}
	for _, p := range []PRF{r.Strict, r.StrictNoMisc, r.Span, r.SAMNER} {
		want := p
		want.finish()
		if p != want {
			t.Errorf("%+v: P, R, F1 do not follow from the counts", p)
		}
		if p.F1 < 0 || p.F1 > 100 {
			t.Errorf("F1 %v out of range", p.F1)
		}
	}
}

func TestScoreRejectsBadSpans(t *testing.T) {
	for _, s := range []Span{{-1, 2, "x"}, {3, 3, "x"}, {4, 2, "x"}, {0, 99, "x"}} {
		_, err := Score("bad", []Doc{{ID: "d", Text: "Ada Lovelace", Pred: []Span{s}}}, Options{})
		if err == nil || !strings.Contains(err.Error(), `doc "d"`) {
			t.Errorf("span %v: err %v, want an error naming the doc", s, err)
		}
	}
}

func TestScoreCodePoints(t *testing.T) {
	// "Zürich" and "東京" are 6 and 2 code points, not bytes.
	text := "Zürich , 東京"
	r, err := Score("cp", []Doc{{Text: text, Gold: []Span{{0, 6, "city"}, {9, 11, "city"}}, Pred: []Span{{0, 6, "city"}, {9, 11, "city"}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.SAMNER.TP != 2 || r.Strict.F1 != 100 {
		t.Errorf("SAM-NER TP %d, strict F1 %v: want 2 and 100", r.SAMNER.TP, r.Strict.F1)
	}
}

func TestMeanAndGroups(t *testing.T) {
	mk := func(name string, strict, span float64) Results {
		return Results{Name: name, Strict: PRF{F1: strict, P: strict, R: strict}, Span: PRF{F1: span}}
	}
	rs := []Results{mk("crossner-ai", 40, 70), mk("crossner-music", 60, 80), mk("mit-restaurant", 10, 20)}
	m := Mean("x", rs[:2])
	if m.Strict.F1 != 50 || m.Span.F1 != 75 || m.Strict.P != 50 || len(m.Datasets) != 2 {
		t.Errorf("Mean = %+v, want strict 50, span 75 over 2 data sets", m)
	}
	tests := []struct {
		name string
		rs   []Results
		want []string
	}{
		{"one data set", rs[:1], nil},
		{"one group", rs[:2], []string{"crossner average"}},
		{"a group and one more", rs, []string{"crossner average", "average"}},
		{"no groups", []Results{mk("a", 1, 1), mk("b", 1, 1)}, []string{"average"}},
	}
	for _, tt := range tests {
		var got []string
		for _, a := range Groups(tt.rs) {
			got = append(got, a.Name)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: Groups = %v, want %v", tt.name, got, tt.want)
		}
	}
	if a := Groups(rs); a[0].Strict.F1 != 50 || math.Abs(a[1].Strict.F1-110/3.0) > 1e-9 {
		t.Errorf("Groups(rs) = %+v", a)
	}
}
