// Package evaluate runs the evaluations of the eval and retrieval-eval
// commands: it annotates BIO data sets with the real job, reads their gold,
// scores the runs with pipeline/eval and writes the results and reports.
package evaluate

import (
	"context"
	"fmt"
	"io"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline/eval"
)

// Jobs runs the workflows an evaluation needs, each to its end.
type Jobs interface {
	// Annotate runs the annotation job of cfg.
	Annotate(ctx context.Context, cfg activities.Config) (activities.Summary, error)
	// Index builds the index of cfg.
	Index(ctx context.Context, cfg activities.IndexConfig) (activities.IndexSummary, error)
}

// Dataset is one BIO data set to evaluate on: its name and the job
// configuration that annotates it, one sentence per document.
type Dataset struct {
	Name   string
	Config activities.Config
}

// Incomplete is the error of a data set the job did not annotate whole,
// for which no score is written: the command's work finished, with
// failures.
type Incomplete struct{ Err error }

func (e *Incomplete) Error() string { return e.Err.Error() }
func (e *Incomplete) Unwrap() error { return e.Err }

// BackendName names a backend in reports, with its model if it has one.
func BackendName(b activities.BackendSpec) string {
	if b.Name == "sam" && b.LLM.Model != "" {
		return b.Name + " (" + b.LLM.Model + ")"
	}
	return b.Name
}

// readGold reads the sentences of every object under the job's corpus
// prefix, in the job's order. Unlike the job, it fails on a malformed line,
// so that no gold is silently lost.
func readGold(ctx context.Context, store runs.Store, cfg activities.Config) ([]eval.Doc, error) {
	objs, err := store.List(ctx, cfg.Corpus)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", cfg.Corpus, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no data at %s", cfg.Corpus)
	}
	var docs []eval.Doc
	for _, o := range objs {
		rc, err := store.Open(ctx, o.URI)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", o.URI, err)
		}
		err = corpus.ReadBIO(rc, o.URI, corpus.Options(cfg.Reader), func(d corpus.Doc) error {
			gold := make([]eval.Span, len(d.Gold))
			for i, g := range d.Gold {
				gold[i] = eval.Span{Start: g.Start, End: g.End, Label: g.Label}
			}
			docs = append(docs, eval.Doc{ID: d.ID, Text: d.Text, Gold: gold})
			return nil
		})
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// readMentions reads a run's mentions table as predictions.
func readMentions(ctx context.Context, store runs.Store, dir string) ([]eval.Mention, error) {
	rows, err := store.AllMentions(ctx, dir)
	if err != nil {
		return nil, err
	}
	ms := make([]eval.Mention, len(rows))
	for i, m := range rows {
		ms[i] = eval.Mention{DocID: m.DocID, Text: m.Text, Span: eval.Span{Start: int(m.Start), End: int(m.End), Label: m.Label}}
	}
	return ms, nil
}

// writeFiles replaces the files of the folder dir, each by its write
// function.
func writeFiles(ctx context.Context, store blob.Store, dir string, files map[string]func(io.Writer) error) error {
	for name, write := range files {
		if err := store.Replace(ctx, blob.Join(dir, name), write); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
