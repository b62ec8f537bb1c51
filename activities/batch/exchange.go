package batch

import (
	"context"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
)

// exchange is the file exchange: the round's folder under the exchange
// prefix holds the request file, and whoever answers it writes the
// responses file next to it.
type exchange struct{ deps *wire.Deps }

// submit sends nothing: the request file is already in the exchange.
func (p exchange) submit(ctx context.Context, t activities.BatchTask) (activities.BatchRef, error) {
	p.deps.TaskLog(ctx, t.Run.ID, t.Shard, t.Stage).Info("waiting for batch responses",
		"round", t.Round, "requests", runs.RoundDir(t).Requests(), "responses", runs.RoundDir(t).Responses())
	return activities.BatchRef{}, nil
}

// poll looks for the responses file.
func (p exchange) poll(ctx context.Context, t activities.BatchTask, _ activities.BatchRef) (activities.BatchStatus, error) {
	_, err := p.deps.Store.Stat(ctx, runs.RoundDir(t).Responses())
	switch {
	case err == nil:
		return activities.BatchStatus{Done: true, Status: "responded"}, nil
	case blob.IsNotExist(err):
		return activities.BatchStatus{Status: "waiting"}, nil
	}
	return activities.BatchStatus{}, err
}

// fetch has nothing to do: the answers were written into the round's
// folder.
func (exchange) fetch(context.Context, activities.BatchTask, activities.BatchStatus) error {
	return nil
}
