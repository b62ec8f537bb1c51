package cli

import (
	"context"
	"io"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
)

// jobs runs the evaluations' workflows on Temporal, showing their progress
// on w.
type jobs struct {
	cl    client.Client
	queue string
	w     io.Writer
	log   *slog.Logger
}

func (j jobs) Annotate(ctx context.Context, cfg activities.Config) (activities.Summary, error) {
	wr, err := startJob(ctx, j.cl, j.queue, cfg, j.w)
	if err != nil {
		return activities.Summary{}, err
	}
	return waitJob(ctx, j.cl, wr, cfg, j.w, j.log)
}

// Index shows the build's start on w, not its phases.
func (j jobs) Index(ctx context.Context, cfg activities.IndexConfig) (activities.IndexSummary, error) {
	wr, err := startIndex(ctx, j.cl, j.queue, cfg, j.w)
	if err != nil {
		return activities.IndexSummary{}, err
	}
	return waitIndex(ctx, j.cl, wr, io.Discard, j.log)
}
