package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/cli"
	"github.com/zeroner/zeroner/internal/devserver"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

// signalsEnv makes the test binary act as the starter with cmd/starter's
// signal handling: Ctrl-C or SIGTERM ends the command's context. (init runs
// before TestMain, whose starter has none.)
const signalsEnv = "ZERONER_E2E_STARTER_SIGNALS"

func init() {
	if os.Getenv(signalsEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, DevServer: devserver.StartFile})
	stop()
	os.Exit(code)
}

// lockedBuffer is a bytes.Buffer that a child process writes to while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Ctrl-C of `starter run --dev` mid-job: exit 130 with a line that says the
// job keeps its progress; nothing is marked failed; the same command says it
// resumes the interrupted job and completes it with the same tables as an
// uninterrupted run.
func TestInterruptDevRunAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var out lockedBuffer
	cmd := exec.CommandContext(ctx, os.Args[0], jobArgs(t, "--dev")...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), signalsEnv+"=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pattern := filepath.Join(dir, "out", "runs", "*", "stages", "calibrate", "shard-*.parquet")
	for n := 0; n < 3; {
		if ctx.Err() != nil || cmd.ProcessState != nil {
			t.Fatalf("no shards annotated in time:\n%s", out.String())
		}
		done, _ := filepath.Glob(pattern)
		n = len(done)
		time.Sleep(10 * time.Millisecond)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(sent)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != cli.ExitInterrupted {
		t.Fatalf("interrupted run: %v, want exit %d\n%s", err, cli.ExitInterrupted, out.String())
	}
	if want := "interrupted: job crash keeps its progress; run the same command to resume"; !strings.Contains(out.String(), want) {
		t.Errorf("interrupted run does not say %q:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "failed") {
		t.Errorf("interrupted run reports a failure:\n%s", out.String())
	}
	done, _ := filepath.Glob(pattern)
	if len(done) >= crashShards {
		t.Fatalf("the job finished before the interrupt (%d shards); nothing was tested", len(done))
	}
	t.Logf("interrupted with %d of %d shards annotated; exited %s after the signal", len(done), crashShards, took.Round(time.Millisecond))

	began := time.Now()
	again, err := starter(ctx, dir, jobArgs(t, "--dev")...).CombinedOutput()
	if err != nil {
		t.Fatalf("resumed run: %v\n%s", err, again)
	}
	if !strings.Contains(string(again), "resuming job crash, interrupted earlier (started ") {
		t.Errorf("resumed run does not say it resumes the interrupted job:\n%s", again)
	}
	t.Logf("resumed run took %s", time.Since(began).Round(time.Millisecond))
	sameAsUninterrupted(t, dir)
}

// A job on a task queue that no worker polls: `starter run` says so within
// 10 s, naming the queue and the server, and keeps waiting.
func TestNoWorkerLine(t *testing.T) {
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := ts.GetFrontendHostPort()
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	began := time.Now()
	go func() {
		code <- cli.Main(ctx, append(jobArgs(t, "--address", addr, "--namespace", ts.GetDefaultNamespace(), "--task-queue", "nobody-polls",
			"--out", t.TempDir()), "--job", "lonely"),
			cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	}()
	want := fmt.Sprintf("no worker is polling task queue nobody-polls at %s: start one with `starter worker` (or use --dev)", addr)
	for !strings.Contains(stdout.String(), want) {
		if time.Since(began) > 15*time.Second {
			t.Fatalf("no %q after 15 s:\n%s\n%s", want, stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(began)
	t.Logf("the no-worker line came %s after the start", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("the no-worker line came after %s, want within 10 s", took)
	}
	cancel() // Ctrl-C
	if c := <-code; c != cli.ExitInterrupted {
		t.Errorf("exit %d, want %d\n%s", c, cli.ExitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted: job lonely keeps its progress") {
		t.Errorf("stderr: %s", stderr.String())
	}
	d, err := ts.GetDefaultClient().DescribeWorkflowExecution(context.Background(), workflows.WorkflowID("lonely"), "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("after the interrupt the job is %v (%v), want still running", d.GetWorkflowExecutionInfo().GetStatus(), err)
	}
}

// An LLM endpoint that refuses connections: each retry of the stage shows
// as a line of `starter run`, with the attempt and the cause, and the
// activity's error says the endpoint is unavailable.
func TestUnreachableLLMRetriesAreVisible(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	store, _ := localStore(t)
	h := newHarness(t, store, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, append(jobArgs(t, "--address", h.server.GetFrontendHostPort(), "--namespace", h.server.GetDefaultNamespace(),
			"--task-queue", queue, "--out", t.TempDir(), "--shard-size", "1000"), "--job", "deadllm",
			"--llm-base-url", "http://"+dead+"/v1", "--llm-model", "m", "--llm-retries", "1"),
			cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	}()
	want := "retrying discover of shard 0 (attempt 2 of 5) after: "
	began := time.Now()
	for !strings.Contains(stdout.String(), want) {
		if time.Since(began) > 30*time.Second {
			t.Fatalf("no %q after 30 s:\n%s\n%s", want, stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	line := stdout.String()[strings.Index(stdout.String(), want):]
	line = line[:strings.IndexByte(line, '\n')]
	t.Logf("after %s: %s", time.Since(began).Round(time.Millisecond), line)
	for _, w := range []string{"unavailable", "connection refused", dead} {
		if !strings.Contains(line, w) {
			t.Errorf("the retry line does not say %q", w)
		}
	}
	cancel()
	if c := <-code; c != cli.ExitInterrupted {
		t.Errorf("exit %d, want %d", c, cli.ExitInterrupted)
	}
}

// blocking is a backend whose discovery waits until its context ends or
// the test is over, so a job stays in flight with its shard workflows.
type blocking struct {
	pipeline.Backend
	release chan struct{}
}

func (b blocking) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	select {
	case <-ctx.Done():
		return pipeline.Result{}, ctx.Err()
	case <-b.release:
		return b.Backend.Discover(ctx, docs)
	}
}

// `starter cancel --job` on a real server: the job's workflow ends as
// canceled, and so do the shard workflows it had in flight.
func TestCancelCommand(t *testing.T) {
	release := make(chan struct{})
	store, _ := localStore(t)
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ts.NewWorker(queue, func(r worker.Registry) {
		workflows.Register(r)
		registry.Register(r, wire.New(store, slog.New(slog.DiscardHandler), wire.Options{
			Factory: func(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
				b, err := wire.NewBackend(spec, s)
				return blocking{b, release}, err
			}}))
	})
	defer close(release)
	cl := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"--address", ts.GetFrontendHostPort(), "--namespace", ts.GetDefaultNamespace(), "--task-queue", queue}
	env := func(o, e *lockedBuffer) cli.Env {
		return cli.Env{Stdout: o, Stderr: e, Getenv: func(string) string { return "" }}
	}
	var o, e lockedBuffer
	if c := cli.Main(ctx, append(jobArgs(t, append(args, "--detach", "--out", t.TempDir())...), "--job", "long"), env(&o, &e)); c != 0 {
		t.Fatalf("run --detach: exit %d\n%s%s", c, o.String(), e.String())
	}
	id := workflows.WorkflowID("long")
	var children []string
	for len(children) < 2 {
		if ctx.Err() != nil {
			t.Fatal("no shard workflows in flight in time")
		}
		time.Sleep(50 * time.Millisecond)
		d, err := cl.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		children = children[:0]
		for _, c := range d.GetPendingChildren() {
			children = append(children, c.GetWorkflowId())
		}
	}

	o, e = lockedBuffer{}, lockedBuffer{}
	began := time.Now()
	if c := cli.Main(ctx, append([]string{"cancel", "--job", "long"}, args...), env(&o, &e)); c != 0 {
		t.Fatalf("cancel: exit %d\n%s%s", c, o.String(), e.String())
	}
	t.Logf("cancel took %s:\n%s", time.Since(began).Round(time.Millisecond), o.String())
	if !strings.Contains(o.String(), "job long was canceled") {
		t.Errorf("cancel says:\n%s", o.String())
	}
	d, err := cl.DescribeWorkflowExecution(ctx, id, "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("the job is %v (%v), want canceled", d.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	for _, c := range children {
		d, err := cl.DescribeWorkflowExecution(ctx, c, "")
		st := d.GetWorkflowExecutionInfo().GetStatus()
		if err != nil || (st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED && st != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED) {
			t.Errorf("shard workflow %s is %v (%v), want canceled or terminated", c, st, err)
		}
	}

	// Not running any more, and never started: plain sentences, exit 1.
	for job, want := range map[string]string{"long": "job long is not running: it was canceled at ", "never": "job never is not running\n"} {
		o, e = lockedBuffer{}, lockedBuffer{}
		if c := cli.Main(ctx, append([]string{"cancel", "--job", job}, args...), env(&o, &e)); c != cli.ExitError || !strings.Contains(e.String(), want) {
			t.Errorf("cancel %s: exit %d, %q; want exit 1 and %q", job, c, e.String(), want)
		}
	}
}
