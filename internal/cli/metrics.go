package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/internal/metrics"
	"github.com/zeroner/zeroner/internal/metrics/prom"
)

// metricsFlags serve the metrics of a process's worker to Prometheus: the
// worker command's, and run --dev's in-process worker's.
type metricsFlags struct {
	addr string
	reg  *prom.Registry // set by start, when serving
	srv  *prom.Server
}

func (m *metricsFlags) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&m.addr, "metrics-addr", env.Getenv("ZERONER_METRICS_ADDR"),
		"serve the Prometheus metrics of this process's worker (run: with --dev) at http://`host:port`/metrics (env ZERONER_METRICS_ADDR); empty: none")
}

// start serves the metrics if an address is set, until stop.
func (m *metricsFlags) start(ctx context.Context, log *slog.Logger) (stop func(), err error) {
	if m.addr == "" {
		return func() {}, nil
	}
	reg := prom.New()
	srv, err := reg.Serve(ctx, m.addr, log)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	m.reg, m.srv = reg, srv
	log.Info("serving metrics", "url", "http://"+srv.Addr()+"/metrics")
	return func() { srv.Close() }, nil
}

// sdk is the Temporal client's metrics handler: nil (none) unless serving.
func (m *metricsFlags) sdk() client.MetricsHandler { return m.reg.SDK() }

// recorder is what the activities count into: nil (nothing) unless serving.
func (m *metricsFlags) recorder() metrics.Recorder {
	if m.reg == nil {
		return nil
	}
	return m.reg
}
