package cli

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"

	"github.com/zeroner/zeroner/workflows"
)

// batchCmd is `starter batch resume <job>`.
func batchCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("batch", `Usage: batch resume [flags] JOB

Tells a job that runs in batch mode (run --batch api|files) to look for its
answers now instead of at its next poll: after writing responses.jsonl files
into the exchange (--batch files), or when a provider's batch has ended. The
job's shards in flight each check their round at once; those with nothing new
go back to waiting.`, env)
	var (
		conn connFlags
		logs logFlags
	)
	conn.register(fs, env)
	logs.register(fs, env)
	if len(args) == 0 || args[0] != "resume" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return fs.Parse(args)
		}
		return usageError(errors.New("want: batch resume JOB"))
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(errors.New("want: batch resume JOB"))
	}
	job := fs.Arg(0)
	cl, _, err := dial(ctx, conn, logs, env.Stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.SignalWorkflow(ctx, workflows.WorkflowID(job), "", workflows.SignalResume, nil); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return fmt.Errorf("no job named %q is running (a finished job has nothing to resume)", job)
		}
		return fmt.Errorf("job %s: %s", job, rootCause(err))
	}
	fmt.Fprintf(env.Stdout, "job %s: asked to look for batch answers now\n", job)
	return nil
}
