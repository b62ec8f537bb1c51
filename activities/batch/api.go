package batch

import (
	"context"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
)

// batchAPI is the OpenAI Batch API at the backend's base URL. The round's
// folder in the run keeps batch.json and the downloaded answer files.
type batchAPI struct{ deps *wire.Deps }

// submit creates the round's batch, unless an earlier attempt did.
func (p batchAPI) submit(ctx context.Context, t activities.BatchTask) (activities.BatchRef, error) {
	var b llm.Batch
	if err := p.deps.Store.ReadJSON(ctx, runs.RoundDir(t).Batch(), &b); err == nil && b.ID != "" {
		return activities.BatchRef{ID: b.ID}, nil // submitted by an earlier attempt
	} else if err != nil && !blob.IsNotExist(err) {
		return activities.BatchRef{}, err
	}
	lines, err := requests(ctx, p.deps, t)
	if err != nil {
		return activities.BatchRef{}, err
	}
	c, err := client(p.deps, t)
	if err != nil {
		return activities.BatchRef{}, err
	}
	b, err = c.SubmitBatch(ctx, tag(t), lines, t.Backend.Batch.Window)
	if err != nil {
		return activities.BatchRef{}, err
	}
	if err := p.deps.Store.WriteJSON(ctx, runs.RoundDir(t).Batch(), b); err != nil {
		return activities.BatchRef{}, err
	}
	return activities.BatchRef{ID: b.ID}, nil
}

// poll asks the provider for the batch's state.
func (p batchAPI) poll(ctx context.Context, t activities.BatchTask, ref activities.BatchRef) (activities.BatchStatus, error) {
	c, err := client(p.deps, t)
	if err != nil {
		return activities.BatchStatus{}, err
	}
	b, err := c.RetrieveBatch(ctx, ref.ID)
	if err != nil {
		return activities.BatchStatus{}, err
	}
	return activities.BatchStatus{Done: b.Done(), Status: b.Status, Output: b.OutputFileID, Errors: b.ErrorFileID}, nil
}

// fetch downloads the batch's output and error files into the round's
// folder.
func (p batchAPI) fetch(ctx context.Context, t activities.BatchTask, st activities.BatchStatus) error {
	c, err := client(p.deps, t)
	if err != nil {
		return err
	}
	for _, f := range []struct{ id, uri string }{{st.Output, runs.RoundDir(t).Responses()}, {st.Errors, runs.RoundDir(t).Errors()}} {
		if f.id == "" {
			continue
		}
		data, err := c.FileContent(ctx, f.id)
		if err != nil {
			return err
		}
		if err := p.deps.Store.Replace(ctx, f.uri, blob.WriteBytes(data)); err != nil {
			return err
		}
	}
	return nil
}
