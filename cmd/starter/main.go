// Command starter is zeroner's command line: run a job (or run it in one
// process with --dev), and show a job's status. See "starter --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zeroner/zeroner/internal/cli"
	"github.com/zeroner/zeroner/internal/devserver"
)

func main() {
	// The first Ctrl-C or SIGTERM ends ctx: the command stops waiting and
	// cleans up (with --dev, its worker finishes what it holds, up to 30 s).
	// A second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, DevServer: devserver.StartFile})
	stop()
	os.Exit(code)
}
