// Command studentstudy measures distill's student tagger (pipeline/student)
// trained on CrossNER gold, scored by pipeline/eval (strict F1, misc kept).
//
// While developing, -eval dev trains on each domain's train split and
// scores dev; options are chosen there. -eval test trains on train+dev and
// scores test, once, for the report. Tables print as markdown, with the
// training time and the process's peak memory.
//
//	go run ./scripts/studentstudy -eval dev
//	go run ./scripts/studentstudy -eval test
//
// -eval teacher -predictions DIR trains on an LLM teacher's annotations
// of a dev sample (the predictions of "starter eval --out DIR") and
// scores the sentences each student was not trained on against gold.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/pipeline/rules"
	"github.com/zeroner/zeroner/pipeline/student"
)

var domains = []string{"ai", "literature", "music", "politics", "science"}

func main() {
	var (
		split  = flag.String("eval", "dev", "dev: train on train, score dev; test: train on train+dev, score test; agree: agreement with the rules backend on generated documents; teacher: train on the predictions under -predictions")
		preds  = flag.String("predictions", "", "with -eval teacher: a \"starter eval\" output folder holding <domain>/predictions.jsonl")
		schema = flag.String("schema", "crossner-politics", "with -eval agree: the teacher's schema")
		docs   = flag.Int("docs", 8000, "with -eval agree: train documents")
		held   = flag.Int("heldout", 2000, "with -eval agree: held-out documents")
		disj   = flag.Bool("disjoint", false, "with -eval agree: draw held-out documents from other sentences than train documents")
		epochs = flag.Int("epochs", 0, "training epochs (0: the package default)")
		bits   = flag.Int("bits", 0, "log2 of the weight table's rows (0: the package default)")
		seed   = flag.Uint64("seed", 1, "seed of the example order")
		useLex = flag.Bool("lexicons", true, "give the student the rules backend's lexicons, as distill does")
	)
	flag.Parse()
	if *split != "dev" && *split != "test" && *split != "agree" && *split != "teacher" {
		log.Fatalf("-eval %q: want dev, test, agree or teacher", *split)
	}
	if (*split == "teacher") != (*preds != "") {
		log.Fatal("-predictions goes with -eval teacher, and only with it")
	}
	ctx := context.Background()
	var lex []student.Lexicon
	if *useLex {
		for _, l := range rules.Lexicons() {
			lex = append(lex, student.Lexicon(l))
		}
	}
	opt := student.Options{Epochs: *epochs, Bits: *bits, Seed: *seed, Lexicons: lex}
	if *split == "teacher" {
		teacherStudy(ctx, *preds, opt)
		return
	}
	if *split == "agree" {
		agree(ctx, agreeSetup{schema: *schema, train: *docs, heldOut: *held, disjoint: *disj, seed: *seed,
			studentOpts: []student.Options{opt}})
		fmt.Printf("peak RSS of the process: %s\n", peakRSS())
		return
	}
	fmt.Printf("student: seed %d, %d lexicons; train on %s, score %s\n\n",
		*seed, len(lex), map[string]string{"dev": "train", "test": "train+dev"}[*split], *split)
	fmt.Println("| domain | training sentences | entities | types | epochs | bits | train time | training weights | model bytes | strict P | strict R | **strict F1 (misc kept)** | strict F1 (misc dropped) | span F1 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var rs []eval.Results
	var trainTime time.Duration
	for _, d := range domains {
		var train, test []student.Example
		if *split == "dev" {
			train, test = mustRead(d, "train"), mustRead(d, "dev")
		} else {
			train, test = slices.Concat(mustRead(d, "train"), mustRead(d, "dev")), mustRead(d, "test")
		}
		start := time.Now()
		m, err := student.Train(ctx, train, opt)
		if err != nil {
			log.Fatal(err)
		}
		took := time.Since(start)
		trainTime += took
		b, err := m.MarshalBinary()
		if err != nil {
			log.Fatal(err)
		}
		r := score(d, m, test)
		rs = append(rs, r)
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %.1f s | %.0f MB | %d | %.1f | %.1f | **%.1f** | %.1f | %.1f |\n", d, len(train), entities(train), len(m.Types()),
			m.Epochs(), m.Bits(), took.Seconds(), float64(student.TrainingBytes(opt, len(m.Types())))/1e6, len(b),
			r.Strict.P, r.Strict.R, r.Strict.F1, r.StrictNoMisc.F1, r.Span.F1)
	}
	a := eval.Mean("avg", rs)
	fmt.Printf("| **CrossNER-5 avg** | | | | | | %.1f s in all | | | %.1f | %.1f | **%.1f** | %.1f | %.1f |\n\n",
		trainTime.Seconds(), a.Strict.P, a.Strict.R, a.Strict.F1, a.StrictNoMisc.F1, a.Span.F1)
	fmt.Printf("peak RSS of the process: %s\n", peakRSS())
}

func score(domain string, m *student.Model, test []student.Example) eval.Results {
	tg := m.Tagger()
	docs := make([]eval.Doc, len(test))
	for i, l := range test {
		pred, _ := tg.Tag(l.Text)
		docs[i] = eval.Doc{ID: fmt.Sprint(i), Text: l.Text, Gold: evalSpans(l.Spans), Pred: evalSpans(pred)}
	}
	r, err := eval.Score(domain, docs, eval.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return r
}

func evalSpans(ss []student.Span) []eval.Span {
	out := make([]eval.Span, len(ss))
	for i, s := range ss {
		out[i] = eval.Span{Start: s.Start, End: s.End, Label: s.Label}
	}
	return out
}

func mustRead(domain, split string) []student.Example {
	dir, err := dataset.Dir()
	if err != nil {
		log.Fatal(err)
	}
	return mustReadPath(filepath.Join(dir, "crossner", domain, split+".txt"))
}

func mustReadPath(path string) []student.Example {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var out []student.Example
	err = corpus.ReadBIO(f, path, corpus.Options{}, func(d corpus.Doc) error {
		e := student.Example{Text: d.Text}
		for _, g := range d.Gold {
			e.Spans = append(e.Spans, student.Span{Start: g.Start, End: g.End, Label: g.Label})
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	return out
}

func entities(es []student.Example) (n int) {
	for _, e := range es {
		n += len(e.Spans)
	}
	return n
}

// peakRSS is the process's peak resident set (Linux), or "unknown".
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			return strings.TrimSpace(string(v))
		}
	}
	return "unknown"
}
