package annotate

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// maxListedRejects bounds the rejects listed in run.json; the rejects table
// has all of them.
const maxListedRejects = 1000

// Finalize writes the run's token ledger and run.json, once the parts of its
// mentions table are written (FinalizePart). A run whose run.json exists is
// done: Finalize then returns its summary.
func (a *Activities) Finalize(ctx context.Context, in activities.FinalizeInput) (activities.Summary, error) {
	run := in.Plan.Run
	var m activities.Manifest
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).Manifest(), &m); err != nil {
		return activities.Summary{}, err
	}
	var done runs.RunReport
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).Summary(), &done); err == nil {
		out, err := a.accountDone(ctx, in, m, done)
		if err != nil {
			return activities.Summary{}, err
		}
		return done.Summary, a.recordRun(ctx, in, m, done.Summary, out)
	} else if !blob.IsNotExist(err) {
		return activities.Summary{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()

	sum := newSummary(in)
	mg, err := a.mergeShards(ctx, in, &sum)
	if err != nil {
		return activities.Summary{}, err
	}
	outcomes, probs, err := a.account(ctx, run, m, in.Failed, mg.chunks)
	if err != nil {
		return activities.Summary{}, err
	}
	sum.AddProblems(probs...)
	sum.AddProblems(in.Plan.Pending...)
	sum.Resumed, sum.Reannotated = in.Plan.Resumed, in.Plan.Reannotated
	if w := lowerCaseWarning(in.Config.Backend, in.Sharding, sum.Mentions); w != "" {
		sum.Warnings = append(sum.Warnings, w)
	}
	if err := a.writeReport(ctx, in, sum, mg); err != nil {
		return activities.Summary{}, err
	}
	a.deps.Log.Info("finalized run", "run", run.ID, "documents", sum.Docs, "mentions", sum.Mentions, "pending", sum.Pending)
	return sum, a.recordRun(ctx, in, m, sum, outcomes)
}

// accountDone accounts for the objects of a run finalized before, so that
// a finalize retried after writing run.json still records the run.
func (a *Activities) accountDone(ctx context.Context, in activities.FinalizeInput, m activities.Manifest, done runs.RunReport) (map[string]objectOutcome, error) {
	run := in.Plan.Run
	chunks := make(map[int][]table.Reject)
	for shard := range in.Sharding.Shards {
		fails, err := a.failedChunks(ctx, run, shard)
		if err != nil {
			return nil, err
		}
		chunks[shard] = fails
	}
	out, _, err := a.account(ctx, run, m, done.FailedShards, chunks)
	return out, err
}

// newSummary is the summary of a run being finalized, before the shards'
// outputs are counted.
func newSummary(in activities.FinalizeInput) activities.Summary {
	run := in.Plan.Run
	return activities.Summary{
		RunID: run.ID, Job: in.Config.Job, Docs: in.Sharding.Docs, Rejects: in.Sharding.Rejects,
		Shards: in.Sharding.Shards, FailedShards: in.Failed, Labels: make(map[string]int64),
		Outputs: activities.Outputs{
			Mentions:  runs.Dir(run).MentionsDir(),
			Documents: blob.Join(run.URI, "documents") + "/",
			Rejects:   runs.Dir(run).Rejects(),
			Summary:   runs.Dir(run).Summary(),
		},
	}
}

// merged is what Finalize gathers from the finished shards besides their
// mentions.
type merged struct {
	ledger   runs.Ledger
	failures []table.Reject         // the first ones, for run.json
	chunks   map[int][]table.Reject // a shard's failed chunks, all stages
	usage    bool                   // some stage of some shard has usage rows
}

// mergeShards counts the parts' mentions into sum, gathers the finished
// shards' failures and usage, and writes the run's ledger table.
func (a *Activities) mergeShards(ctx context.Context, in activities.FinalizeInput, sum *activities.Summary) (merged, error) {
	run := in.Plan.Run
	if err := a.countParts(ctx, run, sum); err != nil {
		return merged{}, err
	}
	shards := finishedShards(in)
	mg := merged{ledger: runs.Ledger{Stages: make(map[string]pipeline.Usage)}, chunks: make(map[int][]table.Reject)}
	for _, shard := range shards {
		failedDocs, u, err := a.mergeShard(ctx, run, shard, &mg)
		if err != nil {
			return merged{}, err
		}
		sum.Failures += int64(failedDocs)
		sum.Usage.Add(u)
	}
	if !mg.usage {
		return mg, nil
	}
	// A second pass over the shards' usage tables, so that the ledger's
	// rows are streamed rather than held.
	err := a.deps.Store.Replace(ctx, runs.Dir(run).Ledger(), func(w io.Writer) error {
		tw := table.NewUsageWriter(w)
		for _, shard := range shards {
			for _, stage := range activities.Stages() {
				rows, err := a.deps.Store.Usage(ctx, runs.Dir(run).Usage(stage, shard))
				if err != nil && !blob.IsNotExist(err) {
					return err
				}
				if err := tw.Write(rows); err != nil {
					return err
				}
			}
		}
		return tw.Close()
	})
	if err != nil {
		return merged{}, err
	}
	sum.Outputs.Usage = runs.Dir(run).Ledger()
	return mg, nil
}

// countParts adds the finished parts' mentions and labels to sum.
func (a *Activities) countParts(ctx context.Context, run activities.Run, sum *activities.Summary) error {
	for part := 0; ; part++ {
		var st activities.PartStats
		err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).PartStats(part), &st)
		if blob.IsNotExist(err) {
			if part == 0 {
				return activities.BadInput(fmt.Errorf("finalize run %s: no finished part at %s", run.ID, runs.Dir(run).PartStats(0)))
			}
			return nil
		}
		if err != nil {
			return err
		}
		sum.Mentions += st.Mentions
		for l, n := range st.Labels {
			sum.Labels[l] += n
		}
	}
}

// finishedShards lists the shards that did not fail, in order.
func finishedShards(in activities.FinalizeInput) []int {
	failed := make(map[int]bool, len(in.Failed))
	for _, f := range in.Failed {
		failed[f.Shard] = true
	}
	var shards []int
	for shard := range in.Sharding.Shards {
		if !failed[shard] {
			shards = append(shards, shard)
		}
	}
	return shards
}

// mergeShard gathers a shard's failures and usage into mg and returns how
// many of its documents failed and the model usage of its stages.
func (a *Activities) mergeShard(ctx context.Context, run activities.Run, shard int, mg *merged) (int, pipeline.Usage, error) {
	fails, err := a.failedChunks(ctx, run, shard)
	if err != nil {
		return 0, pipeline.Usage{}, err
	}
	mg.chunks[shard] = fails
	if room := maxListedRejects - len(mg.failures); room > 0 {
		mg.failures = append(mg.failures, fails[:min(room, len(fails))]...)
	}
	var shardUsage pipeline.Usage
	for _, stage := range activities.Stages() {
		rows, err := a.deps.Store.Usage(ctx, runs.Dir(run).Usage(stage, shard))
		if err != nil && !blob.IsNotExist(err) {
			return 0, pipeline.Usage{}, err
		}
		u := runs.SumUsage(rows)
		st := mg.ledger.Stages[stage]
		st.Add(u)
		mg.ledger.Stages[stage] = st
		shardUsage.Add(u)
		mg.usage = mg.usage || len(rows) > 0
	}
	if shardUsage != (pipeline.Usage{}) {
		mg.ledger.Shards = append(mg.ledger.Shards, runs.ShardUsage{Shard: shard, Usage: shardUsage})
	}
	// A document may fail in several chunks or voters: count it once.
	failedDocs := make(map[string]bool)
	for _, f := range fails {
		failedDocs[f.Object] = true
	}
	return len(failedDocs), shardUsage, nil
}

// writeReport writes the run's run.json.
func (a *Activities) writeReport(ctx context.Context, in activities.FinalizeInput, sum activities.Summary, mg merged) error {
	run := in.Plan.Run
	rejects, err := a.deps.Store.Rejects(ctx, runs.Dir(run).Rejects())
	if err != nil {
		return err
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
		RejectsList: rejects, FailuresList: mg.failures, Ledger: mg.ledger,
	}
	if in.Config.Backend.Batch.On() {
		if out.Batch, err = a.batchSummary(ctx, run, in.Sharding.Shards); err != nil {
			return err
		}
	}
	return a.deps.Store.WriteJSON(ctx, runs.Dir(run).Summary(), out)
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
