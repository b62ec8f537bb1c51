package devserver

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// maxStart is generous: the machine running the tests may be busy compiling.
const maxStart = 10 * time.Second

func greet(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, hello, name).Get(ctx, &out)
	return out, err
}

func hello(_ context.Context, name string) (string, error) { return "hello " + name, nil }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func start(t *testing.T, opt Options) *Server {
	t.Helper()
	opt.Logger = testLogger(t)
	began := time.Now()
	srv, err := Start(t.Context(), opt)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	took := time.Since(began)
	t.Logf("Start took %v (frontend %s)", took.Round(time.Millisecond), srv.Address())
	if took > maxStart {
		t.Errorf("Start took %v, want under %v", took, maxStart)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func dial(t *testing.T, srv *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  srv.Address(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testLogger(t)),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Address(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// run executes greet with a fresh worker and returns the run.
func run(t *testing.T, c client.Client, id string) client.WorkflowRun {
	t.Helper()
	const queue = "devserver-test"
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(greet)
	w.RegisterActivity(hello)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	defer w.Stop()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, greet, id)
	if err != nil {
		t.Fatalf("execute %s: %v", id, err)
	}
	var got string
	if err := r.Get(ctx, &got); err != nil {
		t.Fatalf("workflow %s: %v", id, err)
	}
	if want := "hello " + id; got != want {
		t.Fatalf("workflow %s = %q, want %q", id, got, want)
	}
	return r
}

// childDB names the database file when the test binary re-runs itself for
// the first life of TestRestartKeepsState.
const childDB = "DEVSERVER_TEST_CHILD_DB"

// TestRestartKeepsState runs a workflow in one process, then restarts on the
// same file in a new process (the state must come from disk, not from a
// connection this process kept open) and once more in the same process.
func TestRestartKeepsState(t *testing.T) {
	const ns = "zeroner-dev"
	if path := os.Getenv(childDB); path != "" {
		srv := start(t, Options{DBPath: path, Namespace: ns})
		run(t, dial(t, srv), "first")
		return // Cleanup stops the server
	}

	opt := Options{DBPath: filepath.Join(t.TempDir(), "sub", "dev.db"), Namespace: ns}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRestartKeepsState$", "-test.v")
	cmd.Env = append(os.Environ(), childDB+"="+opt.DBPath)
	out, err := cmd.CombinedOutput()
	t.Logf("first process:\n%s", out)
	if err != nil {
		t.Fatalf("first process: %v", err)
	}

	srv := start(t, opt)
	if srv.Namespace() != ns {
		t.Errorf("Namespace() = %q, want %q", srv.Namespace(), ns)
	}
	c := dial(t, srv)
	wantCompleted(t, c, "first")
	run(t, c, "second")
	began := time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %v", time.Since(began).Round(time.Millisecond))
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	srv = start(t, opt)
	wantCompleted(t, dial(t, srv), "second")
}

func wantCompleted(t *testing.T, c client.Client, id string) {
	t.Helper()
	desc, err := c.DescribeWorkflowExecution(t.Context(), id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	if got := desc.GetWorkflowExecutionInfo().GetStatus(); got != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("%s: status %v, want COMPLETED", id, got)
	}
}

func TestDefaults(t *testing.T) {
	srv := start(t, Options{DBPath: filepath.Join(t.TempDir(), "dev.db")})
	if srv.Namespace() != "default" {
		t.Errorf("Namespace() = %q, want default", srv.Namespace())
	}
	if !strings.HasPrefix(srv.Address(), "127.0.0.1:") {
		t.Errorf("Address() = %q, want 127.0.0.1:port", srv.Address())
	}
	run(t, dial(t, srv), "defaults")
}

func TestFixedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	srv := start(t, Options{DBPath: filepath.Join(t.TempDir(), "dev.db"), Port: port})
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(port)); srv.Address() != want {
		t.Errorf("Address() = %q, want %q", srv.Address(), want)
	}
	dial(t, srv) // Dial checks the frontend's health
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	srv, err := Start(t.Context(), Options{
		DBPath: filepath.Join(t.TempDir(), "dev.db"),
		Port:   port,
		Logger: testLogger(t),
	})
	if err == nil {
		_ = srv.Stop()
		t.Fatalf("Start on a port in use succeeded")
	}
	t.Logf("Start on a port in use: %v", err)
}

func TestBadOptions(t *testing.T) {
	for _, opt := range []Options{
		{},
		{DBPath: "x.db", Host: "localhost"},
		{DBPath: "x.db?mode=memory"},
		{DBPath: "x.db", Port: 70000},
	} {
		if _, err := Start(t.Context(), opt); err == nil {
			t.Errorf("Start(%+v) succeeded, want error", opt)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	path := filepath.Join(t.TempDir(), "dev.db")
	if _, err := Start(ctx, Options{DBPath: path}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Start with a cancelled context touched %s: %v", path, err)
	}
}
