package batch

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
)

// tag names the round for the provider, so a retried submission finds the
// batch it created.
func tag(t activities.BatchTask) string {
	return fmt.Sprintf("%s/%s/shard-%05d/round-%d", t.Run.ID, t.Stage, t.Shard, t.Round)
}

// BatchSubmit sends the round's request file: as a Batch API batch, or (in
// BatchFiles mode) nowhere, since the file is already in the exchange.
func (a *Activities) BatchSubmit(ctx context.Context, t activities.BatchTask) (_ activities.BatchRef, err error) {
	defer wire.Classify(ctx, &err)
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	if t.Backend.Batch.Mode == activities.BatchFiles {
		a.deps.TaskLog(ctx, t.Run.ID, t.Shard, t.Stage).Info("waiting for batch responses",
			"round", t.Round, "requests", runs.RoundDir(t).Requests(), "responses", runs.RoundDir(t).Responses())
		return activities.BatchRef{}, nil
	}
	var b llm.Batch
	if err := a.deps.Store.ReadJSON(ctx, runs.RoundDir(t).Batch(), &b); err == nil && b.ID != "" {
		return activities.BatchRef{ID: b.ID}, nil // submitted by an earlier attempt
	} else if err != nil && !blob.IsNotExist(err) {
		return activities.BatchRef{}, err
	}
	lines, err := a.requests(ctx, t)
	if err != nil {
		return activities.BatchRef{}, err
	}
	c, err := a.deps.LLM(t.Backend)
	if err != nil {
		return activities.BatchRef{}, activities.BadInput(err)
	}
	b, err = c.SubmitBatch(ctx, tag(t), lines, t.Backend.Batch.Window)
	if err != nil {
		return activities.BatchRef{}, err
	}
	if err := a.deps.Store.WriteJSON(ctx, runs.RoundDir(t).Batch(), b); err != nil {
		return activities.BatchRef{}, err
	}
	return activities.BatchRef{ID: b.ID}, nil
}

// BatchPoll says whether the round is done: the batch has ended, or the
// responses file has appeared.
func (a *Activities) BatchPoll(ctx context.Context, t activities.BatchTask, ref activities.BatchRef) (_ activities.BatchStatus, err error) {
	defer wire.Classify(ctx, &err)
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	if t.Backend.Batch.Mode == activities.BatchFiles {
		_, err := a.deps.Store.Stat(ctx, runs.RoundDir(t).Responses())
		switch {
		case err == nil:
			return activities.BatchStatus{Done: true, Status: "responded"}, nil
		case blob.IsNotExist(err):
			return activities.BatchStatus{Status: "waiting"}, nil
		}
		return activities.BatchStatus{}, err
	}
	c, err := a.deps.LLM(t.Backend)
	if err != nil {
		return activities.BatchStatus{}, activities.BadInput(err)
	}
	b, err := c.RetrieveBatch(ctx, ref.ID)
	if err != nil {
		return activities.BatchStatus{}, err
	}
	return activities.BatchStatus{Done: b.Done(), Status: b.Status, Output: b.OutputFileID, Errors: b.ErrorFileID}, nil
}

// BatchCollect puts the round's answers in the response cache and records
// which requests they answered. In BatchAPI mode it first downloads the
// batch's output and error files, as the last poll named them, into the
// round's folder.
func (a *Activities) BatchCollect(ctx context.Context, t activities.BatchTask, st activities.BatchStatus) (_ activities.BatchCollected, err error) {
	defer wire.Classify(ctx, &err)
	var done runs.Collected
	if err := a.deps.Store.ReadJSON(ctx, runs.RoundDir(t).Collected(), &done); err == nil {
		return done.BatchCollected, nil
	} else if !blob.IsNotExist(err) {
		return activities.BatchCollected{}, err
	}
	log := a.deps.TaskLog(ctx, t.Run.ID, t.Shard, t.Stage).With("round", t.Round)
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	c, err := a.deps.LLM(t.Backend)
	if err != nil {
		return activities.BatchCollected{}, activities.BadInput(err)
	}
	status := cmp.Or(st.Status, "responded")
	if t.Backend.Batch.Mode != activities.BatchFiles {
		for _, f := range []struct{ id, uri string }{{st.Output, runs.RoundDir(t).Responses()}, {st.Errors, runs.RoundDir(t).Errors()}} {
			if f.id == "" {
				continue
			}
			data, err := c.FileContent(ctx, f.id)
			if err != nil {
				return activities.BatchCollected{}, err
			}
			if err := a.deps.Store.Replace(ctx, f.uri, blob.WriteBytes(data)); err != nil {
				return activities.BatchCollected{}, err
			}
		}
	}
	lines, err := a.requests(ctx, t)
	if err != nil {
		return activities.BatchCollected{}, err
	}
	var results []llm.BatchResult
	for _, uri := range []string{runs.RoundDir(t).Responses(), runs.RoundDir(t).Errors()} {
		data, err := blob.ReadAll(ctx, a.deps.Store, uri)
		if blob.IsNotExist(err) {
			continue
		}
		if err != nil {
			return activities.BatchCollected{}, err
		}
		rs, bad := llm.ParseBatchResults(data)
		results = append(results, rs...)
		for _, e := range bad {
			done.BadLines = append(done.BadLines, fmt.Sprintf("%s: %v", uri, e))
		}
	}
	answered, missing, err := c.Fill(ctx, lines, results)
	if err != nil {
		return activities.BatchCollected{}, err
	}
	done.BatchCollected = activities.BatchCollected{Status: status, Requests: len(lines), Answered: len(answered), Missing: len(missing)}
	done.AnsweredIDs, done.Reasons = answered, missing
	if err := a.deps.Store.WriteJSON(ctx, runs.RoundDir(t).Collected(), done); err != nil {
		return activities.BatchCollected{}, err
	}
	log.Info("batch round collected", "status", status, "requests", len(lines), "answered", len(answered),
		"missing", len(missing), "bad_lines", len(done.BadLines))
	return done.BatchCollected, nil
}

// requests reads the round's request file.
func (a *Activities) requests(ctx context.Context, t activities.BatchTask) ([]llm.BatchLine, error) {
	data, err := blob.ReadAll(ctx, a.deps.Store, runs.RoundDir(t).Requests())
	if err != nil {
		return nil, err
	}
	lines, err := llm.DecodeBatch(data)
	if err != nil {
		return nil, activities.BadInput(fmt.Errorf("%s: %w", runs.RoundDir(t).Requests(), err))
	}
	return lines, nil
}
