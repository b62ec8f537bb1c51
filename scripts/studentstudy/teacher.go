package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/pipeline/student"
)

// folds is the number of parts of each domain's sentences in -eval
// teacher: each part is scored by students trained on the others.
const folds = 5

// labelled is a sentence with the teacher's spans and the gold ones.
type labelled struct {
	student.Example
	gold []student.Span
}

// teacherStudy trains the students on an LLM teacher's annotations of a
// dev sample ("starter eval" predictions under dir, one folder per
// domain), and scores them against gold on the sentences they were not
// trained on: the sentences of each domain are cut into folds parts, and
// each part is tagged by students trained on the other parts. The
// teacher's own F1 on the same sentences is printed beside them.
func teacherStudy(ctx context.Context, dir string, opt student.Options) {
	fmt.Printf("teacher: the predictions under %s; %d folds per domain, each scored by students trained on the others\n\n", dir, folds)
	fmt.Println("| domain | sentences | teacher strict F1 | perceptron strict F1 | map strict F1 | perceptron span F1 | map span F1 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	var teach, perc, smap []eval.Results
	for _, d := range domains {
		path := filepath.Join(dir, d, "predictions.jsonl")
		sents, err := readPredictions(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			log.Fatalf("%s: %v", path, err)
		}
		pPred := make([][]student.Span, len(sents))
		mPred := make([][]student.Span, len(sents))
		for f := range folds {
			var train []student.Example
			var held []int
			for i, s := range sents {
				if i%folds == f {
					held = append(held, i)
				} else {
					train = append(train, s.Example)
				}
			}
			m, err := student.Train(ctx, train, opt)
			if err != nil {
				log.Fatalf("%s fold %d: %v", d, f, err)
			}
			tg := m.Tagger()
			for _, i := range held {
				pPred[i], _ = tg.Tag(sents[i].Text)
			}
			texts := make([]string, len(held))
			for j, i := range held {
				texts[j] = sents[i].Text
			}
			mm, src := estimateMap(ctx, train)
			for j, ss := range tagMap(ctx, mm, src, texts) {
				mPred[held[j]] = ss
			}
		}
		tr, pr, mr := scoreGold(d, sents, nil), scoreGold(d, sents, pPred), scoreGold(d, sents, mPred)
		teach, perc, smap = append(teach, tr), append(perc, pr), append(smap, mr)
		fmt.Printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", d, len(sents), tr.Strict.F1, pr.Strict.F1, mr.Strict.F1, pr.Span.F1, mr.Span.F1)
	}
	if len(teach) == 0 {
		log.Fatalf("no <domain>/predictions.jsonl under %s", dir)
	}
	t, p, m := eval.Mean("avg", teach), eval.Mean("avg", perc), eval.Mean("avg", smap)
	fmt.Printf("| **average** | | **%.1f** | **%.1f** | **%.1f** | %.1f | %.1f |\n\n", t.Strict.F1, p.Strict.F1, m.Strict.F1, p.Span.F1, m.Span.F1)
}

// scoreGold scores pred against gold; nil pred scores the teacher.
func scoreGold(domain string, sents []labelled, pred [][]student.Span) eval.Results {
	docs := make([]eval.Doc, len(sents))
	for i, s := range sents {
		p := s.Spans
		if pred != nil {
			p = pred[i]
		}
		docs[i] = eval.Doc{ID: fmt.Sprint(i), Text: s.Text, Gold: evalSpans(s.gold), Pred: evalSpans(p)}
	}
	r, err := eval.Score(domain, docs, eval.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return r
}

// readPredictions reads an eval's predictions.jsonl: each line a
// sentence with the predicted spans and the gold ones, in code points.
func readPredictions(path string) ([]labelled, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type span struct {
		Start, End int
		Label      string
	}
	var out []labelled
	dec := json.NewDecoder(f)
	for dec.More() {
		var d struct {
			Text        string
			Spans, Gold []span
		}
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("line %d: %w", len(out)+1, err)
		}
		s := labelled{Example: student.Example{Text: d.Text}}
		for _, sp := range d.Spans {
			s.Spans = append(s.Spans, student.Span{Start: sp.Start, End: sp.End, Label: sp.Label})
		}
		for _, sp := range d.Gold {
			s.gold = append(s.gold, student.Span{Start: sp.Start, End: sp.End, Label: sp.Label})
		}
		out = append(out, s)
	}
	return out, nil
}
