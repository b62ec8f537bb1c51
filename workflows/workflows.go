// Package workflows orchestrates zeroner's runs on Temporal. Workflows are
// deterministic and thin: they decide what runs when, and pass only URIs,
// keys and counters; the work is in package activities.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/pipeline"
)

// TaskQueue is the default task queue of workers and starters.
const TaskQueue = "zeroner"

// QueryProgress is the query that returns a run's Progress.
const QueryProgress = "progress"

// WorkflowID is the fixed workflow id of a job, so starting the same job
// again re-attaches to it.
func WorkflowID(job string) string { return "zeroner/" + job }

// Register adds the workflows to a worker's registry.
func Register(r interface {
	RegisterWorkflow(w interface{})
}) {
	r.RegisterWorkflow(AnnotateCorpus)
	r.RegisterWorkflow(AnnotateShard)
	r.RegisterWorkflow(Distill)
	r.RegisterWorkflow(BuildIndex)
	r.RegisterWorkflow(SearchBatch)
}

// retry is the policy of every activity: bounded, with backoff; bad input is
// never retried.
var retry = &temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        time.Minute,
	MaximumAttempts:        5,
	NonRetryableErrorTypes: []string{activities.ErrBadInput},
}

func withOptions(ctx workflow.Context, startToClose, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy:         retry,
	})
}

// slide is the sliding window over shards: from *next on, it starts
// start(shard) for each shard that pick selects, at most window at a time,
// and calls done(shard, f) when each finishes. It stops starting new ones
// when all are started or when stop (asked before each round of starts)
// says so, and returns once none is in flight; *next is then the first
// shard not started.
func slide(ctx workflow.Context, next *int, shards, window int, pick func(int) bool, stop func() bool,
	start func(shard int) workflow.Future, done func(shard int, f workflow.Future)) {
	sel := workflow.NewSelector(ctx)
	inflight := 0
	for {
		for halt := stop(); !halt && inflight < window && *next < shards; {
			shard := *next
			*next++
			if !pick(shard) {
				continue
			}
			inflight++
			sel.AddFuture(start(shard), func(f workflow.Future) {
				inflight--
				done(shard, f)
			})
		}
		if inflight == 0 {
			return
		}
		sel.Select(ctx)
	}
}

// ShardInput names the shard a child workflow annotates.
type ShardInput struct {
	Run     activities.Run         `json:"run"`
	Shard   int                    `json:"shard"`
	Backend activities.BackendSpec `json:"backend"`
}

// ShardResult counts what a shard's annotation produced.
type ShardResult struct {
	Docs     int            `json:"docs"`
	Mentions int            `json:"mentions"`
	Failures int            `json:"failures"`
	Usage    pipeline.Usage `json:"usage"`
}

// AnnotateShard runs the three SAM-NER stages on one shard. With a backend
// that calls a model, each stage is a retriable activity that reads the
// previous stage's output, so that a retry never pays for answers twice; in
// batch mode each stage first runs its batch rounds (see batchRounds). With
// the rules backend, one activity runs the three, which costs less to redo
// than to checkpoint.
func AnnotateShard(ctx workflow.Context, in ShardInput) (ShardResult, error) {
	ctx = withOptions(ctx, 30*time.Minute, 20*time.Second)
	task := activities.ShardTask{Run: in.Run, Shard: in.Shard, Backend: in.Backend}
	// Histories recorded before the one-activity path replay as before.
	if oneActivity(in.Backend) && workflow.GetVersion(ctx, "one-activity-shard", workflow.DefaultVersion, 1) == 1 {
		var st activities.StageStats
		if err := workflow.ExecuteActivity(ctx, activities.AnnotateActivity, task).Get(ctx, &st); err != nil {
			return ShardResult{}, err
		}
		return ShardResult{Docs: st.Docs, Mentions: st.Mentions, Failures: st.Failures, Usage: st.Usage}, nil
	}
	var res ShardResult
	for _, s := range []struct {
		name string
		fn   any
	}{{activities.StageDiscover, activities.DiscoverActivity}, {activities.StageMediate, activities.MediateActivity}, {activities.StageCalibrate, activities.CalibrateActivity}} {
		if in.Backend.Batch.On() {
			rounds, err := batchRounds(ctx, task, s.name)
			if err != nil {
				return ShardResult{}, fmt.Errorf("%s batch: %w", s.name, err)
			}
			task.Rounds = rounds
		}
		var st activities.StageStats
		if err := workflow.ExecuteActivity(ctx, s.fn, task).Get(ctx, &st); err != nil {
			return ShardResult{}, err
		}
		res.Docs, res.Mentions = st.Docs, st.Mentions
		res.Failures += st.Failures
		res.Usage.Add(st.Usage)
	}
	return res, nil
}

// oneActivity says whether a shard's stages run as one activity: for the
// rules backend, which calls no model (batch mode is for models).
func oneActivity(b activities.BackendSpec) bool {
	return (b.Name == "" || b.Name == "rules") && !b.Batch.On()
}
