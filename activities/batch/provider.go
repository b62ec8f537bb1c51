package batch

import (
	"context"
	"fmt"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
)

// provider gets a round's request file answered. The activities do the
// rest (heartbeats, the response cache, collected.json) the same way for
// every provider.
type provider interface {
	// submit hands the round's request file to the provider.
	submit(ctx context.Context, t activities.BatchTask) (activities.BatchRef, error)
	// poll says whether the round's answers are ready.
	poll(ctx context.Context, t activities.BatchTask, ref activities.BatchRef) (activities.BatchStatus, error)
	// fetch puts the round's answer files, as the last poll named them,
	// into the round's folder.
	fetch(ctx context.Context, t activities.BatchTask, st activities.BatchStatus) error
}

// provider is the task's batch provider, picked by its mode.
func (a *Activities) provider(t activities.BatchTask) provider {
	if t.Backend.Batch.Mode == activities.BatchFiles {
		return exchange{a.deps}
	}
	return batchAPI{a.deps}
}

// tag names the round for the provider, so a retried submission finds the
// batch it created.
func tag(t activities.BatchTask) string {
	return fmt.Sprintf("%s/%s/shard-%05d/round-%d", t.Run.ID, t.Stage, t.Shard, t.Round)
}

// requests reads the round's request file.
func requests(ctx context.Context, d *wire.Deps, t activities.BatchTask) ([]llm.BatchLine, error) {
	data, err := blob.ReadAll(ctx, d.Store, runs.RoundDir(t).Requests())
	if err != nil {
		return nil, err
	}
	lines, err := llm.DecodeBatch(data)
	if err != nil {
		return nil, activities.BadInput(fmt.Errorf("%s: %w", runs.RoundDir(t).Requests(), err))
	}
	return lines, nil
}

// client is the LLM client of the task's backend; a spec it cannot build
// is bad input.
func client(d *wire.Deps, t activities.BatchTask) (*llm.Client, error) {
	c, err := d.LLM(t.Backend)
	if err != nil {
		return nil, activities.BadInput(err)
	}
	return c, nil
}
