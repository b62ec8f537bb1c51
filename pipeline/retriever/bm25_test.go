package retriever

import (
	"math"
	"testing"
)

func TestBM25(t *testing.T) {
	// Words: 6, 4 and 2, so N = 3 and the average length is 4. "cat" is in
	// two texts: idf = ln(1 + (3-2+0.5)/(2+0.5)) = ln 1.6; "mat" in one:
	// idf = ln(1 + 2.5/1.5) = ln(8/3). With k1 = 1.2, b = 0.75 and tf = 1,
	// the weight is idf·2.2/(1 + 1.2·(0.25 + 0.75·len/4)):
	//   text 0 (len 6): idf·2.2/2.65, text 1 (len 4): idf·2.2/2.2 = idf.
	docs := []string{
		"The cat sat on the mat.",
		"Dogs chase the CAT!",
		"A bird.",
	}
	cat0 := math.Log(1.6) * 2.2 / 2.65 // 0.390192
	cat1 := math.Log(1.6)              // 0.470004
	mat0 := math.Log(8.0/3) * 2.2 / 2.65
	// With stop words kept, "the" is in two texts too, twice in text 0:
	// idf·2·2.2/(2 + 1.65).
	the0 := math.Log(1.6) * 2 * 2.2 / 3.65
	tests := []struct {
		name  string
		opt   BM25Options
		query string
		k     int
		want  []Scored
	}{
		{"one term, shorter text first", BM25Options{}, "the cat", 0, []Scored{{1, cat1}, {0, cat0}}},
		{"two terms", BM25Options{}, "cat mat", 0, []Scored{{0, cat0 + mat0}, {1, cat1}}},
		{"repeated query term counts once", BM25Options{}, "cat cat mat", 0, []Scored{{0, cat0 + mat0}, {1, cat1}}},
		{"k", BM25Options{}, "cat mat", 1, []Scored{{0, cat0 + mat0}}},
		{"case and punctuation", BM25Options{}, "CAT?", 0, []Scored{{1, cat1}, {0, cat0}}},
		{"stop words only", BM25Options{}, "the on a", 0, []Scored{}},
		{"stop words kept", BM25Options{KeepStopWords: true}, "the", 0, []Scored{{0, the0}, {1, cat1}}},
		{"no length normalisation", BM25Options{B: -1}, "cat", 0, []Scored{{0, math.Log(1.6)}, {1, math.Log(1.6)}}},
		{"unknown word", BM25Options{}, "zebra", 5, []Scored{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewBM25(docs, tt.opt).Search(tt.query, tt.k)
			if len(got) != len(tt.want) {
				t.Fatalf("Search(%q) = %v, want %v", tt.query, got, tt.want)
			}
			for i := range got {
				if got[i].Index != tt.want[i].Index || math.Abs(got[i].Score-tt.want[i].Score) > 1e-9 {
					t.Errorf("Search(%q)[%d] = %v, want %v", tt.query, i, got[i], tt.want[i])
				}
			}
		})
	}
	if math.Abs(cat0-0.390192) > 1e-6 || math.Abs(cat0+mat0-1.204465) > 1e-6 {
		t.Errorf("hand-computed weights: %v %v", cat0, cat0+mat0)
	}
}

func TestBM25Empty(t *testing.T) {
	m := NewBM25(nil, BM25Options{})
	if m.Len() != 0 || len(m.Search("cat", 3)) != 0 {
		t.Error("an empty index found something")
	}
	m = NewBM25([]string{"", "..."}, BM25Options{})
	if got := m.Search("cat", 3); len(got) != 0 {
		t.Errorf("texts without words matched: %v", got)
	}
}
