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

// BatchSubmit hands the round's request file to the task's provider.
func (a *Activities) BatchSubmit(ctx context.Context, t activities.BatchTask) (_ activities.BatchRef, err error) {
	defer wire.Classify(ctx, &err)
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	return a.provider(t).submit(ctx, t)
}

// BatchPoll says whether the round is done: the batch has ended, or the
// responses file has appeared.
func (a *Activities) BatchPoll(ctx context.Context, t activities.BatchTask, ref activities.BatchRef) (_ activities.BatchStatus, err error) {
	defer wire.Classify(ctx, &err)
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	return a.provider(t).poll(ctx, t, ref)
}

// BatchWait polls the round until it is done or w.Deadline has passed,
// first after the configured poll interval (at once with w.Now), then
// doubling the wait up to the longest. The whole wait is one activity that
// heartbeats, not a poll a workflow timer: a round that waits for days adds
// a few events to the shard's history instead of thousands. A retry (a
// worker restart) starts the backoff again.
func (a *Activities) BatchWait(ctx context.Context, t activities.BatchTask, w activities.BatchWait) (_ activities.BatchStatus, err error) {
	defer wire.Classify(ctx, &err)
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	p := a.provider(t)
	first, longest := t.Backend.Batch.Poll()
	wait := first
	if w.Now {
		wait = 0
	}
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return activities.BatchStatus{}, ctx.Err()
		case <-timer.C:
		}
		st, err := p.poll(ctx, t, w.Ref)
		if err != nil || st.Done {
			return st, err
		}
		if !w.Deadline.IsZero() && !time.Now().Before(w.Deadline) {
			return st, nil
		}
		wait = min(max(2*wait, first), longest)
	}
}

// BatchCollect has the provider fetch the round's answer files into the
// round's folder, puts the answers in the response cache, and records which
// requests they answered.
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
	if err := a.provider(t).fetch(ctx, t, st); err != nil {
		return activities.BatchCollected{}, err
	}
	c, err := client(a.deps, t)
	if err != nil {
		return activities.BatchCollected{}, err
	}
	lines, err := requests(ctx, a.deps, t)
	if err != nil {
		return activities.BatchCollected{}, err
	}
	results, err := a.results(ctx, t, &done)
	if err != nil {
		return activities.BatchCollected{}, err
	}
	answered, missing, err := c.Fill(ctx, lines, results)
	if err != nil {
		return activities.BatchCollected{}, err
	}
	status := cmp.Or(st.Status, "responded")
	done.BatchCollected = activities.BatchCollected{Status: status, Requests: len(lines), Answered: len(answered), Missing: len(missing)}
	done.AnsweredIDs, done.Reasons = answered, missing
	if err := a.deps.Store.WriteJSON(ctx, runs.RoundDir(t).Collected(), done); err != nil {
		return activities.BatchCollected{}, err
	}
	log.Info("batch round collected", "status", status, "requests", len(lines), "answered", len(answered),
		"missing", len(missing), "bad_lines", len(done.BadLines))
	return done.BatchCollected, nil
}

// results reads the round's responses and errors files, those that exist,
// and records in done the lines that do not parse.
func (a *Activities) results(ctx context.Context, t activities.BatchTask, done *runs.Collected) ([]llm.BatchResult, error) {
	var results []llm.BatchResult
	for _, uri := range []string{runs.RoundDir(t).Responses(), runs.RoundDir(t).Errors()} {
		data, err := blob.ReadAll(ctx, a.deps.Store, uri)
		if blob.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		rs, bad := llm.ParseBatchResults(data)
		results = append(results, rs...)
		for _, e := range bad {
			done.BadLines = append(done.BadLines, fmt.Sprintf("%s: %v", uri, e))
		}
	}
	return results, nil
}
