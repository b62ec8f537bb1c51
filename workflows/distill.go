package workflows

import (
	"fmt"
	"hash/fnv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zeroner/zeroner/activities"
)

// DistillInput is a distill job: a share of the corpus is annotated with the
// configured backend (the teacher), and the rest with a student trained on
// it.
type DistillInput struct {
	Config activities.Config `json:"config"`
	// Every: one shard in Every is annotated by the backend (1/share).
	Every int `json:"every"`
	// SampleDocs, when set, replaces Every: the backend annotates at
	// least that many documents (at the corpus's mean shard size), in
	// shards spread evenly over the corpus.
	SampleDocs int64 `json:"sample_docs,omitempty"`
	// HoldoutEvery: one sampled shard in HoldoutEvery is kept out of
	// training to measure agreement (0: none).
	HoldoutEvery int `json:"holdout_every"`
	// Student is activities.StudentPerceptron or StudentMap; "" is the map,
	// as before there was a choice.
	Student string `json:"student,omitempty"`
}

// identity is the input's part of the run's identity (Config.Distill).
func (in DistillInput) identity() string {
	s := activities.Sample{Student: in.Student}.StudentName()
	if in.SampleDocs > 0 {
		return fmt.Sprintf("sample_docs=%d holdout=%d student=%s", in.SampleDocs, in.HoldoutEvery, s)
	}
	return fmt.Sprintf("every=%d holdout=%d student=%s", max(in.Every, 1), in.HoldoutEvery, s)
}

// spacing is one shard in how many the backend annotates, given the
// sharding, and how many shards the sample must hold at least (with
// SampleDocs; 1 otherwise).
func (in DistillInput) spacing(sh activities.Sharding) (every, need int) {
	if in.SampleDocs <= 0 || sh.Docs <= 0 || sh.Shards <= 0 {
		return max(in.Every, 1), 1
	}
	// The shards it takes at the corpus's mean shard size, rounded up,
	// and the widest spacing that samples that many.
	n := min((in.SampleDocs*int64(sh.Shards)+sh.Docs-1)/sh.Docs, int64(sh.Shards))
	if n <= 1 {
		return sh.Shards, 1
	}
	return max(1, (sh.Shards-1)/int(n-1)), int(n)
}

// sampleStart is the first sampled shard: one of the first every, drawn
// from the run's id (the same run, the same start), so that a corpus
// whose objects or orderings repeat with the spacing is not always
// sampled at the same point of each (the first shard of every object).
// It stays low enough for the sample to hold need shards.
func sampleStart(runID string, shards, every, need int) int {
	hi := min(every-1, shards-1-(need-1)*every)
	if hi <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(runID))
	return int(h.Sum64() % uint64(hi+1))
}

// DistillSummary is what a distill run did.
type DistillSummary struct {
	activities.Summary
	Every     int                      `json:"every"` // one shard in Every was sampled,
	Start     int                      `json:"start"` // from this one on
	Sampled   int                      `json:"sampled_shards"`
	Tagged    int                      `json:"tagged_shards"`
	Estimate  activities.EstimateStats `json:"estimate"`
	Agreement activities.Agreement     `json:"agreement"`
}

// Distill annotates a sample of the corpus with the configured backend,
// trains the student on it, tags the other shards with the student at CPU
// speed, reports agreement on a held-out part of the sample, and finalizes
// the run like AnnotateCorpus. Every step is idempotent, and training is
// deterministic. It does not continue as new: keep it to a few thousand
// shards.
func Distill(ctx workflow.Context, in DistillInput) (DistillSummary, error) {
	cfg := in.Config
	cfg.Distill = in.identity()
	t := activities.Timings{Started: workflow.Now(ctx).UTC()}
	var plan activities.Plan
	if err := workflow.ExecuteActivity(withOptions(ctx, 10*time.Minute, 0), activities.PlanActivity, cfg).Get(ctx, &plan); err != nil {
		return DistillSummary{}, fmt.Errorf("plan: %w", err)
	}
	if plan.UpToDate {
		return DistillSummary{Summary: plan.UpToDateSummary(cfg.Job)}, nil
	}
	t.Planned = workflow.Now(ctx).UTC()
	var sh activities.Sharding
	if err := workflow.ExecuteActivity(withOptions(ctx, 12*time.Hour, time.Minute), activities.ShardActivity, cfg, plan).Get(ctx, &sh); err != nil {
		return DistillSummary{}, fmt.Errorf("shard: %w", err)
	}
	t.Sharded = workflow.Now(ctx).UTC()
	run := plan.Run
	every, need := in.spacing(sh)
	s := activities.Sample{Shards: sh.Shards, Every: every, HoldoutEvery: in.HoldoutEvery, Student: in.Student}
	if workflow.GetVersion(ctx, "distill-sample-start", workflow.DefaultVersion, 1) == 1 {
		// Runs begun before sampled from shard 0: they go on doing so.
		s.Start = sampleStart(run.ID, sh.Shards, every, need)
	}
	out := DistillSummary{Every: s.Every, Start: s.Start}
	var failed []activities.ShardFailure

	// The sample, with the configured backend.
	window := max(cfg.Window, 1)
	never := func() bool { return false }
	fail := func(shard int, f workflow.Future) {
		if err := f.Get(ctx, nil); err != nil {
			fail := cause(err)
			fail.Shard = shard
			failed = append(failed, fail)
		}
	}
	next := 0
	slide(ctx, &next, sh.Shards, window, s.Sampled, never, func(shard int) workflow.Future {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: fmt.Sprintf("%s/shard-%05d", run.ID, shard)})
		out.Sampled++
		return workflow.ExecuteChildWorkflow(cctx, AnnotateShard, ShardInput{Run: run, Shard: shard, Backend: cfg.Backend})
	}, fail)

	ectx := withOptions(ctx, time.Hour, time.Minute)
	if err := workflow.ExecuteActivity(ectx, activities.EstimateActivity, run, s).Get(ctx, &out.Estimate); err != nil {
		return DistillSummary{}, fmt.Errorf("train the %s student: %w", s.StudentName(), err)
	}

	// The rest, with the student.
	tctx := withOptions(ctx, 30*time.Minute, 20*time.Second)
	next = 0
	slide(ctx, &next, sh.Shards, window, func(shard int) bool { return !s.Sampled(shard) }, never, func(shard int) workflow.Future {
		out.Tagged++
		task := activities.TagTask{ShardTask: activities.ShardTask{Run: run, Shard: shard, Backend: cfg.Backend}, Student: in.Student}
		return workflow.ExecuteActivity(tctx, activities.TagActivity, task)
	}, fail)
	if err := workflow.ExecuteActivity(ectx, activities.AgreeActivity, run, s).Get(ctx, &out.Agreement); err != nil {
		return DistillSummary{}, fmt.Errorf("agreement: %w", err)
	}
	t.Annotated = workflow.Now(ctx).UTC()

	fin := activities.FinalizeInput{Config: cfg, Plan: plan, Sharding: sh, Failed: failed, Timings: t}
	var err error
	if out.Summary, out.Graph, err = finish(ctx, fin); err != nil {
		return DistillSummary{}, err
	}
	out.Outputs.Entities, out.Outputs.Edges = plan.Outputs.Entities, plan.Outputs.Edges
	return out, nil
}
