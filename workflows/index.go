package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zeroner/zeroner/activities"
)

// QueryIndexProgress is the query that returns an index build's
// IndexProgress.
const QueryIndexProgress = "index-progress"

// IndexWorkflowID is the fixed workflow id of the build of the index at
// uri, so building the same index again re-attaches to a running build.
func IndexWorkflowID(uri string) string { return "zeroner-index/" + uri }

// IndexProgress is what the index progress query returns.
type IndexProgress struct {
	Phase     string `json:"phase"` // plan, encode, train, project, finalize, done
	Shards    int    `json:"shards"`
	Encoded   int    `json:"encoded"`
	Projected int    `json:"projected"`
	Mentions  int64  `json:"mentions"`
}

// BuildIndex builds the NER Retriever index of a finished run: plan, encode
// the mentions shard by shard in a sliding window, train the projection
// head on the run's silver labels (unless the configuration skips it),
// project every shard through it, and finalize (the manifest, and the
// approximate index past a size). Every step is idempotent, so a build can
// be restarted at any point and redoes nothing finished. A shard that fails
// for good fails the build: an index with a hole would answer wrongly
// without saying so.
func BuildIndex(ctx workflow.Context, cfg activities.IndexConfig) (activities.IndexSummary, error) {
	var p IndexProgress
	p.Phase = "plan"
	if err := workflow.SetQueryHandler(ctx, QueryIndexProgress, func() (IndexProgress, error) { return p, nil }); err != nil {
		return activities.IndexSummary{}, err
	}
	t := activities.IndexTimings{Started: workflow.Now(ctx).UTC()}

	var plan activities.IndexPlan
	if err := workflow.ExecuteActivity(withOptions(ctx, time.Hour, time.Minute), activities.PlanIndexActivity, cfg).Get(ctx, &plan); err != nil {
		return activities.IndexSummary{}, fmt.Errorf("plan: %w", err)
	}
	p.Shards, p.Mentions = plan.Shards, plan.Mentions
	window := max(cfg.Window, 1)

	// eachShard runs step on every shard, window at a time, counting the
	// shards done.
	actx := withOptions(ctx, 2*time.Hour, time.Minute)
	eachShard := func(step any, done *int) error {
		return slideAll(ctx, plan.Shards, window, "shard", func(shard int) workflow.Future {
			return workflow.ExecuteActivity(actx, step, activities.IndexShardTask{Index: cfg.Index, Shard: shard})
		}, func(int) { *done++ })
	}

	p.Phase = "encode"
	if err := eachShard(activities.EncodeIndexShardActivity, &p.Encoded); err != nil {
		return activities.IndexSummary{}, fmt.Errorf("encode: %w", err)
	}
	t.Encoded = workflow.Now(ctx).UTC()
	if !cfg.Head.Skip {
		p.Phase = "train"
		var hs activities.HeadStats
		if err := workflow.ExecuteActivity(withOptions(ctx, 6*time.Hour, time.Minute), activities.TrainIndexHeadActivity, cfg.Index).Get(ctx, &hs); err != nil {
			return activities.IndexSummary{}, fmt.Errorf("train head: %w", err)
		}
		t.Trained = workflow.Now(ctx).UTC()
		p.Phase = "project"
		if err := eachShard(activities.ProjectIndexShardActivity, &p.Projected); err != nil {
			return activities.IndexSummary{}, fmt.Errorf("project: %w", err)
		}
	}
	t.Projected = workflow.Now(ctx).UTC()

	p.Phase = "finalize"
	var sum activities.IndexSummary
	fin := activities.FinalizeIndexInput{Index: cfg.Index, Timings: t}
	if err := workflow.ExecuteActivity(withOptions(ctx, 6*time.Hour, time.Minute), activities.FinalizeIndexActivity, fin).Get(ctx, &sum); err != nil {
		return activities.IndexSummary{}, fmt.Errorf("finalize: %w", err)
	}
	p.Phase = "done"
	return sum, nil
}

// SearchBatchWorkflowID is the fixed workflow id of a batch of
// descriptions searched in an index.
func SearchBatchWorkflowID(index, batch string) string {
	return "zeroner-search/" + index + "/" + batch
}

// SearchBatch answers a file of type descriptions against an index: one
// activity per chunk of descriptions (SearchBatchInput.Chunk of them, in a
// sliding window), each writing its answers, then one that merges them
// into results.jsonl in the batch's folder.
func SearchBatch(ctx workflow.Context, in activities.SearchBatchInput) (activities.SearchBatchSummary, error) {
	var plan activities.SearchBatchPlan
	if err := workflow.ExecuteActivity(withOptions(ctx, 10*time.Minute, 0), activities.PlanSearchBatchActivity, in).Get(ctx, &plan); err != nil {
		return activities.SearchBatchSummary{}, fmt.Errorf("plan: %w", err)
	}
	actx := withOptions(ctx, 2*time.Hour, time.Minute)
	err := slideAll(ctx, plan.Chunks, max(in.Window, 1), "chunk", func(chunk int) workflow.Future {
		return workflow.ExecuteActivity(actx, activities.SearchChunkActivity, activities.SearchChunkTask{Batch: plan.Batch, Chunk: chunk})
	}, func(int) {})
	if err != nil {
		return activities.SearchBatchSummary{}, err
	}
	var sum activities.SearchBatchSummary
	if err := workflow.ExecuteActivity(withOptions(ctx, time.Hour, time.Minute), activities.MergeSearchBatchActivity, plan).Get(ctx, &sum); err != nil {
		return activities.SearchBatchSummary{}, fmt.Errorf("merge: %w", err)
	}
	return sum, nil
}

// slideAll runs start(i) for every i in [0, n), window at a time, and calls
// done(i) for each that succeeds. After the first failure it starts no
// more, and once none is in flight it returns that failure, naming the
// item as what and its number.
func slideAll(ctx workflow.Context, n, window int, what string, start func(i int) workflow.Future, done func(i int)) error {
	var first error
	next := 0
	all := func(int) bool { return true }
	stop := func() bool { return first != nil }
	slide(ctx, &next, n, window, all, stop, start, func(i int, f workflow.Future) {
		if err := f.Get(ctx, nil); err != nil {
			if first == nil {
				first = fmt.Errorf("%s %d: %w", what, i, err)
			}
			return
		}
		done(i)
	})
	return first
}
