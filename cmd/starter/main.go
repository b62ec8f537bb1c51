// Command starter is zeroner's command line: run a job (or run it in one
// process with --dev), and show a job's status. See "starter --help".
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zeroner/zeroner/internal/cli"
	"github.com/zeroner/zeroner/internal/devserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, DevServer: startDev})
	stop()
	os.Exit(code)
}

func startDev(ctx context.Context, db string, log *slog.Logger) (string, func() error, error) {
	s, err := devserver.Start(ctx, devserver.Options{DBPath: db, Logger: log})
	if err != nil {
		return "", nil, err
	}
	return s.Address(), s.Stop, nil
}
