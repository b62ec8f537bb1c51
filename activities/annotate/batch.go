package annotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
)

// BatchPrepare runs the stage from the response cache alone and writes the
// requests it could not answer as the round's request file. No request
// means the stage can run.
func (a *Activities) BatchPrepare(ctx context.Context, t activities.BatchTask) (activities.BatchRound, error) {
	log := a.deps.TaskLog(ctx, t.Run.ID, t.Shard, t.Stage).With("round", t.Round)
	if _, err := a.deps.Store.Stat(ctx, runs.Dir(t.Run).Stage(t.Stage, t.Shard)); err == nil {
		return activities.BatchRound{}, nil // the stage is done
	} else if !blob.IsNotExist(err) {
		return activities.BatchRound{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	docs, in, err := a.stageInput(ctx, t.ShardTask, t.Stage)
	if err != nil {
		return activities.BatchRound{}, err
	}
	var pending llm.Pending
	b, err := a.offlineBackend(ctx, t.ShardTask, &pending, nil)
	if err != nil {
		return activities.BatchRound{}, err
	}
	_, runErr := runStage(ctx, t.Stage, b, docs, in)
	if ctx.Err() != nil {
		return activities.BatchRound{}, ctx.Err()
	}
	if pending.Len() == 0 {
		// Every answer is in the cache; an error here is the stage's own
		// and the stage activity will meet it again.
		return activities.BatchRound{}, nil
	}
	if runErr != nil && !errors.Is(runErr, pipeline.ErrUnanswered) {
		log.Debug("stage stopped early while collecting requests", "err", runErr)
	}
	data, err := llm.EncodeBatch(pending.Lines())
	if err != nil {
		return activities.BatchRound{}, err
	}
	if err := a.deps.Store.Replace(ctx, runs.RoundDir(t).Requests(), blob.WriteBytes(data)); err != nil {
		return activities.BatchRound{}, err
	}
	log.Info("batch round prepared", "requests", pending.Len(), "file", runs.RoundDir(t).Requests())
	return activities.BatchRound{Requests: pending.Len(), URI: runs.RoundDir(t).Requests()}, nil
}

// offlineBackend is SAM-NER over an Offline client for the run's spec.
func (a *Activities) offlineBackend(ctx context.Context, t activities.ShardTask, pending *llm.Pending, bought map[string]bool) (pipeline.Backend, error) {
	s, err := a.deps.Schema(ctx, t.Run)
	if err != nil {
		return nil, err
	}
	c, err := a.deps.LLM(t.Backend)
	if err != nil {
		return nil, activities.BadInput(err)
	}
	b, err := wire.SAMBackend(t.Backend, s, c.Offline(pending, bought))
	if err != nil {
		return nil, activities.BadInput(err)
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
func (a *Activities) batchFinal(ctx context.Context, t activities.ShardTask, stage string) (pipeline.Backend, error) {
	bought := make(map[string]bool)
	var st BatchStats
	for r := range t.Rounds {
		bt := activities.BatchTask{ShardTask: t, Stage: stage, Round: r}
		var c runs.Collected
		if err := a.deps.Store.ReadJSON(ctx, runs.RoundDir(bt).Collected(), &c); err != nil {
			return nil, fmt.Errorf("batch round %d: %w", r, err)
		}
		st.Requests += c.Requests
		st.Answered += c.Answered
		for _, id := range c.AnsweredIDs {
			bought[id] = true
		}
	}
	st.Rounds = t.Rounds
	if err := a.deps.Store.WriteJSON(ctx, runs.Dir(t.Run).BatchStats(stage, t.Shard), st); err != nil {
		return nil, err
	}
	return a.offlineBackend(ctx, t, nil, bought)
}

// batchSummary sums the shards' batch stats per stage, for run.json.
func (a *Activities) batchSummary(ctx context.Context, run activities.Run, shards int) (map[string]runs.BatchSummary, error) {
	out := make(map[string]runs.BatchSummary)
	for _, stage := range []string{activities.StageDiscover, activities.StageMediate, activities.StageCalibrate} {
		s := runs.BatchSummary{ShardsByRounds: make(map[int]int)}
		for shard := range shards {
			var st BatchStats
			err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).BatchStats(stage, shard), &st)
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
