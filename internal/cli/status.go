package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/zeroner/zeroner/activities/runs"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/workflows"
)

const statusHelp = `Usage: status --job NAME [--watch] [--out URI] [--dev-db FILE] [flags]

Prints a job's progress: its phase, shards done and total, documents and
mentions so far, model requests and tokens. A running job answers through
its workflow's query (a worker must be up); a finished job's numbers come
from its result. After a run that found nothing new, it shows the latest run
that did work and the checks since. A scheduled job's name (as "schedule
create" printed it) shows its schedule's latest runs. With --watch, follows
a running job as run does, with its rate and ETA, until it ends.

With no Temporal server reachable (a "run --dev" that has ended, say), it
answers from the job's dataset under --out and the latest run's run.json.
--dev-db reads the history of "run --dev" jobs from that server's file.

Exits 1 for a failed (or cancelled) job, 3 for one that finished with objects
not annotated.`

// statusFlags are status's flags.
type statusFlags struct {
	conn  connFlags
	logs  logFlags
	job   string
	watch bool
	out   string
	devDB string
	gcs   string
}

func statusCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("status", statusHelp, env)
	var f statusFlags
	f.register(fs, env)
	if err := fs.Parse(args); err != nil {
		return withCode(ExitUsage, err)
	}
	if f.job == "" {
		return withCode(ExitUsage, errors.New("--job is required"))
	}
	log, err := f.logs.logger(env.Stderr)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: f.gcs})
	if err != nil {
		return err
	}
	stop, err := f.devServer(ctx, env, log)
	if err != nil {
		return err
	}
	defer stop()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	cl, err := dialWith(dctx, f.conn, log, nil)
	cancel()
	if exitCode(err) == ExitUsage {
		return err // a wrong TLS option, not a missing server
	}
	if err != nil {
		log.Debug("no Temporal server", "error", err)
		fmt.Fprintf(env.Stdout, "no Temporal server at %s: from the job's dataset\n", f.conn.address)
		return statusOffline(ctx, env.Stdout, store, f.out, f.job)
	}
	defer cl.Close()

	id, runs, err := resolveJob(ctx, cl, f.job)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			fmt.Fprintf(env.Stdout, "the server at %s has no job %q: from the job's dataset\n", f.conn.address, f.job)
			return statusOffline(ctx, env.Stdout, store, f.out, f.job)
		}
		return fmt.Errorf("job %s: %w", f.job, err)
	}
	for _, r := range runs {
		fmt.Fprintln(env.Stdout, r)
	}
	if f.watch {
		if err := followJob(ctx, cl, id, f.job, env.Stdout, log); err != nil {
			return err
		}
	}
	st, err := jobProgress(ctx, cl, id)
	if err != nil {
		return fmt.Errorf("job %s: %w", f.job, err)
	}
	return printStatus(ctx, env.Stdout, store, st, f.job)
}

func (f *statusFlags) register(fs *flag.FlagSet, env Env) {
	f.conn.register(fs, env)
	f.logs.register(fs, env)
	fs.StringVar(&f.job, "job", "", "job `name`, as run or schedule create printed it (required)")
	fs.BoolVar(&f.watch, "watch", false, "follow a running job until it ends")
	fs.StringVar(&f.out, "out", "out", "the job's output `URI` prefix, where its dataset is (used without a server)")
	fs.StringVar(&f.devDB, "dev-db", "", "read the job from the embedded server on this SQLite `file` (as run --dev wrote it)")
	fs.StringVar(&f.gcs, "gcs-endpoint", env.Getenv("ZERONER_GCS_ENDPOINT"), gcsHelp)
}

// devServer starts the embedded server on --dev-db, if given, and points
// the connection at it; stop stops it.
func (f *statusFlags) devServer(ctx context.Context, env Env, log *slog.Logger) (stop func() error, err error) {
	if f.devDB == "" {
		return func() error { return nil }, nil
	}
	if env.DevServer == nil {
		return nil, errors.New("--dev-db is not available in this build")
	}
	if _, err := os.Stat(f.devDB); err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("--dev-db: %w", err))
	}
	addr, stop, err := env.DevServer(ctx, f.devDB, 0, log)
	if err != nil {
		return nil, fmt.Errorf("start embedded Temporal server on %s: %w", f.devDB, err)
	}
	f.conn.useLocal(addr)
	return stop, nil
}

// followJob follows the job's workflow id, while it runs, to its end.
func followJob(ctx context.Context, cl client.Client, id, job string, w io.Writer, log *slog.Logger) error {
	d, err := cl.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return fmt.Errorf("job %s: %w", job, err)
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil
	}
	stop := showProgress(ctx, cl, id, w)
	err = cl.GetWorkflow(ctx, id, "").Get(ctx, nil) // follows continue-as-new to the end
	stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	log.Debug("job ended", "job", job, "error", err)
	return nil
}

// printStatus prints the job's state and returns its outcome.
func printStatus(ctx context.Context, w io.Writer, store blob.Store, st jobState, job string) error {
	if st.sum.UpToDate {
		// A check that found nothing new: show the run that did work.
		fmt.Fprintf(w, "up to date (the latest check found nothing new)\n")
		if st.sum.Outputs.Summary != "" {
			return latestRun(ctx, w, store, st.sum.Outputs.Summary, job, st.sum)
		}
		return st.outcome(job)
	}
	line := st.p.Phase
	if st.counted {
		width := 0
		if isTerminal(w) {
			width = termWidth(w)
		}
		line = formatProgress(sample{at: time.Now(), p: st.p}, nil, width)
	}
	fmt.Fprintln(w, line)
	if st.reason != "" {
		fmt.Fprintf(w, "  %s\n", st.reason)
	}
	if p := problemLine(st.sum); p != "" {
		fmt.Fprintf(w, "  %s\n", p)
	}
	return st.outcome(job)
}

// resolveJob returns the workflow id of the job's latest execution: the
// job's own, or, for a scheduled job (whose executions carry the fire time
// in their ids), the latest its schedule started, with a line per recent
// run of the schedule and how it ended.
func resolveJob(ctx context.Context, cl client.Client, job string) (string, []string, error) {
	id := workflows.WorkflowID(job)
	_, err := cl.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if err == nil || !errors.As(err, &nf) {
		return id, nil, err
	}
	it, lerr := cl.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	if lerr != nil {
		return "", nil, err
	}
	for it.HasNext() {
		e, lerr := it.Next()
		if lerr != nil {
			return "", nil, err
		}
		d, derr := cl.ScheduleClient().GetHandle(ctx, e.ID).Describe(ctx)
		if derr != nil {
			continue
		}
		a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		if !ok || a.ID != id {
			continue
		}
		lines := []string{fmt.Sprintf("schedule %s: %d runs started; latest:", e.ID, d.Info.NumActions)}
		latest := ""
		for _, r := range d.Info.RecentActions {
			if r.StartWorkflowResult == nil {
				continue
			}
			latest = r.StartWorkflowResult.WorkflowID
			lines = append(lines, fmt.Sprintf("  %s  %s  %s", r.ActualTime.UTC().Format(time.RFC3339), latest,
				runOutcome(ctx, cl, latest, r.StartWorkflowResult.FirstExecutionRunID)))
		}
		if latest == "" {
			return "", nil, fmt.Errorf("schedule %s has not started a run yet", e.ID)
		}
		return latest, lines, nil
	}
	return "", nil, err
}

// runOutcome says in a few words how a workflow execution ended.
func runOutcome(ctx context.Context, cl client.Client, id, runID string) string {
	d, err := cl.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return "unknown"
	}
	status := d.GetWorkflowExecutionInfo().GetStatus()
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		var sum activities.Summary
		if err := cl.GetWorkflow(ctx, id, runID).Get(ctx, &sum); err != nil {
			return "completed"
		}
		switch {
		case sum.Pending > 0:
			return fmt.Sprintf("finished with failures: %d objects not annotated", sum.Pending)
		case sum.UpToDate:
			return "up to date"
		}
		return fmt.Sprintf("done: %d documents, %d mentions", sum.Docs, sum.Mentions)
	}
	return endState(status)
}

// latestRun prints the run whose run.json is at uri, with the job's checks
// since from its dataset, and returns status's outcome for it.
func latestRun(ctx context.Context, w io.Writer, store blob.Store, uri, job string, check activities.Summary) error {
	var run runs.RunReport
	data, err := blob.ReadAll(ctx, store, uri)
	if err == nil {
		err = json.Unmarshal(data, &run)
	}
	if err != nil {
		return fmt.Errorf("latest run of job %s: %w", job, err)
	}
	printRunReport(w, run)
	st, err := readDataset(ctx, store, run.Config.Output, job)
	if err == nil && st.Checks.Count > 0 {
		fmt.Fprintf(w, "  checks     %d since, nothing new (last %s)\n", st.Checks.Count, st.Checks.Last.Format(time.RFC3339))
	}
	sum := run.Summary
	sum.AddProblems(check.Problems...)
	if p := problemLine(sum); p != "" {
		fmt.Fprintf(w, "  %s\n", p)
	}
	return jobState{p: workflows.Progress{Phase: "done"}, sum: sum}.outcome(job)
}

// printRunReport prints what status shows of a finished run.
func printRunReport(w io.Writer, r runs.RunReport) {
	fmt.Fprintf(w, "latest run %s, finished %s\n", r.RunID, r.Timings.Finished.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  objects    %d read, documents %d, mentions %d, rejects %d\n", r.Objects, r.Docs, r.Mentions, r.Rejects)
	if r.Failures > 0 || len(r.FailedShards) > 0 {
		fmt.Fprintf(w, "  failures   %d documents, %d shards\n", r.Failures, len(r.FailedShards))
	}
	fmt.Fprintf(w, "  run.json   %s\n", r.Outputs.Summary)
}

// readDataset reads a job's dataset under an output prefix.
func readDataset(ctx context.Context, store blob.Store, out, job string) (runs.JobState, error) {
	var st runs.JobState
	prefix, err := blob.Normalize(out)
	if err != nil {
		return st, err
	}
	uri, err := runs.JobStateURI(prefix, job)
	if err != nil {
		return st, err
	}
	data, err := blob.ReadAll(ctx, store, uri)
	if err != nil {
		if blob.IsNotExist(err) {
			return st, fmt.Errorf("no job %q under %s (no %s; give --out)", job, prefix, uri)
		}
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("decode %s: %w", uri, err)
	}
	return st, nil
}

// statusOffline answers from the job's dataset and its latest run's
// run.json, without Temporal.
func statusOffline(ctx context.Context, w io.Writer, store blob.Store, out, job string) error {
	st, err := readDataset(ctx, store, out, job)
	if err != nil {
		return err
	}
	if len(st.Runs) == 0 {
		return fmt.Errorf("job %s has no finished run", job)
	}
	last := st.Runs[len(st.Runs)-1]
	fmt.Fprintf(w, "job %s: %d runs, %d objects annotated, %d pending\n", job, len(st.Runs), len(st.Objects), len(st.Pending))
	var probs activities.Problems
	for _, uri := range slices.Sorted(maps.Keys(st.Pending)) {
		p := st.Pending[uri]
		probs.Add(p.Reason, uri, p.Rejected)
	}
	pending := activities.Summary{Pending: len(st.Pending), Problems: probs.List()}
	return latestRun(ctx, w, store, blob.Join(last.URI, "run.json"), job, pending)
}

// outcome is the error status returns for a job that failed, ended
// otherwise than by completing, or completed with objects pending.
func (st jobState) outcome(job string) error {
	switch st.p.Phase {
	case "failed", "canceled", "terminated", "timed out", "ended":
		return withCode(ExitError, fmt.Errorf("job %s %s", job, st.p.Phase))
	}
	if st.sum.Pending > 0 || st.sum.Stopped != "" {
		return withCode(ExitFailures, fmt.Errorf("job %s finished with failures: %d objects not annotated", job, st.sum.Pending))
	}
	return nil
}

// jobState is what status knows of a job.
type jobState struct {
	p       workflows.Progress
	counted bool   // p has the job's counts, not only its phase
	reason  string // why the job failed
	// sum is a completed job's summary.
	sum activities.Summary
}

// jobProgress is the progress of the job's latest run: the query's answer
// while it runs; its result once it completed, so that no worker is needed;
// for a run that failed or was stopped, the query's answer if a worker gives
// one in time, the way it ended, and why.
func jobProgress(ctx context.Context, cl client.Client, id string) (jobState, error) {
	d, err := cl.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return jobState{}, err
	}
	status := d.GetWorkflowExecutionInfo().GetStatus()
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		p, err := queryProgress(ctx, cl, id)
		if err != nil {
			return jobState{}, fmt.Errorf("progress query (is a worker up?): %w", err)
		}
		return jobState{p: p, counted: true}, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var sum activities.Summary
		if err := cl.GetWorkflow(ctx, id, "").Get(ctx, &sum); err != nil {
			return jobState{}, err
		}
		return jobState{p: summaryProgress(sum), counted: true, sum: sum}, nil
	}
	// Replaying a closed workflow for the query takes a worker, which
	// may not be up: wait for one a little only.
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	p, qerr := queryProgress(qctx, cl, id)
	cancel()
	st := jobState{p: p, counted: qerr == nil}
	st.p.Phase = endState(status)
	if err := cl.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		st.reason = rootCause(err)
	}
	return st, nil
}

// summaryProgress is a completed run's progress, from its summary.
func summaryProgress(s activities.Summary) workflows.Progress {
	return workflows.Progress{
		Phase: "done", RunID: s.RunID,
		ShardsDone: s.Shards - len(s.FailedShards), ShardsTotal: s.Shards, Failed: len(s.FailedShards),
		Docs: s.Docs, DocsTotal: s.Docs, Mentions: s.Mentions,
		Requests: s.Usage.Requests, CacheHits: s.Usage.CacheHits, Tokens: s.Usage.PromptTokens + s.Usage.CompletionTokens,
	}
}

// endState names how a workflow that did not complete ended.
func endState(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed out"
	}
	return "ended"
}
