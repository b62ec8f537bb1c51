package llmsim_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/sam"
	"github.com/zeroner/zeroner/schemas"
)

var domains = []string{"ai", "literature", "music", "politics", "science"}

// serve starts the simulator on the given gold files and returns a model
// over it.
func serve(t *testing.T, opt llmsim.Options, cfg llm.Config) (*llmsim.Server, pipeline.LLM) {
	t.Helper()
	s, err := llmsim.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	cfg.BaseURL = ts.URL + "/v1"
	if cfg.Model == "" {
		cfg.Model = "llmsim"
	}
	c, err := llm.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, wire.Model(c)
}

// readDocs reads a BIO file as documents of n sentences each.
func readDocs(t *testing.T, path string, n int) ([]pipeline.Document, map[key]bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []pipeline.Document
	gold := make(map[key]bool)
	err = corpus.ReadBIO(f, path, corpus.Options{SentencesPerDoc: n}, func(d corpus.Doc) error {
		docs = append(docs, pipeline.Document{ID: d.ID, Text: d.Text, Source: d.Source})
		for _, g := range d.Gold {
			gold[key{d.ID, g.Start, g.End, g.Label}] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs, gold
}

// key is a mention for strict scoring: span and label.
type key struct {
	doc        string
	start, end int
	label      string
}

type prf struct{ p, r, f float64 }

func score(pred, gold map[key]bool) prf {
	tp := 0
	for k := range pred {
		if gold[k] {
			tp++
		}
	}
	var s prf
	if len(pred) > 0 {
		s.p = float64(tp) / float64(len(pred))
	}
	if len(gold) > 0 {
		s.r = float64(tp) / float64(len(gold))
	}
	if s.p+s.r > 0 {
		s.f = 2 * s.p * s.r / (s.p + s.r)
	}
	return s
}

// annotate runs the three stages and returns the labelled mentions.
func annotate(t *testing.T, b *sam.Backend, docs []pipeline.Document) (map[key]bool, []pipeline.Failure) {
	t.Helper()
	c, err := pipeline.Annotate(context.Background(), b, docs)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.CheckMentions(docs, c.Mentions); err != nil {
		t.Fatal(err)
	}
	pred := make(map[key]bool)
	for _, x := range c.Mentions {
		pred[key{x.DocID, x.Start, x.End, x.Label}] = true
	}
	return pred, c.Failures
}

// TestZeroNoiseReproducesGold: SAM-NER over the simulator without noise
// annotates every CrossNER dev split exactly as its gold data, with one
// sentence per document, and with a whole split as one long document cut
// into overlapping chunks.
func TestZeroNoiseReproducesGold(t *testing.T) {
	var files []string
	for _, d := range domains {
		files = append(files, dataset.Path(t, "crossner", d, "dev.txt"))
	}
	_, model := serve(t, llmsim.Options{Gold: files}, llm.Config{})
	type run struct {
		domain  string
		perDoc  int
		logprob bool
	}
	runs := []run{}
	for _, d := range domains {
		runs = append(runs, run{d, 1, false})
	}
	runs = append(runs, run{"ai", 5, true}, run{"politics", 1 << 20, false})
	for _, r := range runs {
		name := r.domain
		if r.perDoc > 1 {
			name += fmt.Sprintf("/%d sentences per document", min(r.perDoc, 9999))
		}
		t.Run(name, func(t *testing.T) {
			schema, err := schemas.Load("crossner-" + r.domain)
			if err != nil {
				t.Fatal(err)
			}
			docs, gold := readDocs(t, dataset.Path(t, "crossner", r.domain, "dev.txt"), r.perDoc)
			b, err := sam.New(schema, model, sam.Options{LogProbs: r.logprob})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			pred, failures := annotate(t, b, docs)
			s := score(pred, gold)
			t.Logf("%s: %d documents, %d gold mentions, %d predicted: P %.4f R %.4f F1 %.4f in %v; stats %+v",
				name, len(docs), len(gold), len(pred), s.p, s.r, s.f, time.Since(start).Round(time.Millisecond), b.Stats())
			if len(failures) > 0 {
				t.Errorf("failures: %v", failures[:min(3, len(failures))])
			}
			if s.f != 1 {
				n := 0
				for k := range gold {
					if !pred[k] && n < 10 {
						n++
						t.Errorf("missed %v", k)
					}
				}
				for k := range pred {
					if !gold[k] && n < 20 {
						n++
						t.Errorf("spurious %v", k)
					}
				}
				t.Fatalf("F1 %.4f, want 1", s.f)
			}
		})
	}
}

// TestZeroNoiseUnderFaults: with every kind of fault injected, the
// project's client retries and re-asks until the answers are whole, and
// the annotation is still exactly the gold data.
func TestZeroNoiseUnderFaults(t *testing.T) {
	ai := dataset.Path(t, "crossner", "ai", "dev.txt")
	faults := llmsim.Faults{RateLimit: 0.1, ServerError: 0.1, Timeout: 0.05, Malformed: 0.1, Truncated: 0.1}
	s, model := serve(t, llmsim.Options{Gold: []string{ai}, Seed: 3, Faults: faults, RetryAfter: 5 * time.Millisecond, Hang: 10 * time.Second},
		llm.Config{Timeout: 300 * time.Millisecond, MaxRetries: 10, MaxReasks: 5, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond})
	schema, err := schemas.Load("crossner-ai")
	if err != nil {
		t.Fatal(err)
	}
	docs, gold := readDocs(t, ai, 1)
	b, err := sam.New(schema, model, sam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pred, failures := annotate(t, b, docs)
	st := s.Stats()
	t.Logf("F1 %.4f; server %+v", score(pred, gold).f, st)
	if len(failures) > 0 || score(pred, gold).f != 1 {
		t.Fatalf("F1 %.4f, failures %v", score(pred, gold).f, failures)
	}
	for _, f := range []string{"rate_limit", "server_error", "timeout", "malformed", "truncated"} {
		if st.Faults[f] == 0 {
			t.Errorf("no %s fault injected", f)
		}
	}
}

// TestZeroNoiseMIT: the same on MIT-Restaurant (tag<TAB>token, lower-case
// queries, no misc: its fallback is Amenity).
func TestZeroNoiseMIT(t *testing.T) {
	path := dataset.Path(t, "mit", "restaurant", "restauranttest.txt")
	_, model := serve(t, llmsim.Options{Gold: []string{path}}, llm.Config{})
	schema, err := schemas.Load("mit-restaurant")
	if err != nil {
		t.Fatal(err)
	}
	docs, gold := readDocs(t, path, 1)
	b, err := sam.New(schema, model, sam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pred, failures := annotate(t, b, docs)
	s := score(pred, gold)
	t.Logf("mit-restaurant: %d documents, %d gold mentions: P %.4f R %.4f F1 %.4f", len(docs), len(gold), s.p, s.r, s.f)
	if len(failures) > 0 || s.f != 1 {
		t.Fatalf("F1 %.4f, failures %v", s.f, failures)
	}
}

// spans scores discovery alone: spans without labels.
func spans(t *testing.T, b *sam.Backend, docs []pipeline.Document, gold map[key]bool) prf {
	t.Helper()
	d, err := b.Discover(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	pred := make(map[key]bool)
	for _, m := range d.Mentions {
		pred[key{m.DocID, m.Start, m.End, ""}] = true
	}
	g := make(map[key]bool)
	for k := range gold {
		g[key{k.doc, k.start, k.end, ""}] = true
	}
	return score(pred, g)
}

// TestConsensusPrecision: with an explorer that over-generates ordinary
// words and an anchor that misses more, the paper's consensus keeps the
// precision of the explorer's answers higher than the explorer alone, at
// some cost in recall.
func TestConsensusPrecision(t *testing.T) {
	var files []string
	for _, d := range domains {
		files = append(files, dataset.Path(t, "crossner", d, "dev.txt"))
	}
	noise := llmsim.Noise{AnchorMiss: 0.2, ExplorerMiss: 0.05, AnchorSpurious: 0.01, ExplorerSpurious: 0.1, Boundary: 0.05}
	_, model := serve(t, llmsim.Options{Gold: files, Seed: 7, Noise: noise}, llm.Config{})
	var explorer, consensus, anchor prf
	for _, d := range domains {
		schema, err := schemas.Load("crossner-" + d)
		if err != nil {
			t.Fatal(err)
		}
		docs, gold := readDocs(t, dataset.Path(t, "crossner", d, "dev.txt"), 1)
		alone, _ := sam.New(schema, model, sam.Options{Extractors: []string{sam.Explorer}, MinVotes: 1, NoSingleWordRule: true})
		anc, _ := sam.New(schema, model, sam.Options{Extractors: []string{sam.Anchor}, MinVotes: 1})
		both, _ := sam.New(schema, model, sam.Options{})
		e, a, c := spans(t, alone, docs, gold), spans(t, anc, docs, gold), spans(t, both, docs, gold)
		t.Logf("%-10s explorer alone P %.3f R %.3f F1 %.3f | anchor alone P %.3f R %.3f F1 %.3f | consensus P %.3f R %.3f F1 %.3f",
			d, e.p, e.r, e.f, a.p, a.r, a.f, c.p, c.r, c.f)
		for _, x := range []struct {
			sum *prf
			v   prf
		}{{&explorer, e}, {&anchor, a}, {&consensus, c}} {
			x.sum.p += x.v.p / float64(len(domains))
			x.sum.r += x.v.r / float64(len(domains))
			x.sum.f += x.v.f / float64(len(domains))
		}
		if c.p <= e.p {
			t.Errorf("%s: consensus precision %.3f is not above the explorer's %.3f", d, c.p, e.p)
		}
	}
	t.Logf("average    explorer alone P %.3f R %.3f F1 %.3f | anchor alone P %.3f R %.3f F1 %.3f | consensus P %.3f R %.3f F1 %.3f",
		explorer.p, explorer.r, explorer.f, anchor.p, anchor.r, anchor.f, consensus.p, consensus.r, consensus.f)
	t.Logf("consensus: precision %+.3f, recall %+.3f, F1 %+.3f against the explorer alone",
		consensus.p-explorer.p, consensus.r-explorer.r, consensus.f-explorer.f)
	if consensus.p <= explorer.p {
		t.Errorf("consensus precision %.3f is not above the explorer's %.3f", consensus.p, explorer.p)
	}
}
