// Package cli is zeroner's command line: the starter's subcommands and the
// worker. The binaries in cmd/ are thin mains over it.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// DevServer starts an embedded Temporal server on a SQLite file, its frontend
// on port (0: any free port), and returns the frontend's address and a stop
// function. cmd/starter provides it, so that this package (and its tests)
// does not link the server.
type DevServer func(ctx context.Context, dbPath string, port int, log *slog.Logger) (addr string, stop func() error, err error)

// Env is what a command sees of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	DevServer      DevServer // nil: run --dev is unavailable
}

// Main runs the starter with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(env.Stdout)
		return 0
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "zeroner: unknown command %q\n\n", name)
		usage(env.Stderr)
		return 2
	}
	if err := cmd(ctx, rest, env); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		if isFlagError(err) {
			err = withCode(ExitUsage, fmt.Errorf("%w (starter %s --help lists the flags)", err, name))
		}
		fmt.Fprintf(env.Stderr, "zeroner %s: %v\n", name, err)
		return exitCode(err)
	}
	return ExitOK
}

// commands returns the starter's subcommands by name.
func commands() map[string]func(context.Context, []string, Env) error {
	return map[string]func(context.Context, []string, Env) error{
		"run":            runCmd,
		"eval":           evalCmd,
		"status":         statusCmd,
		"cancel":         cancelCmd,
		"worker":         workerCmd,
		"server":         serverCmd,
		"schedule":       scheduleCmd,
		"distill":        distillCmd,
		"export":         exportCmd,
		"review":         reviewCmd,
		"batch":          batchCmd,
		"index":          indexCmd,
		"search":         searchCmd,
		"retrieval-eval": retrievalEvalCmd,
	}
}

// The starter's exit codes (the README's table).
const (
	ExitOK          = 0   // the work is done
	ExitError       = 1   // the command failed: nothing usable was produced
	ExitUsage       = 2   // bad flags or input, found before any work started
	ExitFailures    = 3   // finished, but some work failed or was rejected whole
	ExitInterrupted = 130 // Ctrl-C or SIGTERM: the job keeps its progress
)

// exitError is an error with its exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode gives err the exit code code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// exitCode is the exit code of a command that returned err.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitError
}

func usage(w io.Writer) {
	fmt.Fprint(w, `zeroner annotates text corpora with named entities of your own schema,
with no training data, as a Temporal batch job.

Usage:
  starter run    --corpus URI --schema URI [--out URI] [--dev] [flags]
  starter eval   --data FILE --schema FILE [--data FILE --schema FILE ...] [--out DIR] [--dev] [flags]
  starter status --job NAME [flags]
  starter cancel --job NAME [--dev] [flags]   (end a running job and its shard workflows)
  starter worker [flags]          (the same as cmd/worker)
  starter server [--db FILE] [--port N]
  starter schedule create|list|describe|pause|unpause|trigger|delete [flags]
  starter distill --corpus URI --schema URI [--sample 0.1] [flags]
  starter export --run RUN --format bio|jsonl|parquet|neo4j|all --out DIR [flags]
  starter review [--sample N] [--out FILE] RUN
  starter index  [--encoder local|embeddings|hidden] [--no-head] [--out DIR] [--dev] RUN
  starter search --index DIR [-k N] [--exact] [--json] "<description>" ...
  starter search --index DIR --batch FILE [-k N] [--dev]
  starter retrieval-eval --data FILE --schema FILE [...] [--out DIR] [--dev]
  starter batch resume JOB        (a job in batch mode: look for answers now)

Run "starter <command> --help" for a command's flags and environment.
`)
}

// gcsHelp documents the GCS endpoint flag and how credentials are found.
const gcsHelp = "Cloud Storage emulator `URL` (env ZERONER_GCS_ENDPOINT); empty: Google Cloud Storage with Application Default Credentials (env GOOGLE_APPLICATION_CREDENTIALS)"

// logFlags configure log/slog.
type logFlags struct {
	level string
	json  bool
}

func (l *logFlags) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&l.level, "log-level", envOr(env, "ZERONER_LOG_LEVEL", "warn"), "log `level`: debug, info, warn, error (env ZERONER_LOG_LEVEL)")
	fs.BoolVar(&l.json, "log-json", env.Getenv("ZERONER_LOG_JSON") != "", "log as JSON lines (env ZERONER_LOG_JSON=1)")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := l.check(); err != nil {
		return nil, withCode(ExitUsage, err)
	}
	if err := lv.UnmarshalText([]byte(l.level)); err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("--log-level: %w", err))
	}
	opt := &slog.HandlerOptions{Level: lv}
	if l.json {
		return slog.New(slog.NewJSONHandler(w, opt)), nil
	}
	return slog.New(slog.NewTextHandler(w, opt)), nil
}

func envOr(env Env, key, def string) string {
	if v := strings.TrimSpace(env.Getenv(key)); v != "" {
		return v
	}
	return def
}

// newFlagSet returns a flag set that prints its usage to env.Stderr with a
// heading on --help, and returns errors instead of exiting. A parse error is
// not printed with the usage: the command returns it and Main prints it, on
// one line (exit code ExitUsage).
func newFlagSet(name, heading string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := &flagOutput{}
	fs.SetOutput(out)
	fs.Usage = func() {
		if out.failed {
			out.failed = false
			return
		}
		fs.SetOutput(env.Stderr)
		defer fs.SetOutput(out)
		fmt.Fprintf(env.Stderr, "%s\n\nFlags:\n", heading)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a command's flags; the command takes no other
// arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}
