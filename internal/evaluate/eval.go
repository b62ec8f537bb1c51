package evaluate

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline/eval"
)

// Eval scores the configured backend on BIO data sets: it annotates each
// with the job and scores the mentions against the gold tags.
type Eval struct {
	Store    blob.Store
	Jobs     Jobs
	Progress io.Writer // what happens, line by line
	Out      string    // the eval folder's URI
	Misc     string    // the catch-all label the no-misc scores drop
	Tag      string    // of the runs' jobs, named when advising a retry
	// AllowFailures scores data sets with sentences the job could not
	// annotate, as unannotated.
	AllowFailures bool
}

// Run evaluates each data set, writes the predictions and results of each
// and results.json, report.md and report.html of all under e.Out, and
// returns rep, a report's header, with the data sets and averages.
func (e Eval) Run(ctx context.Context, rep eval.Report, sets []Dataset) (eval.Report, error) {
	for _, ds := range sets {
		r, err := e.one(ctx, ds)
		if err != nil {
			return rep, fmt.Errorf("data set %s: %w", ds.Name, err)
		}
		rep.Datasets = append(rep.Datasets, r)
	}
	rep.Averages = eval.Groups(rep.Datasets)
	if rep.Averages == nil {
		rep.Averages = []eval.Average{}
	}
	err := writeFiles(ctx, e.Store, e.Out, map[string]func(io.Writer) error{
		"results.json": func(w io.Writer) error { return runs.WriteJSON(w, rep) },
		"report.md":    func(w io.Writer) error { return eval.WriteMarkdown(w, rep) },
		"report.html":  func(w io.Writer) error { return eval.WriteHTML(w, rep) },
	})
	return rep, err
}

// one annotates one data set with the job, scores the mentions table
// against the gold and writes the data set's predictions and results.
func (e Eval) one(ctx context.Context, ds Dataset) (eval.Results, error) {
	store := runs.Store{Store: e.Store}
	// The gold, read as the job reads the corpus: the same objects, ids and
	// sentence texts.
	docs, err := readGold(ctx, store, ds.Config)
	if err != nil {
		return eval.Results{}, err
	}
	sum, err := e.annotate(ctx, ds, len(docs))
	if err != nil {
		return eval.Results{}, err
	}
	failed, err := e.failures(ds, sum, len(docs))
	if err != nil {
		return eval.Results{}, err
	}
	ms, err := readMentions(ctx, store, sum.Outputs.Mentions)
	if err != nil {
		return eval.Results{}, err
	}
	if err := eval.AddPredictions(docs, ms); err != nil {
		return eval.Results{}, err
	}
	r, err := eval.Score(ds.Name, docs, eval.Options{Misc: e.Misc})
	if err != nil {
		return eval.Results{}, err
	}
	r.Failed = failed
	err = writeFiles(ctx, e.Store, blob.Join(e.Out, ds.Name), map[string]func(io.Writer) error{
		"predictions.bio":   func(w io.Writer) error { return eval.WriteBIO(w, docs) },
		"predictions.jsonl": func(w io.Writer) error { return eval.WriteJSONL(w, docs) },
		"results.json":      func(w io.Writer) error { return runs.WriteJSON(w, r) },
	})
	return r, err
}

// annotate runs the data set's job, which must annotate every one of the
// gold's sentences.
func (e Eval) annotate(ctx context.Context, ds Dataset, sentences int) (activities.Summary, error) {
	start := time.Now()
	fmt.Fprintf(e.Progress, "%s: %d sentences from %s\n", ds.Name, sentences, ds.Config.Corpus)
	sum, err := e.Jobs.Annotate(ctx, ds.Config)
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(e.Progress, "%s: run %s, %d mentions in %s\n", ds.Name, sum.RunID, sum.Mentions, time.Since(start).Round(time.Millisecond))
	for _, w := range sum.Warnings {
		fmt.Fprintf(e.Progress, "%s: warning: %s\n", ds.Name, w)
	}
	if sum.Stopped != "" {
		return sum, &Incomplete{fmt.Errorf("the job stopped before finishing (%s); no score written", sum.Stopped)}
	}
	if sum.Docs != int64(sentences) {
		return sum, fmt.Errorf("the run annotated %d documents (%d rejects), the gold has %d sentences", sum.Docs, sum.Rejects, sentences)
	}
	return sum, nil
}

// failures counts the sentences the run did not annotate; unless
// AllowFailures, any is an error.
func (e Eval) failures(ds Dataset, sum activities.Summary, sentences int) (int, error) {
	failed := failedDocs(sum, ds.Config.ShardSize, sentences)
	if failed == 0 {
		return 0, nil
	}
	why := "see " + sum.Outputs.Summary
	if len(sum.Problems) > 0 {
		why = sum.Problems[0].Cause
	}
	if !e.AllowFailures {
		return 0, &Incomplete{fmt.Errorf(
			"%d of %d sentences were not annotated (%s); no score written: run again with --tag %s to retry them, or add --allow-failures to score them as unannotated",
			failed, sentences, why, e.Tag)}
	}
	fmt.Fprintf(e.Progress, "%s: warning: %d of %d sentences were not annotated (%s); scored as unannotated (--allow-failures)\n",
		ds.Name, failed, sentences, why)
	return failed, nil
}

// failedDocs counts the documents a run did not annotate: those of its
// failed shards (an eval's data set is one object, cut in order into shards
// of size documents) and its failed chunks.
func failedDocs(sum activities.Summary, size, docs int) int {
	n := int(sum.Failures)
	for _, f := range sum.FailedShards {
		n += max(0, min(size, docs-f.Shard*size))
	}
	return n
}
