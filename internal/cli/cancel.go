package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/zeroner/zeroner/workflows"
)

const cancelHelp = `Usage: cancel --job NAME [--address host:port] [--dev [--dev-db FILE]] [flags]

Cancels a running job: its workflow and the shard workflows it runs stop;
the shards they finished stay finished. Waits until the job has ended and
says how. A job started with run --dev is cancelled with --dev and the same
--dev-db (the job's workflow needs a worker to end, so --dev runs one).`

// cancelPoll is how often cancel looks whether the job has ended.
const cancelPoll = 250 * time.Millisecond

func cancelCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("cancel", cancelHelp, env)
	var f sessionFlags
	f.register(fs, env)
	var job string
	fs.StringVar(&job, "job", "", "job `name`, as run printed it (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return withCode(ExitUsage, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if job == "" {
		return withCode(ExitUsage, errors.New("--job is required"))
	}
	o, err := f.open(ctx, env)
	if err != nil {
		return err
	}
	defer o.close()
	return cancelJob(ctx, o.client, sessionOf(o.client), job, env.Stdout)
}

// cancelClient is what cancelJob asks Temporal.
type cancelClient interface {
	watchClient
	CancelWorkflow(ctx context.Context, id, runID string) error
}

// cancelJob requests the cancellation of the job's workflow, whose shard
// workflows are cancelled with it, waits until it has closed and says how
// it ended on w.
func cancelJob(ctx context.Context, cl cancelClient, sess session, job string, w io.Writer) error {
	id := workflows.WorkflowID(job)
	d, err := cl.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return plainTemporal(err, job, sess)
	}
	info := d.GetWorkflowExecutionInfo()
	if st := info.GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return fmt.Errorf("job %s is not running: it %s", job, ended(st, info.GetCloseTime().AsTime()))
	}
	children := make(map[string]string) // shard workflows in flight: id -> run
	for _, c := range d.GetPendingChildren() {
		children[c.GetWorkflowId()] = c.GetRunId()
	}
	stopWatch := watchJob(ctx, cl, id, sess, w) // says so if no worker can act on it
	defer stopWatch()
	run := ""
	for {
		if cur := info.GetExecution().GetRunId(); cur != run {
			// The first request, or the job continued as new instead of
			// stopping: ask its new run.
			if err := cl.CancelWorkflow(ctx, id, ""); err != nil {
				return plainTemporal(err, job, sess)
			}
			if run == "" {
				fmt.Fprintf(w, "cancelling job %s (workflow %s, %d shard workflow(s) in flight)\n", job, id, len(children))
			}
			run = cur
		}
		select {
		case <-ctx.Done():
			return withCode(ExitInterrupted, fmt.Errorf("interrupted: the cancellation of job %s was requested and goes on without this command", job))
		case <-time.After(cancelPoll):
		}
		d, err = cl.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return plainTemporal(err, job, sess)
		}
		info = d.GetWorkflowExecutionInfo()
		if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			break
		}
	}
	st := info.GetStatus()
	open := 0
	for cid, crun := range children {
		cd, err := cl.DescribeWorkflowExecution(ctx, cid, crun)
		if err == nil && cd.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			open++
		}
	}
	line := fmt.Sprintf("job %s %s", job, ended(st, info.GetCloseTime().AsTime()))
	if len(children) > 0 {
		line += fmt.Sprintf("; %d of its %d shard workflow(s) in flight stopped with it", len(children)-open, len(children))
	}
	fmt.Fprintln(w, line)
	if st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		return fmt.Errorf("job %s ended before its cancellation took effect", job)
	}
	if open > 0 {
		return fmt.Errorf("job %s: %d shard workflow(s) still running", job, open)
	}
	fmt.Fprintln(w, "the shards it finished stay finished: the same run command starts the job again from them")
	return nil
}

// ended says how a closed workflow ended, and when.
func ended(st enumspb.WorkflowExecutionStatus, at time.Time) string {
	word := map[enumspb.WorkflowExecutionStatus]string{
		enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:        "completed",
		enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:           "failed",
		enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:         "was canceled",
		enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:       "was terminated",
		enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:        "timed out",
		enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: "continued as new",
	}[st]
	if word == "" {
		word = "ended (" + st.String() + ")"
	}
	if at.IsZero() || at.Unix() <= 0 {
		return word
	}
	return word + " at " + at.Local().Format(time.DateTime)
}

// plainTemporal says in a sentence what Temporal's not-found errors mean
// for a job; other errors keep their text.
func plainTemporal(err error, job string, sess session) error {
	var nf *serviceerror.NotFound
	var nsnf *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &nsnf):
		return fmt.Errorf("job %s is not running: Temporal at %s has no namespace %s", job, cmp.Or(sess.address, "the server"), nsnf.Namespace)
	case errors.As(err, &nf):
		return fmt.Errorf("job %s is not running", job)
	}
	return fmt.Errorf("job %s: %w", job, err)
}
