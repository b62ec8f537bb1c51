package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// partRows bounds the rows of one part of the final mentions table, so a
// reader never needs the whole table in memory.
const partRows = 500_000

// maxListedRejects bounds the rejects listed in run.json; the rejects table
// has all of them.
const maxListedRejects = 1000

// ShardFailure is a shard whose annotation failed for good.
type ShardFailure struct {
	Shard  int    `json:"shard"`
	Reason string `json:"reason"`         // the activity's error, once
	Type   string `json:"type,omitempty"` // its error type, as ErrUnavailable
	// Cause is the innermost error, with the stage: failures are
	// grouped by it.
	Cause string `json:"cause,omitempty"`
}

// Timings are the wall-clock moments of a run's phases, from the workflow.
type Timings struct {
	Started   time.Time `json:"started"`
	Planned   time.Time `json:"planned"`
	Sharded   time.Time `json:"sharded"`
	Annotated time.Time `json:"annotated"`
	Finished  time.Time `json:"finished"`
}

// FinalizeInput is what the workflow knows at the end of a run.
type FinalizeInput struct {
	Config   Config         `json:"config"`
	Plan     Plan           `json:"plan"`
	Sharding Sharding       `json:"sharding"`
	Failed   []ShardFailure `json:"failed_shards"`
	Timings  Timings        `json:"timings"`
}

// Summary is a run's outcome, as the starter prints it and run.json keeps it.
type Summary struct {
	RunID    string `json:"run_id"`
	Job      string `json:"job"`
	Docs     int64  `json:"documents"`
	Mentions int64  `json:"mentions"`
	Rejects  int64  `json:"rejects"`
	Failures int64  `json:"failures"` // documents a stage could not process
	Shards   int    `json:"shards"`
	// UpToDate says there was nothing to do: no object was new or
	// changed since the job's last completed run.
	UpToDate bool `json:"up_to_date,omitempty"`
	// Stopped says why the job stopped before finishing the run.
	Stopped      string         `json:"stopped,omitempty"`
	FailedShards []ShardFailure `json:"failed_shards,omitempty"`
	// Pending counts the objects not annotated (left for the next run),
	// and Problems says why, grouped by cause.
	Pending  int       `json:"pending,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	// Resumed says the run is an earlier one that this job finished;
	// Reannotated says why objects annotated before were annotated again.
	Resumed     bool     `json:"resumed,omitempty"`
	Reannotated []string `json:"reannotated,omitempty"`
	// Earlier are the runs this job finished before this one, in the same
	// execution (an earlier run resumed first, then the new objects).
	Earlier []Summary `json:"earlier,omitempty"`
	// Warnings are what the user should know about the outcome, such as
	// a backend unfit for the corpus.
	Warnings []string         `json:"warnings,omitempty"`
	Labels   map[string]int64 `json:"mentions_per_label"`
	Graph    GraphStats       `json:"graph"` // the knowledge graph's size, once built
	Usage    pipeline.Usage   `json:"usage"` // the run's model usage (the ledger's total)
	Outputs  Outputs          `json:"outputs"`
}

// AddProblems adds objects not annotated, by cause, to the summary.
func (s *Summary) AddProblems(ps ...Problem) {
	s.Problems = append(s.Problems, ps...)
	for _, p := range ps {
		s.Pending += p.Count
	}
}

// Ledger is the token ledger's totals in run.json; the per-document rows are
// in the usage table.
type Ledger struct {
	Stages map[string]pipeline.Usage `json:"stages"`
	Shards []ShardUsage              `json:"shards,omitempty"` // shards that used a model
}

// ShardUsage is one shard's model usage.
type ShardUsage struct {
	Shard int `json:"shard"`
	pipeline.Usage
}

// Outputs are the URIs of a run's tables.
type Outputs struct {
	Mentions  string `json:"mentions"`
	Documents string `json:"documents"`
	Rejects   string `json:"rejects"`
	Usage     string `json:"usage,omitempty"` // the token ledger, when a model was used
	Entities  string `json:"entities,omitempty"`
	Edges     string `json:"edges,omitempty"`
	Summary   string `json:"run_json"`
}

// RunReport is the content of run.json.
type RunReport struct {
	Summary
	Version     string         `json:"version"`
	Config      Config         `json:"config"`
	Objects     int            `json:"objects"`
	Bytes       int64          `json:"bytes"`
	Timings     Timings        `json:"timings"`
	Seconds     float64        `json:"seconds"`
	RejectsList []table.Reject `json:"rejects_list"`
	// FailuresList lists the first failed documents or chunks, with the
	// stage and the reason; the stages' failure tables have them all.
	FailuresList []table.Reject `json:"failures_list"`
	Ledger       Ledger         `json:"ledger"`
	// Batch says, per stage, how many batch rounds the shards needed
	// (batch mode only).
	Batch map[string]BatchSummary `json:"batch,omitempty"`
}

// Finalize merges the shards' calibrated mentions into the run's mentions
// table and writes run.json. A run whose run.json exists is done: Finalize
// then returns its summary.
func (a *Activities) Finalize(ctx context.Context, in FinalizeInput) (Summary, error) {
	run := in.Plan.Run
	var m Manifest
	if err := a.readJSON(ctx, run.Manifest(), &m); err != nil {
		return Summary{}, err
	}
	var done RunReport
	if err := a.readJSON(ctx, run.Summary(), &done); err == nil {
		chunks := make(map[int][]table.Reject)
		for shard := range in.Sharding.Shards {
			if chunks[shard], err = a.failedChunks(ctx, run, shard); err != nil {
				return Summary{}, err
			}
		}
		out, _, err := a.account(ctx, run, m, done.FailedShards, chunks)
		if err != nil {
			return Summary{}, err
		}
		return done.Summary, a.recordRun(ctx, in, m, done.Summary, out)
	} else if !blob.IsNotExist(err) {
		return Summary{}, err
	}
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()

	failed := make(map[int]bool, len(in.Failed))
	for _, f := range in.Failed {
		failed[f.Shard] = true
	}
	sum := Summary{
		RunID: run.ID, Job: in.Config.Job, Docs: in.Sharding.Docs, Rejects: in.Sharding.Rejects,
		Shards: in.Sharding.Shards, FailedShards: in.Failed, Labels: make(map[string]int64),
		Outputs: Outputs{
			Mentions:  run.MentionsDir(),
			Documents: blob.Join(run.URI, "documents") + "/",
			Rejects:   run.Rejects(),
			Summary:   run.Summary(),
		},
	}
	ledger := Ledger{Stages: make(map[string]pipeline.Usage)}
	var failures []table.Reject // the first ones, for run.json
	chunks := make(map[int][]table.Reject)
	var usage []table.Usage
	var part []table.Mention
	parts := 0
	flush := func() error {
		err := a.store.Replace(ctx, run.Mentions(parts), rowsTo(table.NewMentionWriter, part))
		if err != nil {
			return err
		}
		parts++
		part = part[:0]
		return nil
	}
	for shard := range in.Sharding.Shards {
		if failed[shard] {
			continue
		}
		ms, err := a.readMentions(ctx, run.Stage(StageCalibrate, shard))
		if err != nil {
			return Summary{}, err
		}
		for _, m := range ms {
			sum.Labels[m.Label]++
		}
		sum.Mentions += int64(len(ms))
		part = append(part, ms...)
		if len(part) >= partRows {
			if err := flush(); err != nil {
				return Summary{}, err
			}
		}
		var shardUsage pipeline.Usage
		for _, stage := range []string{StageDiscover, StageMediate, StageCalibrate} {
			fails, err := a.readRejects(ctx, run.Failures(stage, shard))
			if err != nil && !blob.IsNotExist(err) {
				return Summary{}, err
			}
			chunks[shard] = append(chunks[shard], fails...)
			if room := maxListedRejects - len(failures); room > 0 {
				failures = append(failures, fails[:min(room, len(fails))]...)
			}
			rows, err := a.readUsage(ctx, run.Usage(stage, shard))
			if err != nil && !blob.IsNotExist(err) {
				return Summary{}, err
			}
			u := sumUsage(rows)
			st := ledger.Stages[stage]
			st.Add(u)
			ledger.Stages[stage] = st
			shardUsage.Add(u)
			usage = append(usage, rows...)
		}
		// A document may fail in several chunks or voters: count it once.
		failedDocs := make(map[string]bool)
		for _, f := range chunks[shard] {
			failedDocs[f.Object] = true
		}
		sum.Failures += int64(len(failedDocs))
		sum.Usage.Add(shardUsage)
		if shardUsage != (pipeline.Usage{}) {
			ledger.Shards = append(ledger.Shards, ShardUsage{Shard: shard, Usage: shardUsage})
		}
	}
	if len(usage) > 0 {
		err := a.store.Replace(ctx, run.Ledger(), rowsTo(table.NewUsageWriter, usage))
		if err != nil {
			return Summary{}, err
		}
		sum.Outputs.Usage = run.Ledger()
	}
	// An empty run still gets a (schema-only) part, so the table exists.
	if len(part) > 0 || parts == 0 {
		if err := flush(); err != nil {
			return Summary{}, err
		}
	}

	outcomes, probs, err := a.account(ctx, run, m, in.Failed, chunks)
	if err != nil {
		return Summary{}, err
	}
	sum.AddProblems(probs...)
	sum.AddProblems(in.Plan.Pending...)
	sum.Resumed, sum.Reannotated = in.Plan.Resumed, in.Plan.Reannotated
	if w := lowerCaseWarning(in.Config.Backend, in.Sharding, sum.Mentions); w != "" {
		sum.Warnings = append(sum.Warnings, w)
	}

	rejects, err := a.readRejects(ctx, run.Rejects())
	if err != nil {
		return Summary{}, err
	}
	if len(rejects) > maxListedRejects {
		rejects = rejects[:maxListedRejects]
	}
	t := in.Timings
	t.Finished = time.Now().UTC()
	out := RunReport{
		Summary: sum, Version: Version, Config: in.Config,
		Objects: in.Plan.Objects, Bytes: in.Plan.Bytes,
		Timings: t, Seconds: t.Finished.Sub(t.Started).Seconds(),
		RejectsList: rejects, FailuresList: failures, Ledger: ledger,
	}
	if in.Config.Backend.Batch.Mode != "" {
		if out.Batch, err = a.batchSummary(ctx, run, in.Sharding.Shards); err != nil {
			return Summary{}, err
		}
	}
	if err := a.writeJSON(ctx, run.Summary(), out); err != nil {
		return Summary{}, err
	}
	a.log.Info("finalized run", "run", run.ID, "documents", sum.Docs, "mentions", sum.Mentions, "pending", sum.Pending)
	return sum, a.recordRun(ctx, in, m, sum, outcomes)
}

// recordRun adds the finalized run to its job's dataset: the objects it
// annotated, which the next incremental run skips, and those it left
// pending, which the next run annotates.
func (a *Activities) recordRun(ctx context.Context, in FinalizeInput, m Manifest, sum Summary, out map[string]objectOutcome) error {
	run := in.Plan.Run
	s, err := a.schema(ctx, run)
	if err != nil {
		return err
	}
	// The run's settings are those it was planned with, whatever the
	// settings of the job that finishes it.
	var cfg Config
	if err := a.readJSON(ctx, run.Config(), &cfg); err != nil {
		return err
	}
	return a.addRun(ctx, in.Config, JobRun{ID: run.ID, URI: run.URI, Objects: len(m.Objects), Docs: sum.Docs,
		Finished: time.Now().UTC(), Settings: settingsOf(cfg, s)}, m, out)
}

// lowerCaseWarning warns when the rules backend found almost nothing in
// mostly lower-case text: it proposes capitalised names, so such a corpus
// (MIT-Restaurant's queries, say: F1 0) needs the LLM backend.
func lowerCaseWarning(b BackendSpec, sh Sharding, mentions int64) string {
	if (b.Name != "" && b.Name != "rules") || sh.Docs == 0 || sh.Words == 0 {
		return ""
	}
	perDoc := float64(mentions) / float64(sh.Docs)
	capShare := float64(sh.Capitalised) / float64(sh.Words)
	if perDoc >= 0.5 || capShare >= 0.05 {
		return ""
	}
	return fmt.Sprintf("the rules backend found %d mentions in %d documents: it looks for capitalised names, and %.1f%% of "+
		"this corpus's words are capitalised; on lower-case text it finds almost nothing (MIT-Restaurant: F1 0.0). "+
		"Use the LLM backend (--llm-base-url) for this corpus", mentions, sh.Docs, 100*capShare)
}
