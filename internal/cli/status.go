package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/workflows"
)

func statusCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("status", `Usage: status --job NAME [flags]

Prints a job's progress: its phase, shards done and total, documents and
mentions so far.`, env)
	var (
		conn connFlags
		logs logFlags
		job  string
	)
	conn.register(fs, env)
	logs.register(fs, env)
	fs.StringVar(&job, "job", "", "job `name`, as run printed it (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if job == "" {
		return errors.New("--job is required")
	}
	log, err := logs.logger(env.Stderr)
	if err != nil {
		return err
	}
	cl, err := dial(ctx, conn, log)
	if err != nil {
		return err
	}
	defer cl.Close()
	p, err := queryProgress(ctx, cl, workflows.WorkflowID(job))
	if err != nil {
		return fmt.Errorf("job %s: %w", job, err)
	}
	fmt.Fprintln(env.Stdout, formatProgress(p))
	return nil
}

func queryProgress(ctx context.Context, cl client.Client, id string) (workflows.Progress, error) {
	var p workflows.Progress
	v, err := cl.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
	if err != nil {
		return p, err
	}
	err = v.Get(&p)
	return p, err
}

func formatProgress(p workflows.Progress) string {
	s := fmt.Sprintf("%-8s shards %d/%d  documents %d  mentions %d", p.Phase, p.ShardsDone, p.ShardsTotal, p.Docs, p.Mentions)
	if p.Requests+p.CacheHits > 0 {
		s += fmt.Sprintf("  llm requests %d  cache hits %d  tokens %d", p.Requests, p.CacheHits, p.Tokens)
	}
	if p.Failed > 0 {
		s += fmt.Sprintf("  failed shards %d", p.Failed)
	}
	if p.RunID != "" {
		s += "  run " + p.RunID
	}
	return s
}

// showProgress prints the job's progress until done is closed: one line kept
// up to date on a terminal, a line every ten seconds otherwise.
func showProgress(ctx context.Context, cl client.Client, id string, w io.Writer, done <-chan struct{}) {
	tty := isTerminal(w)
	period := 10 * time.Second
	if tty {
		period = time.Second
	}
	t := time.NewTicker(period)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-done:
			if tty && last != "" {
				fmt.Fprintln(w)
			}
			return
		case <-ctx.Done():
			return
		case <-t.C:
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			p, err := queryProgress(qctx, cl, id)
			cancel()
			if err != nil {
				continue // a query can fail while a worker restarts; try again
			}
			line := formatProgress(p)
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else if line != last {
				fmt.Fprintln(w, line)
			}
			last = line
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
