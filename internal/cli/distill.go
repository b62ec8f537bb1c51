package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/workflows"
)

// noHoldout says why a distill run had no held-out shard and what shard
// size would give it one: the sample takes one shard in every, and one
// sampled shard in holdout is held out, so the corpus needs
// every*(holdout-1)+1 shards.
func noHoldout(shards int, docs int64, every, holdout, size int) string {
	need := every*(holdout-1) + 1
	msg := fmt.Sprintf("the corpus made %d shard(s) of --shard-size %d, and holding one sampled shard out needs %d", shards, size, need)
	if fit := docs / int64(need); fit >= 1 {
		msg += fmt.Sprintf("; run again with --shard-size %d or less", fit)
	} else {
		msg += "; the corpus is too small for --sample and --holdout as given"
	}
	return msg
}

const distillHelp = `Usage: distill --corpus URI --schema URI [--out URI] [--sample 0.1 | --sample-docs N] [--holdout 0.2] [--student perceptron|map] [run flags]

Annotates a sample of the corpus (one shard in 1/--sample, or shards
spread over the corpus holding at least --sample-docs documents) with the
configured backend, the teacher (an LLM with --llm-base-url, else the rules
backend), trains a student on it, tags every other shard with the student
at CPU speed, and reports the student's agreement with the teacher on a
held-out share of the sample. The students:

  perceptron  an averaged perceptron sequence tagger (pipeline/student),
              stored as student/model.bin in the run folder, agreement in
              student/agreement.json (the default: it agrees with the
              teacher far more than the map, at the same speed)
  map         SAE-NER's feature -> type map (pipeline/sae), stored as
              sae/map.parquet, agreement in sae/agreement.json

Training is deterministic: the same inputs give the same tables. The
sample, the hold-out and the student are part of the run's identity, so
changing one makes a new run, whose sample the teacher annotates again
(an LLM's answers come from the response cache under --out). The run's tables
are those of "run": the sampled shards' mentions come from the backend,
the others' from the student ("student" or "sae" in their extractors). It
takes every flag of run.`

func distillCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("distill", distillHelp, env)
	var (
		f            runFlags
		sample, held float64
		sampleDocs   int64
		student      string
	)
	f.register(fs, env)
	fs.Float64Var(&sample, "sample", 0.1, "share of the corpus annotated by the backend, in (0, 1]")
	fs.Int64Var(&sampleDocs, "sample-docs", 0, "documents annotated by the backend, instead of --sample: at least that many, in shards spread over the corpus")
	fs.Float64Var(&held, "holdout", 0.2, "share of the sample kept out of training to measure agreement, in [0, 1)")
	fs.StringVar(&student, "student", activities.StudentPerceptron, "what learns from the sample and tags the rest: perceptron or map")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sample <= 0 || sample > 1 || held < 0 || held >= 1 {
		return usageError(fmt.Errorf("--sample %v must be in (0, 1] and --holdout %v in [0, 1)", sample, held))
	}
	if err := activities.CheckStudent(student); err != nil {
		return usageError(fmt.Errorf("--student: %w", err))
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case sampleDocs < 0:
		return usageError(fmt.Errorf("--sample-docs %d must be positive", sampleDocs))
	case sampleDocs > 0 && set["sample"]:
		return usageError(fmt.Errorf("give --sample or --sample-docs, not both"))
	}
	if f.job == "" {
		cfg, err := f.settings()
		if err != nil {
			return err
		}
		f.job = cfg.Job + "-distill" // its runs differ from plain runs'
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	in := workflows.DistillInput{Config: cfg, Every: int(math.Round(1 / sample)), SampleDocs: sampleDocs, Student: student}
	if held > 0 {
		in.HoldoutEvery = max(int(math.Round(1/held)), 2)
	}
	o, err := f.open(ctx, env)
	if err != nil {
		return err
	}
	defer o.close()
	start := time.Now()
	wr, err := o.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       "zeroner-distill/" + cfg.Job,
		TaskQueue:                f.conn.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.Distill, in)
	if err != nil {
		return fmt.Errorf("start distill job %s: %w", cfg.Job, err)
	}
	fmt.Fprintf(env.Stdout, "distill job %s: workflow %s\n", cfg.Job, wr.GetID())
	if f.detach {
		return nil
	}
	var sum workflows.DistillSummary
	if err := wr.Get(ctx, &sum); err != nil {
		return fmt.Errorf("distill job %s failed: %s", cfg.Job, rootCause(err))
	}
	elapsed := time.Since(start)
	printSummary(env.Stdout, sum.Summary, elapsed)
	if !sum.UpToDate {
		fmt.Fprintf(env.Stdout, "  distill    %d shards by the backend (one in %d from shard %d), %d by the %s\n",
			sum.Sampled, max(sum.Every, 1), sum.Start, sum.Tagged, studentNote(sum.Estimate))
		if sum.Agreement.Docs > 0 {
			fmt.Fprintf(env.Stdout, "  agreement  %s with the backend on %d held-out documents\n", agreementNote(sum.Agreement), sum.Agreement.Docs)
		} else if held > 0 {
			fmt.Fprintf(env.Stdout, "  agreement  not measured: %s\n", noHoldout(sum.Shards, sum.Docs, max(sum.Every, 1), in.HoldoutEvery, f.shardSize))
		}
	}
	return outcome(sum.Summary)
}

// agreementNote gives the agreement's F1s, with their intervals when known.
func agreementNote(a activities.Agreement) string {
	f1 := func(name string, v float64, ci *activities.Interval) string {
		if ci == nil {
			return fmt.Sprintf("%s F1 %.1f", name, v)
		}
		return fmt.Sprintf("%s F1 %.1f (95%% CI %.1f-%.1f)", name, v, ci.Lo, ci.Hi)
	}
	return f1("strict", a.StrictF1, a.StrictCI) + ", " + f1("span", a.SpanF1, a.SpanCI)
}

// studentNote says what student tagged a distill run's shards and what it
// learnt from.
func studentNote(e activities.EstimateStats) string {
	if e.Student == activities.StudentPerceptron {
		return fmt.Sprintf("perceptron student (%d weights, %d bytes, from %d documents)", e.Weights, e.Bytes, e.Docs)
	}
	return fmt.Sprintf("map (%d entries from %d documents)", e.Entries, e.Docs)
}
