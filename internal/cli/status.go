package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/workflows"
)

func statusCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("status", `Usage: status --job NAME [--watch] [flags]

Prints a job's progress: its phase, shards done and total, documents and
mentions so far, model requests and tokens. A running job answers through
its workflow's query (a worker must be up); a finished job's numbers come
from its result. With --watch, follows a running job as run does, with its
rate and ETA, until it ends.`, env)
	var (
		conn  connFlags
		logs  logFlags
		job   string
		watch bool
	)
	conn.register(fs, env)
	logs.register(fs, env)
	fs.StringVar(&job, "job", "", "job `name`, as run printed it (required)")
	fs.BoolVar(&watch, "watch", false, "follow a running job until it ends")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if job == "" {
		return errors.New("--job is required")
	}
	cl, log, err := dial(ctx, conn, logs, env.Stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	id := workflows.WorkflowID(job)
	if watch {
		d, err := cl.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return fmt.Errorf("job %s: %w", job, err)
		}
		if d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			stop := showProgress(ctx, cl, id, env.Stdout)
			err := cl.GetWorkflow(ctx, id, "").Get(ctx, nil) // follows continue-as-new to the end
			stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Debug("job ended", "job", job, "error", err)
		}
	}
	st, err := jobProgress(ctx, cl, id)
	if err != nil {
		return fmt.Errorf("job %s: %w", job, err)
	}
	line := st.p.Phase
	if st.counted {
		width := 0
		if isTerminal(env.Stdout) {
			width = termWidth(env.Stdout)
		}
		line = formatProgress(sample{at: time.Now(), p: st.p}, nil, width)
	}
	fmt.Fprintln(env.Stdout, line)
	if st.reason != "" {
		fmt.Fprintf(env.Stdout, "  %s\n", st.reason)
	}
	if p := problemLine(st.sum); p != "" {
		fmt.Fprintf(env.Stdout, "  %s\n", p)
	}
	return st.outcome(job)
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
