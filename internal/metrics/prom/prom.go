// Package prom serves a worker's metrics to Prometheus: zeroner's own
// counters (metrics.Recorder), the Temporal SDK's metrics
// (client.MetricsHandler) and the Go runtime's, from one registry of its
// own (never Prometheus's global one).
package prom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/internal/metrics"
	"github.com/zeroner/zeroner/pipeline"
)

// Registry is a worker's metrics. Its methods are safe for concurrent use,
// and a nil *Registry records nothing.
type Registry struct {
	reg *prometheus.Registry
	sdk *sdkMetrics

	shards, rejects                               prometheus.Counter
	docs, mentions, failures, errs                *prometheus.CounterVec
	requests, hits, prompt, completion, cachedTok *prometheus.CounterVec
}

var _ metrics.Recorder = (*Registry)(nil)

// New returns a registry with zeroner's counters, the SDK's metrics and the
// Go runtime and process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), sdk: newSDKMetrics()}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	byStage := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"stage"})
	}
	r.shards = counter("zeroner_shards_total", "Shards the shard stage wrote.")
	r.rejects = counter("zeroner_rejects_total", "Corpus objects or lines that could not be read.")
	r.docs = byStage("zeroner_documents_total", "Documents a stage annotated (stage=shard: documents cut into shards).")
	r.mentions = byStage("zeroner_mentions_total", "Mentions a stage wrote.")
	r.failures = byStage("zeroner_stage_failures_total", "Documents or chunks a stage could not process (its failures table).")
	r.errs = byStage("zeroner_stage_errors_total", "Stage attempts that returned an error; Temporal retries them.")
	r.requests = byStage("zeroner_llm_requests_total", "Requests sent to the LLM server.")
	r.hits = byStage("zeroner_llm_cache_hits_total", "LLM answers taken from the response cache.")
	r.prompt = byStage("zeroner_llm_prompt_tokens_total", "Prompt tokens the LLM server billed.")
	r.completion = byStage("zeroner_llm_completion_tokens_total", "Completion tokens the LLM server billed.")
	r.cachedTok = byStage("zeroner_llm_cached_tokens_total", "Prompt tokens the LLM server reported as cached.")
	r.reg.MustRegister(r.shards, r.rejects, r.docs, r.mentions, r.failures, r.errs,
		r.requests, r.hits, r.prompt, r.completion, r.cachedTok, r.sdk,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// SDK returns the handler to set as client.Options.MetricsHandler; nil
// (the SDK's default, no metrics) for a nil registry.
func (r *Registry) SDK() client.MetricsHandler {
	if r == nil {
		return nil
	}
	return sdkHandler{m: r.sdk}
}

// Sharded implements metrics.Recorder.
func (r *Registry) Sharded(shards int, docs, rejects int64) {
	if r == nil {
		return
	}
	r.shards.Add(float64(shards))
	r.docs.WithLabelValues("shard").Add(float64(docs))
	r.rejects.Add(float64(rejects))
}

// Stage implements metrics.Recorder.
func (r *Registry) Stage(stage string, docs, mentions, failures int, u pipeline.Usage) {
	if r == nil {
		return
	}
	r.docs.WithLabelValues(stage).Add(float64(docs))
	r.mentions.WithLabelValues(stage).Add(float64(mentions))
	r.failures.WithLabelValues(stage).Add(float64(failures))
	// The rules backend uses no model: leave its stages out of the LLM
	// counters rather than export series that stay at zero.
	if u == (pipeline.Usage{}) {
		return
	}
	r.requests.WithLabelValues(stage).Add(float64(u.Requests))
	r.hits.WithLabelValues(stage).Add(float64(u.CacheHits))
	r.prompt.WithLabelValues(stage).Add(float64(u.PromptTokens))
	r.completion.WithLabelValues(stage).Add(float64(u.CompletionTokens))
	r.cachedTok.WithLabelValues(stage).Add(float64(u.CachedTokens))
}

// StageError implements metrics.Recorder.
func (r *Registry) StageError(stage string) {
	if r == nil {
		return
	}
	r.errs.WithLabelValues(stage).Inc()
}

// Handler serves the registry in Prometheus's text format. A metric that
// fails to collect is left out and the rest still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Server serves a registry over HTTP.
type Server struct {
	srv  *http.Server
	addr string
}

// Serve serves the registry at /metrics on addr (host:port; port 0 picks a
// free port) until Close. Errors after the listener is up are logged.
func (r *Registry) Serve(ctx context.Context, addr string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, addr: ln.Addr().String()}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "addr", s.addr, "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// Close stops the server, letting a scrape in progress finish.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
