package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zeroner/zeroner/internal/metrics"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/httpapi"
	"github.com/zeroner/zeroner/workflows"
)

// dial makes a command's logger and connects to Temporal with it: the SDK
// logs through it, as zeroner does.
func dial(ctx context.Context, c connFlags, logs logFlags, stderr io.Writer) (client.Client, *slog.Logger, error) {
	log, err := logs.logger(stderr)
	if err != nil {
		return nil, nil, err
	}
	cl, err := dialWith(ctx, c, log, nil)
	return cl, log, err
}

// dialWith is dial with a handler for the SDK's metrics (nil: none).
func dialWith(ctx context.Context, c connFlags, log *slog.Logger, mh client.MetricsHandler) (client.Client, error) {
	opts, err := c.clientOptions()
	if err != nil {
		return nil, err
	}
	opts.Logger = sdklog.NewStructuredLogger(log)
	opts.MetricsHandler = mh
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		// Redacted in case a server or proxy echoes the key back.
		return nil, httpapi.Redact(fmt.Errorf("connect to Temporal at %s (%s): %w", c.address, c.security(), err), c.apiKey.value())
	}
	return cl, nil
}

// newWorker returns a worker on queue with every workflow and activity
// registered, its activities counting into rec (nil: nothing). The stages
// are CPU-bound with the rules backend, so activity concurrency follows the
// cores unless set.
func newWorker(cl client.Client, queue string, store blob.Store, log *slog.Logger, activitySlots int, env Env, rec metrics.Recorder) worker.Worker {
	if activitySlots <= 0 {
		activitySlots = 2 * runtime.NumCPU()
	}
	w := worker.New(cl, queue, worker.Options{
		MaxConcurrentActivityExecutionSize: activitySlots,
		// On SIGTERM, let running activities finish (a stage takes seconds)
		// rather than cancel them and leave their work to a retry.
		WorkerStopTimeout: 30 * time.Second,
	})
	workflows.Register(w)
	registry.Register(w, wire.New(store, log, wire.Options{APIKey: env.Getenv("OPENAI_API_KEY"), Metrics: rec}))
	return w
}

// defaultIdentity names a worker as the SDK would, pid@host, so that the
// worker can log it.
func defaultIdentity() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}

func workerCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("worker", `Usage: worker [flags]

Runs a zeroner worker: polls the task queue for zeroner's workflows and
activities until interrupted (SIGINT or SIGTERM), then finishes the tasks it
holds and exits. Start as many as you like, on as many machines: all that
poll one task queue share the work (docs/DEPLOY.md).`, env)
	var (
		conn  connFlags
		logs  logFlags
		mets  metricsFlags
		gcs   string
		slots int
	)
	conn.register(fs, env)
	logs.register(fs, env)
	mets.register(fs, env)
	fs.StringVar(&gcs, "gcs-endpoint", env.Getenv("ZERONER_GCS_ENDPOINT"), gcsHelp)
	fs.IntVar(&slots, "activities", 0, "activities run at once (0: twice the cores)")
	fs.StringVar(&conn.identity, "identity", "", "the worker's `name` in the job's workflow histories (default pid@host, as the SDK names it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logs.logger(env.Stderr)
	if err != nil {
		return err
	}
	if conn.identity == "" {
		conn.identity = defaultIdentity()
	}
	// A wrong connection option is named before storage is opened.
	if _, err := conn.clientOptions(); err != nil {
		return err
	}
	store, err := openStore(ctx, gcs)
	if err != nil {
		return err
	}
	stopMetrics, err := mets.start(ctx, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	cl, err := dialWith(ctx, conn, log, mets.sdk())
	if err != nil {
		return err
	}
	defer cl.Close()
	w := newWorker(cl, conn.taskQueue, store, log, slots, env, mets.recorder())
	log.Info("worker started", "address", conn.address, "namespace", conn.namespace, "task_queue", conn.taskQueue,
		"security", conn.security(), "identity", conn.identity)
	stop := make(chan interface{})
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	if err := w.Run(stop); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}
