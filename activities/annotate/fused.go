package annotate

import (
	"context"
	"fmt"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// stageAll names the one activity that runs a shard's three stages, in logs
// and metrics.
const stageAll = "annotate"

// Annotate runs a shard's three stages in one activity, for a backend that
// calls no model (the workflow decides which): the documents are read once
// and, with a backend that can, tokenised once. Only calibrate's output is
// written: it marks the shard done and is what finalize reads. Discover's
// and mediate's outputs would be checkpoints of work that costs less to redo
// than to write and read. Failures and usage are written per stage, as the
// stage activities write them.
func (a *Activities) Annotate(ctx context.Context, t activities.ShardTask) (_ activities.StageStats, err error) {
	log := a.deps.TaskLog(ctx, t.Run.ID, t.Shard, stageAll)
	start := time.Now()
	defer a.deps.CountError(ctx, log, stageAll, &err)
	defer wire.Classify(ctx, &err)
	out := runs.Dir(t.Run).Stage(activities.StageCalibrate, t.Shard)
	if ms, err := a.deps.Store.Mentions(ctx, out); err == nil {
		log.Debug("shard output exists")
		return a.existingAll(ctx, t, ms)
	} else if !blob.IsNotExist(err) {
		return activities.StageStats{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()

	docs, _, err := a.stageInput(ctx, t, activities.StageDiscover)
	if err != nil {
		return activities.StageStats{}, err
	}
	b, err := a.deps.Backend(ctx, t.Run, t.Backend)
	if err != nil {
		return activities.StageStats{}, err
	}
	staged, err := pipeline.RunStages(ctx, b, docs)
	if err != nil {
		return activities.StageStats{}, err // it names the stage
	}
	st, err := a.writeStaged(ctx, t, docs, staged)
	if err != nil {
		return activities.StageStats{}, err
	}
	log.Info("shard annotated", "docs", st.Docs, "mentions", st.Mentions, "failures", st.Failures,
		"seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return st, nil
}

// writeStaged checks and writes the stages' results: failures and usage
// first and calibrate's mentions last, counts each stage in the metrics as
// its own activity would, and returns the shard's stats.
func (a *Activities) writeStaged(ctx context.Context, t activities.ShardTask, docs []pipeline.Document, staged pipeline.Staged) (activities.StageStats, error) {
	// A backend that emits a span outside its document is a bug: do not
	// write a table that downstream users would trust. Only calibrate's
	// table is written, so only its mentions are checked.
	if err := pipeline.CheckMentions(docs, staged.Calibrate.Mentions); err != nil {
		return activities.StageStats{}, activities.BadInput(fmt.Errorf("%s shard %d: %w", activities.StageCalibrate, t.Shard, err))
	}
	results := [...]pipeline.Result{staged.Discover, staged.Mediate, staged.Calibrate}
	st := activities.StageStats{Docs: len(docs), Mentions: len(staged.Calibrate.Mentions)}
	stages := activities.Stages()
	var usage [len(results)]pipeline.Usage
	for i, res := range results {
		u, err := a.writeSide(ctx, t, stages[i], docs, res)
		if err != nil {
			return activities.StageStats{}, err
		}
		usage[i] = u
		st.Failures += len(res.Failures)
		st.Usage.Add(u)
		if len(res.Failures) > 0 {
			a.deps.TaskLog(ctx, t.Run.ID, t.Shard, stages[i]).Warn("stage could not process some documents",
				"failures", len(res.Failures), "table", runs.Dir(t.Run).Failures(stages[i], t.Shard))
		}
	}
	out := runs.Dir(t.Run).Stage(activities.StageCalibrate, t.Shard)
	err := a.deps.Store.Create(ctx, out, runs.Rows(table.NewMentionWriter, runs.FromMentions(t.Run.ID, staged.Calibrate.Mentions)))
	if err != nil && !blob.IsExist(err) {
		return activities.StageStats{}, err
	}
	// Counted here only: a retry that finds the output did no new work.
	for i, res := range results {
		a.deps.Metrics.Stage(stages[i], len(docs), len(res.Mentions), len(res.Failures), usage[i])
	}
	return st, nil
}

// existingAll recounts a shard whose calibrated output exists, for a
// retried activity: its mentions, and every stage's failures and usage.
func (a *Activities) existingAll(ctx context.Context, t activities.ShardTask, ms []table.Mention) (activities.StageStats, error) {
	st, err := a.existingStats(ctx, t, activities.StageCalibrate, ms)
	if err != nil {
		return activities.StageStats{}, err
	}
	for _, stage := range activities.Stages()[:2] {
		fails, usage, err := a.sideStats(ctx, t, stage)
		if err != nil {
			return activities.StageStats{}, err
		}
		st.Failures += fails
		st.Usage.Add(usage)
	}
	return st, nil
}
