package retriever

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// corpus makes one-mention sentences of four types from templates, some of
// which name the type and some of which any type could fill.
func corpus(seed uint64, n int) ([]Mention, []string) {
	r := rand.New(rand.NewPCG(seed, 5))
	syl := []string{"ka", "lo", "mer", "dan", "vi", "tor", "sel", "ra", "bun", "ek", "mo", "zi"}
	word := func() string {
		var sb strings.Builder
		for range 2 + r.IntN(2) {
			sb.WriteString(syl[r.IntN(len(syl))])
		}
		s := sb.String()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	name := map[string]func() string{
		"city":    func() string { return word() + pick("ville", "burg", "ton", "") },
		"person":  func() string { return word() + " " + word() },
		"team":    func() string { return word() + " " + pick("United", "Rovers", "FC", "Athletic") },
		"company": func() string { return word() + " " + pick("Corp.", "Inc.", "Ltd", "Group") },
	}
	templates := map[string][]string{
		"city":    {"Protesters gathered in the city of %s on Sunday.", "The mayor of %s opened a new bridge.", "Flights to %s were cancelled.", "We read about %s yesterday."},
		"person":  {"Mr. %s said the plan would fail.", "According to %s, she was born in May.", "The novelist %s won a prize.", "We read about %s yesterday."},
		"team":    {"The fans cheered as %s won the match.", "%s beat their rivals in the league.", "The coach of %s was sacked.", "We read about %s yesterday."},
		"company": {"Shares in %s rose after its profits grew.", "%s hired a new chief executive.", "The firm %s sells software to banks.", "We read about %s yesterday."},
	}
	types := []string{"city", "company", "person", "team"}
	var ms []Mention
	var labels []string
	for range n {
		typ := types[r.IntN(len(types))]
		nm := name[typ]()
		tpl := templates[typ][r.IntN(4)]
		s := fmt.Sprintf(tpl, nm)
		i := strings.Index(s, nm)
		start := len([]rune(s[:i]))
		ms = append(ms, Mention{Text: s, Start: start, End: start + len([]rune(nm))})
		labels = append(labels, typ)
	}
	return ms, labels
}

// rPrecisionOf ranks the mentions by cosine with each type's query and
// macro-averages R-Precision.
func rPrecisionOf(queries map[string][]float32, vecs [][]float32, labels []string) float64 {
	scores := map[string]float64{}
	for typ, q := range queries {
		idx := iota(len(vecs))
		sim := make([]float32, len(vecs))
		for i, v := range vecs {
			sim[i] = dot(q, v)
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(sim[b], sim[a]) })
		ranked := make([]string, len(idx))
		relevant := map[string]bool{}
		for k, i := range idx {
			ranked[k] = fmt.Sprint(i)
			if labels[i] == typ {
				relevant[fmt.Sprint(i)] = true
			}
		}
		scores[typ] = RPrecision(ranked, relevant)
	}
	return MacroAverage(scores)
}

// TestLocalWithHead runs the method end to end on template sentences: local
// vectors, silver triplets (10% wrong labels), a trained head, R-Precision
// on held-out mentions before and after.
func TestLocalWithHead(t *testing.T) {
	ctx := context.Background()
	ms, gold := corpus(1, 1200)
	l := NewLocal(512)
	raw := encodeMentions(t, l, ms...)
	descs := []string{"city", "company", "person", "sports team"}
	qv := encodeQueries(t, l, descs...)
	queries := map[string][]float32{"city": qv[0], "company": qv[1], "person": qv[2], "team": qv[3]}

	r := rand.New(rand.NewPCG(2, 2))
	silver := slices.Clone(gold)
	for i := range silver {
		if r.IntN(10) == 0 {
			silver[i] = []string{"city", "company", "person", "team"}[r.IntN(4)]
		}
	}
	trV, trL, teV, _ := split(raw, silver)
	_, _, _, teGold := split(raw, gold)
	ts := Triplets(queries, trV, trL, TripletOptions{Seed: 1})
	h := NewHead(512, HeadOptions{Hidden: 128, Out: 128, Seed: 1})
	if _, err := h.Train(ts, TrainOptions{Epochs: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	before := rPrecisionOf(queries, teV, teGold)
	e := h.Wrap(l)
	pq, err := e.Queries(ctx, descs)
	if err != nil {
		t.Fatal(err)
	}
	projected := map[string][]float32{"city": pq[0], "company": pq[1], "person": pq[2], "team": pq[3]}
	after := rPrecisionOf(projected, h.ApplyBatch(teV), teGold)
	t.Logf("held-out R-Precision, macro over 4 types: raw local vectors %.3f, with head %.3f", before, after)
	if after < before+0.1 {
		t.Errorf("R-Precision %.3f -> %.3f: the head does not help", before, after)
	}
}
