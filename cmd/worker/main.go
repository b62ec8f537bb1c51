// Command worker runs a zeroner Temporal worker. See "worker --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zeroner/zeroner/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, append([]string{"worker"}, os.Args[1:]...), cli.Env{Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
