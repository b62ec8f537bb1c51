package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/pipeline/rules"
	"github.com/zeroner/zeroner/pipeline/sae"
	"github.com/zeroner/zeroner/pipeline/student"
	"github.com/zeroner/zeroner/pipeline/text"
	"github.com/zeroner/zeroner/schemas"
)

// agreeSetup is distill's setting offline: documents of three to six
// sentences drawn, seeded, from CrossNER's train and dev sentences of all
// domains (as scripts/gencorpus.go draws the benchmark corpus), labelled
// by the rules backend (the teacher) with one schema; the student learns
// from train documents and is scored against the teacher on held-out
// ones. With disjoint pools the held-out documents are drawn from other
// sentences than the train documents; otherwise from the same pool, as in
// the benchmark, where a held-out sentence has mostly been seen in
// training.
type agreeSetup struct {
	schema         string
	train, heldOut int
	disjoint       bool
	seed           uint64
	studentOpts    []student.Options
}

func agree(ctx context.Context, s agreeSetup) {
	dir, err := dataset.Dir()
	if err != nil {
		log.Fatal(err)
	}
	var pool []string
	for _, d := range domains {
		for _, split := range []string{"train", "dev"} {
			for _, e := range mustReadPath(filepath.Join(dir, "crossner", d, split+".txt")) {
				pool = append(pool, e.Text)
			}
		}
	}
	r := rand.New(rand.NewPCG(s.seed, 0))
	trainPool, heldPool := pool, pool
	if s.disjoint {
		shuffled := slices.Clone(pool)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		trainPool, heldPool = shuffled[:len(pool)/2], shuffled[len(pool)/2:]
	}
	docs := func(p []string, n int) []string {
		out := make([]string, n)
		for i := range out {
			parts := make([]string, 3+r.IntN(4))
			for j := range parts {
				parts[j] = p[r.IntN(len(p))]
			}
			out[i] = strings.Join(parts, " ")
		}
		return out
	}
	trainDocs, heldDocs := docs(trainPool, s.train), docs(heldPool, s.heldOut)
	sc, err := schemas.Load(s.schema)
	if err != nil {
		log.Fatal(err)
	}
	teacher := rules.New(sc)
	start := time.Now()
	train, held := silver(ctx, teacher, trainDocs), silver(ctx, teacher, heldDocs)
	var heldToks int
	for _, d := range heldDocs {
		heldToks += len(text.Tokenize(d))
	}
	fmt.Printf("teacher: rules backend, schema %s; %d train documents (%d entities), %d held out (%d tokens); pools %s; labelled in %.1f s\n\n",
		s.schema, len(train), entities(train), len(held), heldToks, map[bool]string{true: "disjoint", false: "shared"}[s.disjoint], time.Since(start).Seconds())

	fmt.Println("| student | train time | model bytes | held-out strict P | strict R | **strict F1** | span F1 | tag tokens/s (wall, one goroutine) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, opt := range s.studentOpts {
		start := time.Now()
		m, err := student.Train(ctx, train, opt)
		if err != nil {
			log.Fatal(err)
		}
		took := time.Since(start)
		b, _ := m.MarshalBinary()
		tg := m.Tagger()
		pred := make([][]student.Span, len(held))
		start = time.Now()
		for j, e := range held {
			pred[j], _ = tg.Tag(e.Text)
		}
		rate := float64(heldToks) / time.Since(start).Seconds()
		res := agreement(held, pred)
		fmt.Printf("| perceptron (epochs %d, bits %d, %d lexicons) | %.1f s | %d | %.1f | %.1f | **%.1f** | %.1f | %.0f |\n",
			m.Epochs(), m.Bits(), len(opt.Lexicons), took.Seconds(), len(b),
			res.Strict.P, res.Strict.R, res.Strict.F1, res.Span.F1, rate)
	}

	// The SAE-NER map as distill estimates it (activities/distill).
	start = time.Now()
	m, src := estimateMap(ctx, train)
	took := time.Since(start)
	texts := make([]string, len(held))
	for i, e := range held {
		texts[i] = e.Text
	}
	start = time.Now()
	pred := tagMap(ctx, m, src, texts)
	rate := float64(heldToks) / time.Since(start).Seconds()
	res := agreement(held, pred)
	fmt.Printf("| SAE-NER map (distill's) | %.1f s | %d rows | %.1f | %.1f | **%.1f** | %.1f | %.0f |\n\n", took.Seconds(), len(m.Entries()),
		res.Strict.P, res.Strict.R, res.Strict.F1, res.Span.F1, rate)
}

// estimateMap estimates the SAE-NER map from train as distill does
// (activities/distill), over the local features it returns with it.
func estimateMap(ctx context.Context, train []student.Example) (*sae.Map, sae.Source) {
	sample := make([]sae.Labeled, len(train))
	for i, e := range train {
		sample[i].Text = e.Text
		for _, sp := range e.Spans {
			sample[i].Spans = append(sample[i].Spans, sae.Span{Start: sp.Start, End: sp.End, Label: sp.Label})
		}
	}
	src := sae.NewLocal(nil)
	m, err := sae.Estimate(ctx, src, sample, sae.Options{Decode: sae.DecodeProduct, Alpha: 0.1, MinSupport: 1})
	if err != nil {
		log.Fatal(err)
	}
	return m, src
}

// tagMap tags texts with the map.
func tagMap(ctx context.Context, m *sae.Map, src sae.Source, texts []string) [][]student.Span {
	spans, _, err := sae.NewTagger(m, src).Tag(ctx, texts)
	if err != nil {
		log.Fatal(err)
	}
	pred := make([][]student.Span, len(texts))
	for i, ss := range spans {
		for _, sp := range ss {
			pred[i] = append(pred[i], student.Span{Start: sp.Start, End: sp.End, Label: sp.Label})
		}
	}
	return pred
}

// silver labels texts with the teacher.
func silver(ctx context.Context, teacher pipeline.Backend, texts []string) []student.Example {
	docs := make([]pipeline.Document, len(texts))
	for i, t := range texts {
		docs[i] = pipeline.Document{ID: fmt.Sprint(i), Text: t}
	}
	res, err := pipeline.Annotate(ctx, teacher, docs)
	if err != nil {
		log.Fatal(err)
	}
	out := make([]student.Example, len(texts))
	idx := map[string]int{}
	for i, d := range docs {
		idx[d.ID] = i
		out[i].Text = d.Text
	}
	for _, m := range res.Mentions {
		i := idx[m.DocID]
		out[i].Spans = append(out[i].Spans, student.Span{Start: m.Start, End: m.End, Label: m.Label})
	}
	return out
}

// agreement scores predictions against the teacher's spans as gold.
func agreement(teacher []student.Example, pred [][]student.Span) eval.Results {
	docs := make([]eval.Doc, len(teacher))
	for i, e := range teacher {
		docs[i] = eval.Doc{ID: fmt.Sprint(i), Text: e.Text, Gold: evalSpans(e.Spans), Pred: evalSpans(pred[i])}
	}
	r, err := eval.Score("agreement", docs, eval.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return r
}
