// Package activities holds zeroner's Temporal activities: thin adapters that
// read a stage's input from storage, call the pipeline, and write the stage's
// output back. Every output path is derived from (run, stage, shard) and every
// write is atomic, so a retried or repeated activity finds its output and
// returns at once.
package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/zeroner/zeroner/internal/metrics"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// Activities carries what the activities share: the store and the backends
// built so far, keyed by run. Register a *Activities with a worker.
type Activities struct {
	store   blob.Store
	log     *slog.Logger
	factory BackendFactory
	apiKey  string
	metrics metrics.Recorder

	mu       sync.Mutex
	backends map[string]pipeline.Backend // by run URI and backend spec

	// LLM clients by spec, apart from mu: backends are built under mu and
	// build their clients.
	clientsMu sync.Mutex
	clients   map[string]*llm.Client
}

// BackendFactory builds a backend for a schema.
type BackendFactory func(spec BackendSpec, s *pipeline.Schema) (pipeline.Backend, error)

// NewBackend builds the backends that need nothing but the schema: rules.
func NewBackend(spec BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
	switch spec.Name {
	case "", "rules":
		return rules.New(s), nil
	}
	return nil, fmt.Errorf("unknown backend %q", spec.Name)
}

// Options configure Activities.
type Options struct {
	// Factory builds backends; nil means the built-in ones.
	Factory BackendFactory
	// APIKey is the LLM API key, from the worker's environment.
	APIKey string
	// Metrics counts what the activities do; nil counts nothing.
	Metrics metrics.Recorder
}

// New returns the activities over a store.
func New(store blob.Store, log *slog.Logger, opt Options) *Activities {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Activities{store: safeStore{store}, log: log, factory: opt.Factory, apiKey: opt.APIKey, metrics: metrics.OrNop(opt.Metrics),
		backends: make(map[string]pipeline.Backend), clients: make(map[string]*llm.Client)}
	if a.factory == nil {
		a.factory = a.builtin
	}
	return a
}

// backend returns the run's backend, built once per run from the schema copy
// the plan stored in the run's folder.
func (a *Activities) backend(ctx context.Context, run Run, spec BackendSpec) (pipeline.Backend, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The spec is part of the key: a retry of a run may raise its limits.
	specJSON, _ := json.Marshal(spec)
	key := run.URI + "\x00" + string(specJSON)
	if b, ok := a.backends[key]; ok {
		return b, nil
	}
	s, err := a.schema(ctx, run)
	if err != nil {
		return nil, err
	}
	b, err := a.factory(spec, s)
	if err != nil {
		return nil, badInput(err)
	}
	a.backends[key] = b
	return b, nil
}

// schema reads the run's copy of the schema.
func (a *Activities) schema(ctx context.Context, run Run) (*pipeline.Schema, error) {
	data, err := blob.ReadAll(ctx, a.store, run.Schema())
	if err != nil {
		return nil, err
	}
	s, err := pipeline.ParseSchema(data)
	if err != nil {
		return nil, badInput(fmt.Errorf("schema %s: %w", run.Schema(), err))
	}
	return s, nil
}
