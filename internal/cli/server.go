package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

func serverCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("server", `Usage: server [--db FILE] [--port N] [flags]

Runs the embedded Temporal server on a SQLite file until interrupted, for
workers and starters in other processes on this machine: the same server
that run --dev starts in process. For production use a Temporal cluster.`, env)
	var (
		logs logFlags
		db   string
		port int
	)
	logs.register(fs, env)
	fs.StringVar(&db, "db", filepath.Join(".zeroner", "temporal.db"), "the server's SQLite `file`")
	fs.IntVar(&port, "port", 7233, "frontend gRPC `port` on 127.0.0.1 (0: any free port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if env.DevServer == nil {
		return errors.New("the embedded server is not available in this build")
	}
	log, err := logs.logger(env.Stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	addr, stop, err := env.DevServer(ctx, db, port, log)
	if err != nil {
		return fmt.Errorf("start embedded Temporal server on %s: %w", db, err)
	}
	fmt.Fprintf(env.Stdout, "Temporal server on %s (namespace default), state in %s; interrupt to stop\n", addr, db)
	<-ctx.Done()
	return stop()
}
