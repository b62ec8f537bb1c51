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
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// Discover proposes the shard's entity spans.
func (a *Activities) Discover(ctx context.Context, t activities.ShardTask) (activities.StageStats, error) {
	return a.stage(ctx, t, activities.StageDiscover)
}

// Mediate assigns the shard's mentions their archetypes.
func (a *Activities) Mediate(ctx context.Context, t activities.ShardTask) (activities.StageStats, error) {
	return a.stage(ctx, t, activities.StageMediate)
}

// Calibrate assigns the shard's mentions their target labels.
func (a *Activities) Calibrate(ctx context.Context, t activities.ShardTask) (activities.StageStats, error) {
	return a.stage(ctx, t, activities.StageCalibrate)
}

// prevStage is the stage whose output a stage reads ("" for the first).
func prevStage(stage string) string {
	switch stage {
	case activities.StageMediate:
		return activities.StageDiscover
	case activities.StageCalibrate:
		return activities.StageMediate
	}
	return ""
}

// runStage runs one stage of b on documents and the previous stage's mentions.
func runStage(ctx context.Context, stage string, b pipeline.Backend, docs []pipeline.Document, in []pipeline.Mention) (pipeline.Result, error) {
	switch stage {
	case activities.StageDiscover:
		return b.Discover(ctx, docs)
	case activities.StageMediate:
		return b.Mediate(ctx, docs, in)
	case activities.StageCalibrate:
		return b.Calibrate(ctx, docs, in)
	}
	return pipeline.Result{}, fmt.Errorf("unknown stage %q", stage)
}

// stageInput reads a stage's input for a shard: the documents and the
// previous stage's mentions.
func (a *Activities) stageInput(ctx context.Context, t activities.ShardTask, stage string) ([]pipeline.Document, []pipeline.Mention, error) {
	rows, err := a.deps.Store.Documents(ctx, runs.Dir(t.Run).Documents(t.Shard))
	if err != nil {
		return nil, nil, err
	}
	var in []pipeline.Mention
	if prev := prevStage(stage); prev != "" {
		prevRows, err := a.deps.Store.Mentions(ctx, runs.Dir(t.Run).Stage(prev, t.Shard))
		if err != nil {
			return nil, nil, err
		}
		in = runs.ToMentions(prevRows)
	}
	return runs.ToDocuments(rows), in, nil
}

// stage runs one stage on one shard: it returns at once if the output exists,
// else reads the documents and the previous stage's mentions, runs the
// stage, and writes the mentions and any failures.
func (a *Activities) stage(ctx context.Context, t activities.ShardTask, stage string) (_ activities.StageStats, err error) {
	log := a.deps.TaskLog(ctx, t.Run.ID, t.Shard, stage)
	start := time.Now()
	defer a.deps.CountError(ctx, log, stage, &err)
	defer wire.Classify(ctx, &err)
	out := runs.Dir(t.Run).Stage(stage, t.Shard)
	if ms, err := a.deps.Store.Mentions(ctx, out); err == nil {
		log.Debug("stage output exists")
		return a.existingStats(ctx, t, stage, ms)
	} else if !blob.IsNotExist(err) {
		return activities.StageStats{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()

	docs, in, err := a.stageInput(ctx, t, stage)
	if err != nil {
		return activities.StageStats{}, err
	}
	b, err := a.stageBackend(ctx, t, stage)
	if err != nil {
		return activities.StageStats{}, err
	}
	res, err := runStage(ctx, stage, b, docs, in)
	if err != nil {
		// No shard number: the workflow knows it, and the same cause on
		// many shards is then one cause in the job's summary.
		return activities.StageStats{}, fmt.Errorf("%s: %w", stage, err)
	}
	if err := pipeline.CheckMentions(docs, res.Mentions); err != nil {
		// A backend that emits a span outside its document is a bug; do
		// not write a table that downstream users would trust.
		return activities.StageStats{}, activities.BadInput(fmt.Errorf("%s shard %d: %w", stage, t.Shard, err))
	}
	total, err := a.writeStage(ctx, t, stage, docs, res)
	if err != nil {
		return activities.StageStats{}, err
	}
	st := activities.StageStats{Docs: len(docs), Mentions: len(res.Mentions), Failures: len(res.Failures), Usage: total}
	// Counted here only: a retry that finds the output did no new work.
	a.deps.Metrics.Stage(stage, st.Docs, st.Mentions, st.Failures, st.Usage)
	log.Info("stage done", "docs", st.Docs, "mentions", st.Mentions, "failures", st.Failures,
		"requests", total.Requests, "cache_hits", total.CacheHits, "tokens", total.PromptTokens+total.CompletionTokens,
		"seconds", time.Since(start).Round(time.Millisecond).Seconds())
	if st.Failures > 0 {
		log.Warn("stage could not process some documents", "failures", st.Failures, "table", runs.Dir(t.Run).Failures(stage, t.Shard))
	}
	return st, nil
}

// stageBackend is the backend a stage runs on: online, or in batch mode
// the response cache filled by the stage's rounds.
func (a *Activities) stageBackend(ctx context.Context, t activities.ShardTask, stage string) (pipeline.Backend, error) {
	if t.Backend.Batch.On() {
		return a.batchFinal(ctx, t, stage)
	}
	return a.deps.Backend(ctx, t.Run, t.Backend)
}

// writeStage writes a stage's result and returns its model usage. The
// ledger and the failures come first: the stage's output is the marker
// that the stage is done.
func (a *Activities) writeStage(ctx context.Context, t activities.ShardTask, stage string, docs []pipeline.Document, res pipeline.Result) (pipeline.Usage, error) {
	total, err := a.writeSide(ctx, t, stage, docs, res)
	if err != nil {
		return pipeline.Usage{}, err
	}
	err = a.deps.Store.Create(ctx, runs.Dir(t.Run).Stage(stage, t.Shard), runs.Rows(table.NewMentionWriter, runs.FromMentions(t.Run.ID, res.Mentions)))
	if err != nil && !blob.IsExist(err) {
		return pipeline.Usage{}, err
	}
	return total, nil
}

// writeSide writes what a stage's result holds besides its mentions, its
// usage and its failures, and returns its model usage.
func (a *Activities) writeSide(ctx context.Context, t activities.ShardTask, stage string, docs []pipeline.Document, res pipeline.Result) (pipeline.Usage, error) {
	total, err := a.writeUsage(ctx, t, stage, docs, res.Usage)
	if err != nil {
		return pipeline.Usage{}, err
	}
	if len(res.Failures) > 0 {
		fails := make([]table.Reject, len(res.Failures))
		for i, f := range res.Failures {
			fails[i] = table.Reject{RunID: t.Run.ID, Object: f.DocID, Reason: f.Stage + ": " + f.Reason}
		}
		err := a.deps.Store.Replace(ctx, runs.Dir(t.Run).Failures(stage, t.Shard), runs.Rows(table.NewRejectWriter, fails))
		if err != nil {
			return pipeline.Usage{}, err
		}
	}
	return total, nil
}

// writeUsage writes the stage's usage per document, in document order, and
// returns its sum.
func (a *Activities) writeUsage(ctx context.Context, t activities.ShardTask, stage string, docs []pipeline.Document, usage map[string]pipeline.Usage) (pipeline.Usage, error) {
	var total pipeline.Usage
	if len(usage) == 0 {
		return total, nil
	}
	rows := make([]table.Usage, 0, len(usage))
	for _, d := range docs {
		u, ok := usage[d.ID]
		if !ok {
			continue
		}
		total.Add(u)
		rows = append(rows, table.Usage{RunID: t.Run.ID, DocID: d.ID, Stage: stage, Requests: u.Requests, CacheHits: u.CacheHits,
			PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, CachedTokens: u.CachedTokens,
			BatchRequests: u.BatchRequests, BatchTokens: u.BatchTokens})
	}
	if err := a.deps.Store.Replace(ctx, runs.Dir(t.Run).Usage(stage, t.Shard), runs.Rows(table.NewUsageWriter, rows)); err != nil {
		return pipeline.Usage{}, err
	}
	return total, nil
}

// existingStats recounts a finished stage's output, for a retried activity.
func (a *Activities) existingStats(ctx context.Context, t activities.ShardTask, stage string, ms []table.Mention) (activities.StageStats, error) {
	docs, err := a.deps.Store.Documents(ctx, runs.Dir(t.Run).Documents(t.Shard))
	if err != nil {
		return activities.StageStats{}, err
	}
	fails, usage, err := a.sideStats(ctx, t, stage)
	if err != nil {
		return activities.StageStats{}, err
	}
	return activities.StageStats{Docs: len(docs), Mentions: len(ms), Failures: fails, Usage: usage}, nil
}

// sideStats counts a finished stage's failures and sums its usage.
func (a *Activities) sideStats(ctx context.Context, t activities.ShardTask, stage string) (int, pipeline.Usage, error) {
	fails, err := a.deps.Store.Rejects(ctx, runs.Dir(t.Run).Failures(stage, t.Shard))
	if err != nil && !blob.IsNotExist(err) {
		return 0, pipeline.Usage{}, err
	}
	usage, err := a.deps.Store.Usage(ctx, runs.Dir(t.Run).Usage(stage, t.Shard))
	if err != nil && !blob.IsNotExist(err) {
		return 0, pipeline.Usage{}, err
	}
	return len(fails), runs.SumUsage(usage), nil
}

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
	for _, stage := range activities.Stages() {
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
