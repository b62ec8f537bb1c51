package evaluate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/internal/search"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
)

// inOrder is a searcher that answers every query with the first k of its
// documents.
type inOrder []string

func (s inOrder) SearchEach(_ context.Context, descs []string, ks []int) ([]search.SearchResult, error) {
	out := make([]search.SearchResult, len(descs))
	for i := range descs {
		for _, id := range s[:min(ks[i], len(s))] {
			out[i].Docs = append(out[i].Docs, search.DocResult{DocID: id})
		}
	}
	return out, nil
}

func TestScoreRetrieval(t *testing.T) {
	// Each sentence with its gold entities as word:label. Every gold entity
	// is a mention of the run but those of s1, which has none.
	sentences := [][2]string{
		{"Falcons beat Rovers.", "Falcons:team Rovers:team"},
		{"Ada wrote in Rome.", "Ada:person Rome:city"},
		{"Lyon and Porto.", "Lyon:city Porto:city"},
		{"Harriers met Wanderers.", "Harriers:team Wanderers:team"},
		{"Grace saw Leeds and Dynamo.", "Grace:person Leeds:city Dynamo:team"},
		{"Alan went to Bremen.", "Alan:person Bremen:city"},
	}
	var gold []eval.Doc
	var ms []eval.Mention
	var ids []string
	for i, s := range sentences {
		d := eval.Doc{ID: fmt.Sprintf("s%d", i), Text: s[0]}
		ids = append(ids, d.ID)
		for _, e := range strings.Fields(s[1]) {
			word, label, _ := strings.Cut(e, ":")
			start := strings.Index(d.Text, word) // ASCII: bytes are code points
			span := eval.Span{Start: start, End: start + len(word), Label: label}
			d.Gold = append(d.Gold, span)
			if d.ID != "s1" {
				ms = append(ms, eval.Mention{DocID: d.ID, Text: word, Span: span})
			}
		}
		gold = append(gold, d)
	}
	schema, err := pipeline.ParseSchema([]byte("name: t\nlabels:\n  - name: team\n    description: A sports team.\n  - name: city\n    description: A city.\n  - name: person\n    description: A person.\n  - name: ship\n    description: A ship.\n"))
	if err != nil {
		t.Fatal(err)
	}
	var d RetrievalDataset
	s := inOrder(ids)
	if err := scoreRetrieval(context.Background(), &d, gold, ms, schema, map[string]searcher{"raw": s, "head": s}); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		r     int
		reach float64
	}{"team": {3, 1}, "city": {4, 3.0 / 4}, "person": {3, 2.0 / 3}}
	if len(d.Labels) != len(want) {
		t.Fatalf("labels %+v: want team, city and person (ship has no gold)", d.Labels)
	}
	for _, l := range d.Labels {
		w := want[l.Label]
		if l.Relevant != w.r || l.Reach != w.reach || l.Query == "" {
			t.Errorf("%s: R %d, reach %v, query %q; want R %d, reach %v", l.Label, l.Relevant, l.Reach, l.Query, w.r, w.reach)
		}
		for _, sys := range systems {
			if v := l.Scores[sys]; v < 0 || v > 1 {
				t.Errorf("%s %s: R-Precision %v", l.Label, sys, v)
			}
		}
		if l.Scores["raw"] != l.Scores["head"] {
			t.Errorf("%s: the same searcher scored %v and %v", l.Label, l.Scores["raw"], l.Scores["head"])
		}
	}
	// BM25 matches words: "team", "city" and "person" occur in no sentence.
	if d.Macro["bm25"] != 0 || !(d.Macro["head"] > 0) {
		t.Errorf("macro %v: want BM25 0 and the index above it", d.Macro)
	}
	var b strings.Builder
	if err := WriteRetrievalMarkdown(&b, RetrievalReport{Backend: "rules", Encoder: "local", Datasets: []RetrievalDataset{d}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| team | 3 |") || !strings.Contains(b.String(), "**macro avg**") {
		t.Errorf("report:\n%s", b.String())
	}
}
