package wire

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/activity"
)

// TaskLog is a's logger with what locates an activity's work: the run, the
// stage, the shard (if not negative), and the Temporal workflow and attempt.
func (d *Deps) TaskLog(ctx context.Context, run string, shard int, stage string) *slog.Logger {
	attrs := []any{"run", run, "stage", stage}
	if shard >= 0 {
		attrs = append(attrs, "shard", shard)
	}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		attrs = append(attrs, "workflow_id", info.WorkflowExecution.ID, "attempt", info.Attempt)
	}
	return d.Log.With(attrs...)
}

// CountError counts and logs *err, a stage's error, when it is one: an
// attempt canceled by its context (a worker stopping, a lost heartbeat) is
// not the stage's failure.
func (d *Deps) CountError(ctx context.Context, log *slog.Logger, stage string, err *error) {
	if *err != nil && ctx.Err() == nil {
		d.Metrics.StageError(stage)
		log.Warn("stage failed", "err", *err)
	}
}
