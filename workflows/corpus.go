package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/pipeline"
)

// defaultShardsPerRun bounds the shards one workflow run starts before it
// continues as new, keeping its history far below Temporal's limits (each
// shard costs about eight events).
const defaultShardsPerRun = 400

// CorpusState is AnnotateCorpus's input, and the state it carries across
// continue-as-new. A new job sets only Config.
type CorpusState struct {
	Config   activities.Config         `json:"config"`
	Plan     *activities.Plan          `json:"plan,omitempty"`
	Sharding *activities.Sharding      `json:"sharding,omitempty"`
	Next     int                       `json:"next"` // next shard to start
	Done     int                       `json:"done"`
	Docs     int64                     `json:"docs"`
	Mentions int64                     `json:"mentions"`
	Usage    pipeline.Usage            `json:"usage"`
	Failed   []activities.ShardFailure `json:"failed,omitempty"`
	Timings  activities.Timings        `json:"timings"`
	// Refused is why a service refused the job (ErrRefused): no new shard
	// starts, and the job fails with it.
	Refused string `json:"refused,omitempty"`
	// Earlier are the summaries of the runs this execution finalized
	// before the current one.
	Earlier []activities.Summary `json:"earlier,omitempty"`
	// ShardsPerRun overrides defaultShardsPerRun (tests use it to force
	// continue-as-new).
	ShardsPerRun int `json:"shards_per_run,omitempty"`
}

// Progress is what the progress query returns.
type Progress struct {
	Phase       string `json:"phase"` // plan, shard, annotate, finalize, done
	RunID       string `json:"run_id,omitempty"`
	ShardsDone  int    `json:"shards_done"`
	ShardsTotal int    `json:"shards_total"`
	Docs        int64  `json:"docs"`       // documents annotated so far
	DocsTotal   int64  `json:"docs_total"` // documents in the shards, once sharded
	Mentions    int64  `json:"mentions"`   // mentions found so far
	Failed      int    `json:"failed_shards"`
	// Model usage so far: requests sent, answers from the cache, tokens.
	Requests  int64 `json:"requests"`
	CacheHits int64 `json:"cache_hits"`
	Tokens    int64 `json:"tokens"` // prompt and completion
}

// AnnotateCorpus annotates a corpus: plan, shard, one AnnotateShard child per
// shard in a sliding window, then finalize. Every step is idempotent, so the
// job can be restarted at any point and redoes nothing finished.
func AnnotateCorpus(ctx workflow.Context, st CorpusState) (activities.Summary, error) {
	phase := "plan"
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return st.progress(phase), nil }); err != nil {
		return activities.Summary{}, err
	}
	if st.Timings.Started.IsZero() {
		st.Timings.Started = workflow.Now(ctx).UTC()
	}
	if err := st.plan(ctx); err != nil {
		return activities.Summary{}, err
	}
	if st.Plan.UpToDate {
		phase = "done"
		sum := st.Plan.UpToDateSummary(st.Config.Job)
		sum.Earlier = st.Earlier
		return sum, nil
	}
	if st.Plan.Finished {
		// A re-run of a finished run: Finalize returns its summary.
		st.Sharding = &activities.Sharding{}
	}
	if st.Sharding == nil {
		phase = "shard"
		if err := st.shard(ctx); err != nil {
			return activities.Summary{}, err
		}
	}

	phase = "annotate"
	running := make(map[int]bool) // shards in flight
	forwardResume(ctx, st.Plan.Run, running)
	switch annotate(ctx, &st, running) {
	case canceled:
		// The job ends as canceled; finished shards stay finished.
		return activities.Summary{}, ctx.Err()
	case continueAsNew:
		return activities.Summary{}, workflow.NewContinueAsNewError(ctx, AnnotateCorpus, st)
	case overBudget:
		// Stop cleanly: no finalize, so the run stays open, and the same
		// job with a higher ceiling resumes it (the ceiling is not part of
		// the run's identity) without redoing a finished shard.
		phase = "stopped"
		return st.stopped(), nil
	}
	if st.Refused != "" {
		// Waiting cannot heal a refusal: stop, and say why. The run stays
		// open; the same job resumes it once the cause is fixed.
		phase = "failed"
		return activities.Summary{}, temporal.NewNonRetryableApplicationError(st.Refused, activities.ErrRefused, nil)
	}
	st.Timings.Annotated = workflow.Now(ctx).UTC()

	phase = "finalize"
	sum, err := st.finalize(ctx)
	if err != nil {
		return activities.Summary{}, err
	}
	if st.Plan.More {
		// An earlier run was finished first; the new and changed objects
		// are planned next, in a fresh history.
		cfg := st.Config
		cfg.Tried = append(slices.Clone(cfg.Tried), st.Plan.Run.ID)
		next := CorpusState{Config: cfg, Earlier: append(st.Earlier, sum), ShardsPerRun: st.ShardsPerRun}
		return activities.Summary{}, workflow.NewContinueAsNewError(ctx, AnnotateCorpus, next)
	}
	sum.Earlier = st.Earlier
	phase = "done"
	return sum, nil
}

// progress is the job's progress in phase.
func (st *CorpusState) progress(phase string) Progress {
	p := Progress{Phase: phase, ShardsDone: st.Done, Docs: st.Docs, Mentions: st.Mentions, Failed: len(st.Failed),
		Requests: st.Usage.Requests, CacheHits: st.Usage.CacheHits, Tokens: st.Usage.PromptTokens + st.Usage.CompletionTokens}
	if st.Plan != nil {
		p.RunID = st.Plan.Run.ID
	}
	if st.Sharding != nil {
		p.ShardsTotal = st.Sharding.Shards
		p.DocsTotal = st.Sharding.Docs
	}
	return p
}

// plan plans the job's run, unless an earlier execution did; with
// RetryFailed it reopens the job's failures instead.
func (st *CorpusState) plan(ctx workflow.Context) error {
	if st.Plan != nil {
		return nil
	}
	var p activities.Plan
	plan := activities.PlanActivity
	if st.Config.RetryFailed {
		plan = activities.ReopenActivity
	}
	if err := workflow.ExecuteActivity(withOptions(ctx, 10*time.Minute, 0), plan, st.Config).Get(ctx, &p); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	st.Plan = &p
	st.Timings.Planned = workflow.Now(ctx).UTC()
	return nil
}

// shard cuts the run's corpus into shards.
func (st *CorpusState) shard(ctx workflow.Context) error {
	var s activities.Sharding
	actx := withOptions(ctx, 12*time.Hour, time.Minute)
	if err := workflow.ExecuteActivity(actx, activities.ShardActivity, st.Config, *st.Plan).Get(ctx, &s); err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	st.Sharding = &s
	st.Timings.Sharded = workflow.Now(ctx).UTC()
	return nil
}

// stopped is the summary of a job stopped at its token ceiling.
func (st *CorpusState) stopped() activities.Summary {
	used := st.Usage.PromptTokens + st.Usage.CompletionTokens
	return activities.Summary{RunID: st.Plan.Run.ID, Job: st.Config.Job, Docs: st.Docs, Mentions: st.Mentions,
		Shards: st.Sharding.Shards, Usage: st.Usage,
		Stopped: fmt.Sprintf("token ceiling reached: %d tokens used of %d, %d of %d shards annotated; run again with a higher --max-tokens to resume",
			used, st.Config.MaxTokens, st.Done, st.Sharding.Shards)}
}

// finalize finalizes the run and builds its knowledge graph.
func (st *CorpusState) finalize(ctx workflow.Context) (activities.Summary, error) {
	in := activities.FinalizeInput{Config: st.Config, Plan: *st.Plan, Sharding: *st.Sharding, Failed: st.Failed, Timings: st.Timings}
	sum, g, err := finish(ctx, in)
	if err != nil {
		return activities.Summary{}, err
	}
	sum.Graph = g
	sum.Outputs.Entities, sum.Outputs.Edges = st.Plan.Outputs.Entities, st.Plan.Outputs.Edges
	return sum, nil
}

// outcome is how annotate ended.
type outcome int

const (
	allDone       outcome = iota
	continueAsNew         // this run started enough shards: continue as new
	overBudget            // the run's token ceiling is reached
	canceled              // the job was cancelled
)

// overBudget reports whether the run's model usage has reached its ceiling.
func (st *CorpusState) overBudget() bool {
	max := st.Config.MaxTokens
	return max > 0 && st.Usage.PromptTokens+st.Usage.CompletionTokens >= max
}

// annotate runs shard children in a sliding window of st.Config.Window until
// all are done, until this run has started enough of them that it should
// continue as new, or until the token ceiling is reached; it then waits for
// those in flight, so it always stops at a shard boundary.
func annotate(ctx workflow.Context, st *CorpusState, running map[int]bool) outcome {
	window := max(st.Config.Window, 1)
	perRun := st.ShardsPerRun
	if perRun <= 0 {
		perRun = defaultShardsPerRun
	}
	started := 0
	stop := func() bool {
		// A cancelled job starts no more shards.
		return started >= perRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() || st.overBudget() || st.Refused != "" ||
			ctx.Err() != nil
	}
	all := func(int) bool { return true }
	slide(ctx, &st.Next, st.Sharding.Shards, window, all, stop, func(shard int) workflow.Future {
		started++
		running[shard] = true
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: shardWorkflowID(st.Plan.Run, shard),
		})
		in := ShardInput{Run: st.Plan.Run, Shard: shard, Backend: st.Config.Backend}
		return workflow.ExecuteChildWorkflow(cctx, AnnotateShard, in)
	}, func(shard int, f workflow.Future) {
		delete(running, shard)
		var r ShardResult
		if err := f.Get(ctx, &r); err != nil {
			// A shard that fails for good is recorded and skipped: the
			// rest of the corpus is still annotated, and its objects stay
			// pending for the next run.
			fail := cause(err)
			fail.Shard = shard
			st.Failed = append(st.Failed, fail)
			if fail.Type == activities.ErrRefused && st.Refused == "" {
				st.Refused = fail.Reason
			}
			workflow.GetLogger(ctx).Error("shard failed", "shard", shard, "error", err)
			return
		}
		st.Done++
		st.Docs += int64(r.Docs)
		st.Mentions += int64(r.Mentions)
		st.Usage.Add(r.Usage)
	})
	switch {
	case ctx.Err() != nil:
		return canceled
	case st.Next >= st.Sharding.Shards || st.Refused != "":
		return allDone
	case st.overBudget():
		return overBudget
	}
	return continueAsNew
}

// shardWorkflowID is the id of the child workflow that annotates a shard.
func shardWorkflowID(run activities.Run, shard int) string {
	return fmt.Sprintf("%s/shard-%05d", run.ID, shard)
}

// forwardResume passes each resume signal on to the shards in flight, which
// are the ones that may be waiting for batch answers.
func forwardResume(ctx workflow.Context, run activities.Run, running map[int]bool) {
	ch := workflow.GetSignalChannel(ctx, SignalResume)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			ch.Receive(ctx, nil)
			shards := make([]int, 0, len(running))
			for s := range running {
				shards = append(shards, s)
			}
			slices.Sort(shards) // map order is random; workflow code must not be
			for _, s := range shards {
				// Best effort: a shard may finish before the signal lands.
				workflow.SignalExternalWorkflow(ctx, shardWorkflowID(run, s), "", SignalResume, nil)
			}
		}
	})
}

// cause describes a shard's failure from err: the activity's own error, its
// type and message (Temporal wraps it in layers, child workflow and
// activity, that each repeat its text, and carries its Go causes as more
// application errors below it), and the short cause failures are grouped
// by: the stage and the innermost Go error the activity attached as
// details.
func cause(err error) activities.ShardFailure {
	var (
		inner *temporal.ApplicationError
		act   *temporal.ActivityError
	)
	last := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		last = e
		if x, ok := e.(*temporal.ActivityError); ok {
			act, inner = x, nil
			continue
		}
		if x, ok := e.(*temporal.ApplicationError); ok {
			inner = x
			if act != nil {
				break // the activity's own error
			}
		}
	}
	if inner == nil {
		return activities.ShardFailure{Reason: last.Error()} // a timeout, say: no application error
	}
	f := activities.ShardFailure{Type: inner.Type(), Reason: inner.Message()}
	var root string
	if inner.HasDetails() && inner.Details(&root) == nil && root != "" {
		f.Cause = root
		if act != nil {
			f.Cause = strings.ToLower(act.ActivityType().Name) + ": " + root
		}
	}
	return f
}
