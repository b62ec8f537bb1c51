package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zeroner/zeroner/activities"
)

// SignalResume asks a job waiting for batch answers to look now instead of
// at its next poll (`starter batch resume <job>`). AnnotateCorpus forwards
// it to the shards in flight.
const SignalResume = "resume"

// batchRounds runs the batch rounds of a stage of a shard and returns how
// many there were: each round prepares the requests that the response cache
// cannot answer, submits them, waits durably for the answers (timers
// survive worker and server restarts, for hours if need be) and collects
// them into the cache. It stops when a round finds nothing to ask, or after
// the configured rounds; what is then still missing fails its chunks in the
// stage activity.
func batchRounds(ctx workflow.Context, task activities.ShardTask, stage string) (int, error) {
	cfg := task.Backend.Batch
	rounds := 0
	for r := range cfg.Rounds() {
		bt := activities.BatchTask{ShardTask: task, Stage: stage, Round: r}
		var p activities.BatchRound
		if err := workflow.ExecuteActivity(ctx, activities.BatchPrepareActivity, bt).Get(ctx, &p); err != nil {
			return rounds, err
		}
		if p.Requests == 0 {
			break
		}
		var ref activities.BatchRef
		if err := workflow.ExecuteActivity(withOptions(ctx, 10*time.Minute, 20*time.Second), activities.BatchSubmitActivity, bt).Get(ctx, &ref); err != nil {
			return rounds, err
		}
		rounds++
		st, err := waitBatch(ctx, bt, ref)
		if err != nil {
			return rounds, err
		}
		var c activities.BatchCollected
		if err := workflow.ExecuteActivity(withOptions(ctx, 30*time.Minute, 20*time.Second), activities.BatchCollectActivity, bt, st).Get(ctx, &c); err != nil {
			return rounds, err
		}
		workflow.GetLogger(ctx).Info("batch round collected", "stage", stage, "shard", task.Shard, "round", r,
			"status", c.Status, "answered", c.Answered, "missing", c.Missing)
	}
	return rounds, nil
}

// waitBatch waits until the round is done and returns its last status. The
// wait is one BatchWait activity that polls with a backoff; a resume signal
// cancels it and starts another that polls at once. A file-exchange round
// gives up after its longest wait (what has no answer by then goes to the
// next round).
func waitBatch(ctx workflow.Context, bt activities.BatchTask, ref activities.BatchRef) (activities.BatchStatus, error) {
	if workflow.GetVersion(ctx, "batch-wait-activity", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return pollBatch(ctx, bt, ref)
	}
	cfg := bt.Backend.Batch
	_, longest := cfg.Poll()
	w := activities.BatchWait{Ref: ref}
	if cfg.Mode == activities.BatchFiles {
		w.Deadline = workflow.Now(ctx).Add(cfg.MaxWait())
	}
	// The activity runs for as long as the round takes; the heartbeat
	// timeout is what notices a lost worker.
	wctx := withOptions(ctx, cfg.MaxWait()+longest+time.Hour, 20*time.Second)
	resume := workflow.GetSignalChannel(ctx, SignalResume)
	for {
		actx, cancel := workflow.WithCancel(wctx)
		f := workflow.ExecuteActivity(actx, activities.BatchWaitActivity, bt, w)
		resumed := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f, func(workflow.Future) {})
		sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); resumed = true })
		sel.Select(ctx)
		if resumed {
			cancel()
			w.Now = true
			continue
		}
		var st activities.BatchStatus
		err := f.Get(ctx, &st)
		cancel()
		if err == nil && !st.Done {
			workflow.GetLogger(ctx).Warn("no batch responses in time; asking again in the next round",
				"stage", bt.Stage, "shard", bt.Shard, "round", bt.Round)
		}
		return st, err
	}
}

// pollBatch is waitBatch for runs recorded before BatchWait: one poll
// activity per timer, which replaying their histories needs. Remove it once
// no such run can be resumed.
func pollBatch(ctx workflow.Context, bt activities.BatchTask, ref activities.BatchRef) (activities.BatchStatus, error) {
	cfg := bt.Backend.Batch
	poll, longest := cfg.Poll()
	deadline := workflow.Now(ctx).Add(cfg.MaxWait())
	resume := workflow.GetSignalChannel(ctx, SignalResume)
	pctx := withOptions(ctx, 2*time.Minute, 20*time.Second)
	for {
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, poll), func(workflow.Future) {})
		sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
		var st activities.BatchStatus
		if err := workflow.ExecuteActivity(pctx, activities.BatchPollActivity, bt, ref).Get(ctx, &st); err != nil {
			return st, err
		}
		if st.Done {
			return st, nil
		}
		if bt.Backend.Batch.Mode == activities.BatchFiles && !workflow.Now(ctx).Before(deadline) {
			workflow.GetLogger(ctx).Warn("no batch responses in time; asking again in the next round",
				"stage", bt.Stage, "shard", bt.Shard, "round", bt.Round)
			return st, nil
		}
		poll = min(2*poll, longest)
	}
}
