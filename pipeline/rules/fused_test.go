package rules

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/schemas"
)

// stagesApart runs the three stages one call each, every call tokenising
// its documents afresh, as the job's separate stage activities do.
func stagesApart(t testing.TB, b *Backend, docs []pipeline.Document) pipeline.Staged {
	t.Helper()
	ctx := context.Background()
	d, err := b.Discover(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	// Each stage reads its own copy, as from the previous stage's table.
	m, err := b.Mediate(ctx, docs, slicesClone(d.Mentions))
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Calibrate(ctx, docs, slicesClone(m.Mentions))
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Staged{Discover: d, Mediate: m, Calibrate: c}
}

func slicesClone(ms []pipeline.Mention) []pipeline.Mention {
	return append([]pipeline.Mention(nil), ms...)
}

// devDocs are a domain's dev sentences as documents: one sentence each, and
// the same sentences again packed five to a document.
func devDocs(t testing.TB, dom string) []pipeline.Document {
	sents := readDev(t, dataset.Path(t, "crossner", dom, "dev.txt"))
	var docs []pipeline.Document
	var pack []string
	for i, s := range sents {
		docs = append(docs, pipeline.Document{ID: fmt.Sprintf("s%05d", i), Text: s.Text})
		if pack = append(pack, s.Text); len(pack) == 5 || i == len(sents)-1 {
			docs = append(docs, pipeline.Document{ID: fmt.Sprintf("p%05d", i), Text: strings.Join(pack, " ")})
			pack = pack[:0]
		}
	}
	return docs
}

// The one-pass path must give every stage the same output as the stages
// run apart, on each CrossNER dev split.
func TestAnnotateStagesEqualsStagesApart(t *testing.T) {
	for _, dom := range domains {
		s, err := schemas.Load("crossner-" + dom)
		if err != nil {
			t.Fatal(err)
		}
		b := New(s)
		docs := devDocs(t, dom)
		want := stagesApart(t, b, docs)
		got, err := b.AnnotateStages(context.Background(), docs)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Calibrate.Mentions) < len(docs) {
			t.Fatalf("%s: %d mentions in %d documents: too few to compare", dom, len(want.Calibrate.Mentions), len(docs))
		}
		for _, st := range []struct {
			name      string
			got, want pipeline.Result
		}{{"discover", got.Discover, want.Discover}, {"mediate", got.Mediate, want.Mediate}, {"calibrate", got.Calibrate, want.Calibrate}} {
			if !reflect.DeepEqual(st.got, st.want) {
				t.Errorf("%s %s: one pass differs from the stages apart (%d mentions, want %d)", dom, st.name, len(st.got.Mentions), len(st.want.Mentions))
			}
		}
	}
}

// An id given twice and an id with no document: the one pass reads the last
// text of an id, as the stages apart do, and records the same failures.
func TestAnnotateStagesOddIDs(t *testing.T) {
	s, err := schemas.Load("crossner-politics")
	if err != nil {
		t.Fatal(err)
	}
	b := New(s)
	docs := []pipeline.Document{
		{ID: "a", Text: "Angela Merkel met the Social Democratic Party in Berlin ."},
		{ID: "a", Text: "Yes ."},
		{ID: "b", Text: "Emmanuel Macron spoke in Paris ."},
	}
	want := stagesApart(t, b, docs)
	got, err := b.AnnotateStages(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("one pass:\n%+v\nstages apart:\n%+v", got, want)
	}
	if len(got.Mediate.Failures) == 0 {
		t.Errorf("no failure for the first a's mentions past the end of the last a: %+v", got.Mediate)
	}
}

// The calibrated mentions over the politics dev split through
// pipeline.Annotate (one pass) are those of the stages apart.
func TestAnnotateUsesOnePass(t *testing.T) {
	s, err := schemas.Load("crossner-politics")
	if err != nil {
		t.Fatal(err)
	}
	b := New(s)
	docs := devDocs(t, "politics")
	r, err := pipeline.Annotate(context.Background(), b, docs)
	if err != nil {
		t.Fatal(err)
	}
	want := stagesApart(t, b, docs)
	if !reflect.DeepEqual(r.Mentions, want.Calibrate.Mentions) || len(r.Failures) != 0 {
		t.Errorf("pipeline.Annotate: %d mentions, %d failures; want the %d of the stages apart", len(r.Mentions), len(r.Failures), len(want.Calibrate.Mentions))
	}
}

// BenchmarkBackendStages is BenchmarkBackend with the stages run apart, each
// tokenising the documents again, as before the one-pass path.
func BenchmarkBackendStages(b *testing.B) {
	sents := readDev(b, dataset.Path(b, "crossner", "politics", "dev.txt"))
	s, err := schemas.Load("crossner-politics")
	if err != nil {
		b.Fatal(err)
	}
	be := New(s)
	docs := make([]pipeline.Document, len(sents))
	for i, d := range sents {
		docs[i] = pipeline.Document{ID: fmt.Sprintf("%06d", i), Text: d.Text}
	}
	b.ResetTimer()
	for b.Loop() {
		stagesApart(b, be, docs)
	}
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
