// Package wire is what the activities of every feature share: the
// dependencies a worker gives them (Deps: the output store, logs, metrics,
// the API key), the backends and encoders built from a run's settings, the
// bridges from the io packages to the pipeline's interfaces and tables, and
// the classification of errors for Temporal's retries.
package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/metrics"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// Deps are the activities' dependencies, shared by the activities of every
// feature: the store, the log, the metrics, and the backends built so far,
// keyed by run.
type Deps struct {
	// Store is the output and corpus store; its errors that retrying
	// cannot fix are non-retryable refusals (see safeStore).
	Store   runs.Store
	Log     *slog.Logger
	Metrics metrics.Recorder
	APIKey  string // the LLM and encoders' API key, from the worker's environment
	factory BackendFactory

	mu       sync.Mutex
	backends map[string]pipeline.Backend // by run URI and backend spec

	// LLM clients by spec, apart from mu: backends are built under mu and
	// build their clients.
	clientsMu sync.Mutex
	clients   map[string]*llm.Client
}

// BackendFactory builds a backend for a schema.
type BackendFactory func(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error)

// NewBackend builds the backends that need nothing but the schema: rules.
func NewBackend(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
	switch spec.Name {
	case "", "rules":
		return rules.New(s), nil
	}
	return nil, fmt.Errorf("unknown backend %q", spec.Name)
}

// Options configure Deps.
type Options struct {
	// Factory builds backends; nil means the built-in ones.
	Factory BackendFactory
	// APIKey is the LLM API key, from the worker's environment.
	APIKey string
	// Metrics counts what the activities do; nil counts nothing.
	Metrics metrics.Recorder
}

// New returns the dependencies over a store.
func New(store blob.Store, log *slog.Logger, opt Options) *Deps {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Deps{Store: runs.Store{Store: safeStore{store}}, Log: log, factory: opt.Factory, APIKey: opt.APIKey,
		Metrics: metrics.OrNop(opt.Metrics), backends: make(map[string]pipeline.Backend), clients: make(map[string]*llm.Client)}
	if d.factory == nil {
		d.factory = d.builtin
	}
	return d
}

// BuildBackend builds a backend for spec and a schema, as the run's
// backend will be; Plan calls it to refuse a spec that cannot work.
func (d *Deps) BuildBackend(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
	return d.factory(spec, s)
}

// Backend returns the run's backend, built once per run from the schema copy
// the plan stored in the run's folder.
func (d *Deps) Backend(ctx context.Context, run activities.Run, spec activities.BackendSpec) (pipeline.Backend, error) {
	// The spec is part of the key: a retry of a run may raise its limits.
	specJSON, _ := json.Marshal(spec)
	return d.Cached(run.URI+"\x00"+string(specJSON), func() (pipeline.Backend, error) {
		s, err := d.Schema(ctx, run)
		if err != nil {
			return nil, err
		}
		b, err := d.factory(spec, s)
		if err != nil {
			return nil, activities.BadInput(err)
		}
		return b, nil
	})
}

// Cached returns the backend cached under key, built by build on first use
// and kept for the worker's life (a run's shards share it).
func (d *Deps) Cached(key string, build func() (pipeline.Backend, error)) (pipeline.Backend, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b, ok := d.backends[key]; ok {
		return b, nil
	}
	b, err := build()
	if err != nil {
		return nil, err
	}
	d.backends[key] = b
	return b, nil
}

// Schema reads the run's copy of the schema.
func (d *Deps) Schema(ctx context.Context, run activities.Run) (*pipeline.Schema, error) {
	data, err := blob.ReadAll(ctx, d.Store, runs.Dir(run).Schema())
	if err != nil {
		return nil, err
	}
	s, err := pipeline.ParseSchema(data)
	if err != nil {
		return nil, activities.BadInput(fmt.Errorf("schema %s: %w", runs.Dir(run).Schema(), err))
	}
	return s, nil
}
