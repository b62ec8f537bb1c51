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
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// Config is a job's configuration. It crosses workflow boundaries, so it holds
// URIs and settings only, never data or secrets.
type Config struct {
	Job       string         `json:"job"`
	Corpus    string         `json:"corpus"` // URI prefix of the corpus objects
	Output    string         `json:"output"` // URI prefix the job writes under
	Schema    string         `json:"schema"` // URI of the schema file
	Backend   BackendSpec    `json:"backend"`
	Reader    corpus.Options `json:"reader"`
	ShardSize int            `json:"shard_size"` // documents per shard
	Window    int            `json:"window"`     // shards annotated at once
	// Prefixes, when set, are all the prefixes to read (a backfill over
	// several prefixes or dates); Corpus is then the first.
	Prefixes []string `json:"prefixes,omitempty"`
	// Full annotates every object, not only those new or changed since
	// the job's last completed run.
	Full bool `json:"full,omitempty"`
	// MaxTokens is the run's ceiling on model tokens (prompt and
	// completion); 0 is none. Reaching it stops the job at a shard
	// boundary without finishing the run. It is not part of the run's
	// identity, so a later job with a higher ceiling resumes the run.
	MaxTokens int64 `json:"max_tokens,omitempty"`
	// RetryFailed re-runs the failed chunks of the job's last completed
	// run instead of planning a new run (see Activities.Reopen).
	RetryFailed bool `json:"retry_failed,omitempty"`
	// Tried lists the runs this job execution reopened already: Plan does
	// not reopen them again, so a failure that persists ends the job.
	Tried []string `json:"tried,omitempty"`
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
	apiKey  string
	metrics metrics.Recorder

	mu       sync.Mutex
	backends map[string]pipeline.Backend // by run URI and backend spec

	// LLM clients by spec, apart from mu: backends are built under mu and
	// build their clients.
	clientsMu sync.Mutex
	clients   map[string]*llm.Client
}

// BackendSpec says which backend annotates a run and how it reaches its
// model. It crosses workflow boundaries and lands in run.json, so it holds
// no secret: workers read the API key from their own environment.
type BackendSpec struct {
	Name  string    `json:"name"` // "rules", or "sam" for SAM-NER over an LLM
	LLM   LLMConfig `json:"llm"`
	Cache string    `json:"cache,omitempty"` // URI prefix of the LLM response cache
	// Batch, when its Mode is set, sends the model's requests through a
	// batch provider instead of online (see batch.go).
	Batch BatchConfig `json:"batch,omitzero"`
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
