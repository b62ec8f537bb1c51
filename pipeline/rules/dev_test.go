package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/schemas"
)

// The development check: run the backend on the CrossNER dev splits (never
// test) and score it with pipeline/eval, the scorer "starter eval" uses. The floors sit a little below what the backend reaches,
// so a regression fails the test.

var domains = []string{"ai", "literature", "music", "politics", "science"}

// floors are the minimum dev F1 (span, strict) per domain, in percent.
var floors = map[string][2]float64{
	"ai":         {69, 46},
	"literature": {74, 47},
	"music":      {74, 48},
	"politics":   {79, 54},
	"science":    {71, 45},
	"average":    {73.5, 48.5},
}

// readDev reads a CrossNER split with the corpus reader, one sentence per
// document: text and gold spans in code points.
func readDev(t testing.TB, path string) []eval.Doc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []eval.Doc
	err = corpus.ReadBIO(f, path, corpus.Options{}, func(d corpus.Doc) error {
		gold := make([]eval.Span, len(d.Gold))
		for i, g := range d.Gold {
			gold[i] = eval.Span{Start: g.Start, End: g.End, Label: g.Label}
		}
		docs = append(docs, eval.Doc{ID: d.ID, Text: d.Text, Gold: gold})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// run annotates docs with the backend's three stages and sets their
// predictions.
func run(t testing.TB, b *Backend, docs []eval.Doc) {
	ctx := context.Background()
	in := make([]pipeline.Document, len(docs))
	for i, d := range docs {
		in[i] = pipeline.Document{ID: fmt.Sprintf("%06d", i), Text: d.Text}
	}
	r, err := pipeline.Annotate(ctx, b, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failures) > 0 {
		t.Fatalf("failures: %v", r.Failures[:1])
	}
	for i := range docs {
		docs[i].Pred = nil
	}
	for _, m := range r.Mentions {
		i, err := strconv.Atoi(m.DocID)
		if err != nil {
			t.Fatal(err)
		}
		docs[i].Pred = append(docs[i].Pred, eval.Span{Start: m.Start, End: m.End, Label: m.Label})
	}
}

func TestDevF1(t *testing.T) {
	if testing.Short() {
		t.Skip("dev scoring in -short mode")
	}
	var rs []eval.Results
	for _, dom := range domains {
		docs := readDev(t, dataset.Path(t, "crossner", dom, "dev.txt"))
		s, err := schemas.Load("crossner-" + dom)
		if err != nil {
			t.Fatal(err)
		}
		run(t, New(s), docs)
		r, err := eval.Score(dom, docs, eval.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
		t.Logf("%-10s span F1 %5.1f  strict F1 %5.1f  no misc %5.1f  SAM-NER %5.1f  (gold %d, predicted %d)",
			dom, r.Span.F1, r.Strict.F1, r.StrictNoMisc.F1, r.SAMNER.F1, r.Span.Gold, r.Span.Pred)
		checkFloor(t, dom, r.Span.F1, r.Strict.F1)
		if dir := os.Getenv("ZERONER_DEV_DUMP"); dir != "" {
			dump(t, filepath.Join(dir, dom+".txt"), docs)
		}
	}
	avg := eval.Mean("average", rs)
	t.Logf("%-10s span F1 %5.1f  strict F1 %5.1f  no misc %5.1f  SAM-NER %5.1f",
		"average", avg.Span.F1, avg.Strict.F1, avg.StrictNoMisc.F1, avg.SAMNER.F1)
	checkFloor(t, "average", avg.Span.F1, avg.Strict.F1)
}

func checkFloor(t *testing.T, dom string, span, strict float64) {
	f := floors[dom]
	if span < f[0] || strict < f[1] {
		t.Errorf("%s: dev F1 span %.1f strict %.1f below floor %.1f / %.1f", dom, span, strict, f[0], f[1])
	}
}

// dump writes each sentence's gold and predicted entities for error
// analysis: "=" both, "-" missed gold, "+" spurious prediction, "~" right
// span with the wrong label.
func dump(t *testing.T, path string, docs []eval.Doc) {
	var b strings.Builder
	for _, d := range docs {
		rs := []rune(d.Text)
		fmt.Fprintf(&b, "# %s\n", d.Text)
		gs := map[[2]int]string{}
		for _, g := range d.Gold {
			gs[[2]int{g.Start, g.End}] = g.Label
		}
		ps := map[[2]int]string{}
		for _, p := range d.Pred {
			ps[[2]int{p.Start, p.End}] = p.Label
			g, ok := gs[[2]int{p.Start, p.End}]
			switch {
			case !ok:
				fmt.Fprintf(&b, "+ %s\t%s\n", p.Label, string(rs[p.Start:p.End]))
			case g == p.Label:
				fmt.Fprintf(&b, "= %s\t%s\n", p.Label, string(rs[p.Start:p.End]))
			default:
				fmt.Fprintf(&b, "~ %s>%s\t%s\n", g, p.Label, string(rs[p.Start:p.End]))
			}
		}
		for _, g := range d.Gold {
			if _, ok := ps[[2]int{g.Start, g.End}]; !ok {
				fmt.Fprintf(&b, "- %s\t%s\n", g.Label, string(rs[g.Start:g.End]))
			}
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkBackend(b *testing.B) {
	docs := readDev(b, dataset.Path(b, "crossner", "politics", "dev.txt"))
	s, err := schemas.Load("crossner-politics")
	if err != nil {
		b.Fatal(err)
	}
	be := New(s)
	b.ResetTimer()
	for b.Loop() {
		run(b, be, docs)
	}
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
