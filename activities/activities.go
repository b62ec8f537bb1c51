// Package activities holds zeroner's Temporal activities: thin adapters that
// read a stage's input from storage, call the pipeline, and write the stage's
// output back. Every output path is derived from (run, stage, shard) and every
// write is atomic, so a retried or repeated activity finds its output and
// returns at once.
package activities

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// Config is a job's configuration. It crosses workflow boundaries, so it holds
// URIs and settings only, never data or secrets.
type Config struct {
	Job       string         `json:"job"`
	Corpus    string         `json:"corpus"`  // URI prefix of the corpus objects
	Output    string         `json:"output"`  // URI prefix the job writes under
	Schema    string         `json:"schema"`  // URI of the schema file
	Backend   string         `json:"backend"` // "rules"
	Reader    corpus.Options `json:"reader"`
	ShardSize int            `json:"shard_size"` // documents per shard
	Window    int            `json:"window"`     // shards annotated at once
}

// Version is part of every run's identity: bump it when a change to the code
// must invalidate earlier outputs.
const Version = "1"

// Activities carries what the activities share: the store and the backends
// built so far, keyed by run. Register a *Activities with a worker.
type Activities struct {
	store   blob.Store
	log     *slog.Logger
	factory BackendFactory

	mu       sync.Mutex
	backends map[string]pipeline.Backend // by run URI
}

// BackendFactory builds the named backend for a schema.
type BackendFactory func(name string, s *pipeline.Schema) (pipeline.Backend, error)

// NewBackend is the default BackendFactory: the built-in backends.
func NewBackend(name string, s *pipeline.Schema) (pipeline.Backend, error) {
	switch name {
	case "", "rules":
		return rules.New(s), nil
	}
	return nil, fmt.Errorf("unknown backend %q", name)
}

// New returns the activities over a store. A nil factory means NewBackend.
func New(store blob.Store, log *slog.Logger, factory BackendFactory) *Activities {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if factory == nil {
		factory = NewBackend
	}
	return &Activities{store: store, log: log, factory: factory, backends: make(map[string]pipeline.Backend)}
}

// backend returns the run's backend, built once per run from the schema copy
// the plan stored in the run's folder.
func (a *Activities) backend(ctx context.Context, run Run, name string) (pipeline.Backend, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b, ok := a.backends[run.URI]; ok {
		return b, nil
	}
	data, err := blob.ReadAll(ctx, a.store, run.Schema())
	if err != nil {
		return nil, err
	}
	s, err := pipeline.ParseSchema(data)
	if err != nil {
		return nil, badInput(fmt.Errorf("schema %s: %w", run.Schema(), err))
	}
	b, err := a.factory(name, s)
	if err != nil {
		return nil, badInput(err)
	}
	a.backends[run.URI] = b
	return b, nil
}
