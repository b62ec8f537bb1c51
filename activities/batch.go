package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
)

// roundDir is where a round's files are.
func (t BatchTask) roundDir() string {
	elem := []string{t.Stage, fmt.Sprintf("shard-%05d", t.Shard), fmt.Sprintf("round-%d", t.Round)}
	if t.Backend.Batch.Mode == BatchFiles {
		p, err := blob.JoinUnder(t.Backend.Batch.Dir, append([]string{t.Run.ID}, elem...)...)
		if err != nil {
			return "refused:" + err.Error()
		}
		return p
	}
	return t.Run.path(append([]string{"batches"}, elem...)...)
}

// The files of a round.
func (t BatchTask) requestsURI() string  { return blob.Join(t.roundDir(), "requests.jsonl") }
func (t BatchTask) responsesURI() string { return blob.Join(t.roundDir(), "responses.jsonl") }
func (t BatchTask) errorsURI() string    { return blob.Join(t.roundDir(), "errors.jsonl") }
func (t BatchTask) batchURI() string     { return blob.Join(t.roundDir(), "batch.json") }
func (t BatchTask) collectedURI() string { return blob.Join(t.roundDir(), "collected.json") }

// tag names the round for the provider, so a retried submission finds the
// batch it created.
func (t BatchTask) tag() string {
	return fmt.Sprintf("%s/%s/shard-%05d/round-%d", t.Run.ID, t.Stage, t.Shard, t.Round)
}

// collected is a round's collected.json: which requests it answered, and
// why the others were not.
type collected struct {
	BatchCollected
	AnsweredIDs []string          `json:"answered_ids"`
	Reasons     map[string]string `json:"missing_reasons,omitempty"`
	BadLines    []string          `json:"bad_lines,omitempty"`
}

// BatchPrepare runs the stage from the response cache alone and writes the
// requests it could not answer as the round's request file. No request
// means the stage can run.
func (a *Activities) BatchPrepare(ctx context.Context, t BatchTask) (BatchRound, error) {
	log := a.taskLog(ctx, t.Run.ID, t.Shard, t.Stage).With("round", t.Round)
	if _, err := a.store.Stat(ctx, t.Run.Stage(t.Stage, t.Shard)); err == nil {
		return BatchRound{}, nil // the stage is done
	} else if !blob.IsNotExist(err) {
		return BatchRound{}, err
	}
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()
	docs, in, err := a.stageInput(ctx, t.ShardTask, t.Stage)
	if err != nil {
		return BatchRound{}, err
	}
	var pending llm.Pending
	b, err := a.offlineBackend(ctx, t.ShardTask, &pending, nil)
	if err != nil {
		return BatchRound{}, err
	}
	_, runErr := runStage(ctx, t.Stage, b, docs, in)
	if ctx.Err() != nil {
		return BatchRound{}, ctx.Err()
	}
	if pending.Len() == 0 {
		// Every answer is in the cache; an error here is the stage's own
		// and the stage activity will meet it again.
		return BatchRound{}, nil
	}
	if runErr != nil && !errors.Is(runErr, pipeline.ErrUnanswered) {
		log.Debug("stage stopped early while collecting requests", "err", runErr)
	}
	data, err := llm.EncodeBatch(pending.Lines())
	if err != nil {
		return BatchRound{}, err
	}
	if err := a.store.Replace(ctx, t.requestsURI(), blob.WriteBytes(data)); err != nil {
		return BatchRound{}, err
	}
	log.Info("batch round prepared", "requests", pending.Len(), "file", t.requestsURI())
	return BatchRound{Requests: pending.Len(), URI: t.requestsURI()}, nil
}

// BatchSubmit sends the round's request file: as a Batch API batch, or (in
// BatchFiles mode) nowhere, since the file is already in the exchange.
func (a *Activities) BatchSubmit(ctx context.Context, t BatchTask) (_ BatchRef, err error) {
	defer classify(ctx, &err)
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()
	if t.Backend.Batch.Mode == BatchFiles {
		a.taskLog(ctx, t.Run.ID, t.Shard, t.Stage).Info("waiting for batch responses",
			"round", t.Round, "requests", t.requestsURI(), "responses", t.responsesURI())
		return BatchRef{}, nil
	}
	var b llm.Batch
	if err := a.readJSON(ctx, t.batchURI(), &b); err == nil && b.ID != "" {
		return BatchRef{ID: b.ID}, nil // submitted by an earlier attempt
	} else if err != nil && !blob.IsNotExist(err) {
		return BatchRef{}, err
	}
	lines, err := a.requests(ctx, t)
	if err != nil {
		return BatchRef{}, err
	}
	c, err := a.newLLM(t.Backend)
	if err != nil {
		return BatchRef{}, badInput(err)
	}
	b, err = c.SubmitBatch(ctx, t.tag(), lines, t.Backend.Batch.Window)
	if err != nil {
		return BatchRef{}, err
	}
	if err := a.writeJSON(ctx, t.batchURI(), b); err != nil {
		return BatchRef{}, err
	}
	return BatchRef{ID: b.ID}, nil
}

// BatchPoll says whether the round is done: the batch has ended, or the
// responses file has appeared.
func (a *Activities) BatchPoll(ctx context.Context, t BatchTask, ref BatchRef) (_ BatchStatus, err error) {
	defer classify(ctx, &err)
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()
	if t.Backend.Batch.Mode == BatchFiles {
		_, err := a.store.Stat(ctx, t.responsesURI())
		switch {
		case err == nil:
			return BatchStatus{Done: true, Status: "responded"}, nil
		case blob.IsNotExist(err):
			return BatchStatus{Status: "waiting"}, nil
		}
		return BatchStatus{}, err
	}
	c, err := a.newLLM(t.Backend)
	if err != nil {
		return BatchStatus{}, badInput(err)
	}
	b, err := c.RetrieveBatch(ctx, ref.ID)
	if err != nil {
		return BatchStatus{}, err
	}
	return BatchStatus{Done: b.Done(), Status: b.Status, Output: b.OutputFileID, Errors: b.ErrorFileID}, nil
}

// BatchCollect puts the round's answers in the response cache and records
// which requests they answered. In BatchAPI mode it first downloads the
// batch's output and error files, as the last poll named them, into the
// round's folder.
func (a *Activities) BatchCollect(ctx context.Context, t BatchTask, st BatchStatus) (_ BatchCollected, err error) {
	defer classify(ctx, &err)
	var done collected
	if err := a.readJSON(ctx, t.collectedURI(), &done); err == nil {
		return done.BatchCollected, nil
	} else if !blob.IsNotExist(err) {
		return BatchCollected{}, err
	}
	log := a.taskLog(ctx, t.Run.ID, t.Shard, t.Stage).With("round", t.Round)
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()
	c, err := a.newLLM(t.Backend)
	if err != nil {
		return BatchCollected{}, badInput(err)
	}
	status := cmp.Or(st.Status, "responded")
	if t.Backend.Batch.Mode != BatchFiles {
		for _, f := range []struct{ id, uri string }{{st.Output, t.responsesURI()}, {st.Errors, t.errorsURI()}} {
			if f.id == "" {
				continue
			}
			data, err := c.FileContent(ctx, f.id)
			if err != nil {
				return BatchCollected{}, err
			}
			if err := a.store.Replace(ctx, f.uri, blob.WriteBytes(data)); err != nil {
				return BatchCollected{}, err
			}
		}
	}
	lines, err := a.requests(ctx, t)
	if err != nil {
		return BatchCollected{}, err
	}
	var results []llm.BatchResult
	for _, uri := range []string{t.responsesURI(), t.errorsURI()} {
		data, err := blob.ReadAll(ctx, a.store, uri)
		if blob.IsNotExist(err) {
			continue
		}
		if err != nil {
			return BatchCollected{}, err
		}
		rs, bad := llm.ParseBatchResults(data)
		results = append(results, rs...)
		for _, e := range bad {
			done.BadLines = append(done.BadLines, fmt.Sprintf("%s: %v", uri, e))
		}
	}
	answered, missing, err := c.Fill(ctx, lines, results)
	if err != nil {
		return BatchCollected{}, err
	}
	done.BatchCollected = BatchCollected{Status: status, Requests: len(lines), Answered: len(answered), Missing: len(missing)}
	done.AnsweredIDs, done.Reasons = answered, missing
	if err := a.writeJSON(ctx, t.collectedURI(), done); err != nil {
		return BatchCollected{}, err
	}
	log.Info("batch round collected", "status", status, "requests", len(lines), "answered", len(answered),
		"missing", len(missing), "bad_lines", len(done.BadLines))
	return done.BatchCollected, nil
}

// requests reads the round's request file.
func (a *Activities) requests(ctx context.Context, t BatchTask) ([]llm.BatchLine, error) {
	data, err := blob.ReadAll(ctx, a.store, t.requestsURI())
	if err != nil {
		return nil, err
	}
	lines, err := llm.DecodeBatch(data)
	if err != nil {
		return nil, badInput(fmt.Errorf("%s: %w", t.requestsURI(), err))
	}
	return lines, nil
}

// offlineBackend is SAM-NER over an Offline client for the run's spec.
func (a *Activities) offlineBackend(ctx context.Context, t ShardTask, pending *llm.Pending, bought map[string]bool) (pipeline.Backend, error) {
	s, err := a.schema(ctx, t.Run)
	if err != nil {
		return nil, err
	}
	c, err := a.newLLM(t.Backend)
	if err != nil {
		return nil, badInput(err)
	}
	b, err := samBackend(t.Backend, s, c.Offline(pending, bought))
	if err != nil {
		return nil, badInput(err)
	}
	return b, nil
}

// BatchStats is what the batch rounds of a stage of a shard did; Finalize
// sums them into run.json.
type BatchStats struct {
	Rounds   int `json:"rounds"`
	Requests int `json:"requests"` // submitted, re-submissions included
	Answered int `json:"answered"`
}

// batchFinal is the backend of a stage activity in batch mode: answers from
// the cache only, those bought in the stage's rounds counted as batch usage,
// what is still missing a failed chunk. It records the rounds' stats.
func (a *Activities) batchFinal(ctx context.Context, t ShardTask, stage string) (pipeline.Backend, error) {
	bought := make(map[string]bool)
	var st BatchStats
	for r := range t.Rounds {
		bt := BatchTask{ShardTask: t, Stage: stage, Round: r}
		var c collected
		if err := a.readJSON(ctx, bt.collectedURI(), &c); err != nil {
			return nil, fmt.Errorf("batch round %d: %w", r, err)
		}
		st.Requests += c.Requests
		st.Answered += c.Answered
		for _, id := range c.AnsweredIDs {
			bought[id] = true
		}
	}
	st.Rounds = t.Rounds
	if err := a.writeJSON(ctx, t.Run.BatchStats(stage, t.Shard), st); err != nil {
		return nil, err
	}
	return a.offlineBackend(ctx, t, nil, bought)
}

// batchSummary sums the shards' batch stats per stage, for run.json.
func (a *Activities) batchSummary(ctx context.Context, run Run, shards int) (map[string]BatchSummary, error) {
	out := make(map[string]BatchSummary)
	for _, stage := range []string{StageDiscover, StageMediate, StageCalibrate} {
		s := BatchSummary{ShardsByRounds: make(map[int]int)}
		for shard := range shards {
			var st BatchStats
			err := a.readJSON(ctx, run.BatchStats(stage, shard), &st)
			if blob.IsNotExist(err) {
				continue // a failed shard, or a stage done before batch mode
			}
			if err != nil {
				return nil, err
			}
			s.ShardsByRounds[st.Rounds]++
			s.MaxRounds = max(s.MaxRounds, st.Rounds)
			s.Requests += st.Requests
			s.Answered += st.Answered
		}
		if len(s.ShardsByRounds) > 0 {
			out[stage] = s
		}
	}
	return out, nil
}

// BatchSummary is a stage's batch rounds over a run, in run.json.
type BatchSummary struct {
	MaxRounds      int         `json:"max_rounds"`
	ShardsByRounds map[int]int `json:"shards_by_rounds"` // rounds -> shards that needed that many
	Requests       int         `json:"requests"`         // submitted, re-submissions included
	Answered       int         `json:"answered"`
}
