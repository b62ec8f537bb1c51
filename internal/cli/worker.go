package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zeroner/zeroner/internal/metrics"
	"github.com/zeroner/zeroner/io/blob"
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
	cl, err := client.DialContext(ctx, client.Options{
		HostPort:       c.address,
		Namespace:      c.namespace,
		Logger:         sdklog.NewStructuredLogger(log),
		MetricsHandler: mh,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", c.address, err)
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

func workerCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("worker", `Usage: worker [flags]

Runs a zeroner worker: polls the task queue for zeroner's workflows and
activities until interrupted (SIGINT or SIGTERM), then finishes the tasks it
holds and exits. Start as many as you like, on as many machines.`, env)
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logs.logger(env.Stderr)
	if err != nil {
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
	log.Info("worker started", "address", conn.address, "namespace", conn.namespace, "task_queue", conn.taskQueue)
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
