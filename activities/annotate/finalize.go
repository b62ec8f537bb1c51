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

// partRows bounds the rows of one part of the final mentions table, so a
// reader never needs the whole table in memory.
const partRows = 500_000

// maxListedRejects bounds the rejects listed in run.json; the rejects table
// has all of them.
const maxListedRejects = 1000

// Finalize merges the shards' calibrated mentions into the run's mentions
// table and writes run.json. A run whose run.json exists is done: Finalize
// then returns its summary.
func (a *Activities) Finalize(ctx context.Context, in activities.FinalizeInput) (activities.Summary, error) {
	run := in.Plan.Run
	var m activities.Manifest
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).Manifest(), &m); err != nil {
		return activities.Summary{}, err
	}
	var done runs.RunReport
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).Summary(), &done); err == nil {
		chunks := make(map[int][]table.Reject)
		for shard := range in.Sharding.Shards {
			if chunks[shard], err = a.failedChunks(ctx, run, shard); err != nil {
				return activities.Summary{}, err
			}
		}
		out, _, err := a.account(ctx, run, m, done.FailedShards, chunks)
		if err != nil {
			return activities.Summary{}, err
		}
		return done.Summary, a.recordRun(ctx, in, m, done.Summary, out)
	} else if !blob.IsNotExist(err) {
		return activities.Summary{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()

	failed := make(map[int]bool, len(in.Failed))
	for _, f := range in.Failed {
		failed[f.Shard] = true
	}
	sum := activities.Summary{
		RunID: run.ID, Job: in.Config.Job, Docs: in.Sharding.Docs, Rejects: in.Sharding.Rejects,
		Shards: in.Sharding.Shards, FailedShards: in.Failed, Labels: make(map[string]int64),
		Outputs: activities.Outputs{
			Mentions:  runs.Dir(run).MentionsDir(),
			Documents: blob.Join(run.URI, "documents") + "/",
			Rejects:   runs.Dir(run).Rejects(),
			Summary:   runs.Dir(run).Summary(),
		},
	}
	ledger := runs.Ledger{Stages: make(map[string]pipeline.Usage)}
	var failures []table.Reject // the first ones, for run.json
	chunks := make(map[int][]table.Reject)
	var usage []table.Usage
	var part []table.Mention
	parts := 0
	flush := func() error {
		err := a.deps.Store.Replace(ctx, runs.Dir(run).Mentions(parts), runs.Rows(table.NewMentionWriter, part))
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
		ms, err := a.deps.Store.Mentions(ctx, runs.Dir(run).Stage(activities.StageCalibrate, shard))
		if err != nil {
			return activities.Summary{}, err
		}
		for _, m := range ms {
			sum.Labels[m.Label]++
		}
		sum.Mentions += int64(len(ms))
		part = append(part, ms...)
		if len(part) >= partRows {
			if err := flush(); err != nil {
				return activities.Summary{}, err
			}
		}
		var shardUsage pipeline.Usage
		for _, stage := range []string{activities.StageDiscover, activities.StageMediate, activities.StageCalibrate} {
			fails, err := a.deps.Store.Rejects(ctx, runs.Dir(run).Failures(stage, shard))
			if err != nil && !blob.IsNotExist(err) {
				return activities.Summary{}, err
			}
			chunks[shard] = append(chunks[shard], fails...)
			if room := maxListedRejects - len(failures); room > 0 {
				failures = append(failures, fails[:min(room, len(fails))]...)
			}
			rows, err := a.deps.Store.Usage(ctx, runs.Dir(run).Usage(stage, shard))
			if err != nil && !blob.IsNotExist(err) {
				return activities.Summary{}, err
			}
			u := wire.SumUsage(rows)
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
			ledger.Shards = append(ledger.Shards, runs.ShardUsage{Shard: shard, Usage: shardUsage})
		}
	}
	if len(usage) > 0 {
		err := a.deps.Store.Replace(ctx, runs.Dir(run).Ledger(), runs.Rows(table.NewUsageWriter, usage))
		if err != nil {
			return activities.Summary{}, err
		}
		sum.Outputs.Usage = runs.Dir(run).Ledger()
	}
	// An empty run still gets a (schema-only) part, so the table exists.
	if len(part) > 0 || parts == 0 {
		if err := flush(); err != nil {
			return activities.Summary{}, err
		}
	}

	outcomes, probs, err := a.account(ctx, run, m, in.Failed, chunks)
	if err != nil {
		return activities.Summary{}, err
	}
	sum.AddProblems(probs...)
	sum.AddProblems(in.Plan.Pending...)
	sum.Resumed, sum.Reannotated = in.Plan.Resumed, in.Plan.Reannotated
	if w := lowerCaseWarning(in.Config.Backend, in.Sharding, sum.Mentions); w != "" {
		sum.Warnings = append(sum.Warnings, w)
	}

	rejects, err := a.deps.Store.Rejects(ctx, runs.Dir(run).Rejects())
	if err != nil {
		return activities.Summary{}, err
	}
	if len(rejects) > maxListedRejects {
		rejects = rejects[:maxListedRejects]
	}
	t := in.Timings
	t.Finished = time.Now().UTC()
	out := runs.RunReport{
		Summary: sum, Version: activities.Version, Config: in.Config,
		Objects: in.Plan.Objects, Bytes: in.Plan.Bytes,
		Timings: t, Seconds: t.Finished.Sub(t.Started).Seconds(),
		RejectsList: rejects, FailuresList: failures, Ledger: ledger,
	}
	if in.Config.Backend.Batch.On() {
		if out.Batch, err = a.batchSummary(ctx, run, in.Sharding.Shards); err != nil {
			return activities.Summary{}, err
		}
	}
	if err := a.deps.Store.WriteJSON(ctx, runs.Dir(run).Summary(), out); err != nil {
		return activities.Summary{}, err
	}
	a.deps.Log.Info("finalized run", "run", run.ID, "documents", sum.Docs, "mentions", sum.Mentions, "pending", sum.Pending)
	return sum, a.recordRun(ctx, in, m, sum, outcomes)
}

// recordRun adds the finalized run to its job's dataset: the objects it
// annotated, which the next incremental run skips, and those it left
// pending, which the next run annotates.
func (a *Activities) recordRun(ctx context.Context, in activities.FinalizeInput, m activities.Manifest, sum activities.Summary, out map[string]objectOutcome) error {
	run := in.Plan.Run
	s, err := a.deps.Schema(ctx, run)
	if err != nil {
		return err
	}
	// The run's settings are those it was planned with, whatever the
	// settings of the job that finishes it.
	var cfg activities.Config
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).Config(), &cfg); err != nil {
		return err
	}
	return a.addRun(ctx, in.Config, runs.JobRun{ID: run.ID, URI: run.URI, Objects: len(m.Objects), Docs: sum.Docs,
		Finished: time.Now().UTC(), Settings: settingsOf(cfg, s)}, m, out)
}

// lowerCaseWarning warns when the rules backend found almost nothing in
// mostly lower-case text: it proposes capitalised names, so such a corpus
// (MIT-Restaurant's queries, say: F1 0) needs the LLM backend.
func lowerCaseWarning(b activities.BackendSpec, sh activities.Sharding, mentions int64) string {
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
