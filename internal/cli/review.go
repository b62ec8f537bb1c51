package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/review"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
)

const reviewHelp = `Usage: review [--sample N] [--out FILE] RUN

Writes a review page of a finished run (its folder: a path, file:// or gs://
URI): one self-contained HTML file, no script, nothing fetched, with a
sample of documents, their mentions highlighted and coloured by label (the
archetype, score and extractors on hover), the mentions per label, and a
filter by label. The sample is the N documents with the smallest sha256 of
their id: the same every time, spread over the corpus.`

func reviewCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("review", reviewHelp, env)
	sample := fs.Int("sample", 50, "`number` of documents shown")
	out := fs.String("out", "", "the page's `file` (path, file:// or gs:// URI); default review-<run-id>.html here")
	gcs := fs.String("gcs-endpoint", env.Getenv("ZERONER_GCS_ENDPOINT"), gcsHelp)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The run may come before the flags too.
	run := fs.Arg(0)
	if fs.NArg() > 1 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usageError(fmt.Errorf("unexpected arguments: %v", fs.Args()))
		}
	}
	switch {
	case run == "":
		return usageError(errors.New("give the run's folder"))
	case *sample < 1:
		return usageError(fmt.Errorf("--sample %d: want at least 1", *sample))
	}
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: *gcs})
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := runs.OpenFinished(ctx, store, run)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = "review-" + r.Run.ID + ".html"
	}
	uri, err := uriFlag("out", *out)
	if err != nil {
		return usageError(err)
	}
	p, err := reviewPage(ctx, r, *sample)
	if err != nil {
		return err
	}
	if err := store.Replace(ctx, uri, func(w io.Writer) error { return review.Write(w, p) }); err != nil {
		return fmt.Errorf("write %s: %w", uri, err)
	}
	fmt.Fprintf(env.Stdout, "review of run %s: %d of %d documents\n  %s\n", r.Run.ID, len(p.Sample), p.Docs, uri)
	return nil
}

// reviewPage samples n of the run's documents for the review page.
func reviewPage(ctx context.Context, r *runs.Finished, n int) (review.Page, error) {
	p := review.Page{Title: "Review of " + r.Run.ID, RunID: r.Run.ID, Docs: int(r.Summary.Docs), Mentions: make(map[string]int),
		Note: fmt.Sprintf("the %d documents with the smallest sha256 of their id", n)}
	for _, ms := range r.Mentions {
		for _, m := range ms {
			p.Mentions[m.Label]++
		}
	}
	s := review.NewSampler(n)
	err := r.EachDoc(ctx, func(d pipeline.Document) error {
		s.Add(d)
		return nil
	})
	if err != nil {
		return review.Page{}, err
	}
	for _, d := range s.Docs() {
		p.Sample = append(p.Sample, review.Doc{Document: d, Mentions: r.Mentions[d.ID], Failed: r.Failed[d.ID]})
	}
	return p, nil
}
