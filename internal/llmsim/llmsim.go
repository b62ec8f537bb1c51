// Package llmsim is an OpenAI-compatible test server for zeroner. It is a
// test double, not a model: it answers zeroner's SAM-NER requests (anchor
// and explorer discovery, mediation, calibration, the label -> archetype
// map) deterministically from gold BIO files, with seeded noise, latency,
// limited capacity and injected faults, so that tests and benchmarks can
// exercise the pipeline and its LLM client without a model.
//
// Endpoints: POST /v1/chat/completions (JSON or server-sent events),
// POST /v1/embeddings (deterministic unit vectors from a hash of the input),
// POST /v1/activations (sparse latents per token, see activations.go),
// GET /v1/models, and GET /stats (the counters as JSON).
// POST /v1/hidden_states answers deterministic unit vectors for spans, in
// place of an LLM's hidden states (see hidden.go).
//
// # Answers
//
// A request's kind comes from its response_format JSON schema name
// ("zeroner_anchor", ...) or the "[zeroner:KIND]" marker that starts its
// system message; its input is the line of JSON that ends the user message
// (see package pipeline/sam). Each passage of the input is matched to the
// gold sentences it holds: whole, several joined by white space, or the
// fragments of a sentence that a chunk boundary cut (a gold entity counts
// when it lies wholly in the passage).
//
// The answers are in zeroner's wire format of prompt version 2, keys in
// its order. With no noise they reproduce the gold data. The anchor
// reports the gold mentions of each passage as a flat list of entities,
// {"text", "label"}, or {"text", "occurrence", "label"} when the string
// occurs more than once in the passage (k-th word-boundary occurrence,
// from 1); a label the request does not allow becomes misc, or its first
// label. The explorer reports the same mentions as strings, or as {"text",
// "occurrence"}. Mediation answers {"id", "text", "archetype"}: the text
// echoes the mention, the archetype is one compatible with the gold label
// (the first of the label's archetypes, below). Calibration answers {"id",
// "text", "label"}: the gold label when it is allowed, else the fallback.
// In narrowed mode (a mention with "candidates") the candidates are
// allowed and the last of them is the fallback (zeroner lists it last). In
// whole-schema mode (no candidates) the labels of the enum for "label" in
// the request's JSON schema are allowed, or without one the labels of
// Options.Schemas and of the gold data; the fallback is that of a schema
// in Options.Schemas that holds every allowed label, else misc, else the
// last label of the enum. The "likely" labels of a mention only steer
// label noise. A mention that is not gold is misc and gets the fallback.
//
// The label -> archetype map is the Archetypes of the label in the schemas
// given (Options.Schemas), else a fixed rule on the label's name (see
// labelArchetypes: "researcher" is person, "university" organization,
// "musicgenre" misc, ...), else misc.
//
// # Noise
//
// Noise is seeded by Options.Seed and what it is about (the passage text,
// the mention), so a request answers the same whatever else it is packed
// with: an extractor misses a gold mention (AnchorMiss, ExplorerMiss),
// moves one of its boundaries by a token (Boundary), or proposes an
// ordinary lower-case word that is no entity (AnchorSpurious,
// ExplorerSpurious, per eligible word); mediation picks another archetype
// (Archetype), calibration another allowed label (Label; in whole-schema
// mode one of the mention's "likely" labels when it has another), with low
// log probabilities on that label's tokens.
//
// # Small models
//
// Options.Small (a SmallModel; SmallModelPreset turns everything on) makes
// the answers look like a small (7-8B) open model's: indented by two
// spaces (Indent); cut at the request's max_tokens, or
// max_completion_tokens, with finish reason "length" (MaxTokens); with
// each object's keys in the order the request's JSON schema lists its
// properties, read in order with encoding/json's Decoder.Token, through
// "items" and "anyOf" (SchemaOrder). And with slips that a strict
// structured-output server would not let through: a calibration label
// that is not allowed (OffLabel: in narrowed mode a schema label outside
// the candidates, in whole-schema mode no label at all, the mention's
// archetype); an item (a mediated or calibrated mention, a discovered
// passage) written twice with the same id, the second time with another
// decision (RepeatID); ids that drift by one from a seeded point in a
// mentions list longer than LoseCount, the last item sometimes left out;
// an extra mention "" or with occurrence 0 in a discovered passage
// (EmptyMention). Slips are drawn per item and seeded by the whole
// conversation, not by the item alone as noise is: a request answers the
// same every time, but a follow-up that asks again for some of its items,
// or a re-ask, is answered independently. Stats.SmallModel counts the
// slips and the answers cut at max_tokens by kind (SmallOffLabel, ...).
//
// # Service
//
// Latency is TTFT plus PerToken per completion token. At most MaxConcurrent
// requests are served at once; others wait, or with Reject get 429 with
// Retry-After. Faults are drawn per attempt (the n-th time the same request
// body arrives), so a retry can succeed: 429 with Retry-After, 500, a
// timeout (the request is held until the client gives up, Hang passes or
// the server closes, then 504), malformed JSON, truncated JSON (finish
// reason "length"). Every answer carries usage: prompt and completion
// tokens estimated as bytes/4, and as cached the system message's tokens
// when the same system message was seen before.
//
// # Batches
//
// The Files and Batch APIs (POST /v1/files, GET /v1/files/{id} and its
// /content, POST and GET /v1/batches, GET /v1/batches/{id}, POST
// /v1/batches/{id}/cancel; see batch.go) serve batches of chat completions.
// Files are kept in memory. A batch does its work lazily, with no goroutine:
// it is "validating", then "in_progress" (or "failed" when a line of its
// input is invalid) until BatchDelay has passed since its creation by the
// server's clock (Options.Now); the first look after that answers every
// request as POST /v1/chat/completions would, without latency, capacity
// limits or online faults, and writes the output and error files. Faults
// are drawn per submission of the same input content: a request fails with
// 500 (BatchItemFail), or the batch expires (BatchExpire) with the first
// half of its requests answered and the rest batch_expired.
package llmsim

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeroner/zeroner/pipeline"
)

// Options configure a Server.
type Options struct {
	// Gold are BIO files (token<TAB>tag or tag<TAB>token, detected) whose
	// sentences the server knows.
	Gold []string
	// Schemas pin label archetypes (Label.Archetypes) for the label map and
	// mediation.
	Schemas []*pipeline.Schema
	// Seed seeds noise and faults.
	Seed uint64
	// Noise makes answers differ from the gold data.
	Noise Noise
	// Small makes answers look like a small open model's (see SmallModel
	// and SmallModelPreset).
	Small SmallModel

	// TTFT is the time to the first token; PerToken the time per
	// completion token.
	TTFT, PerToken time.Duration
	// MaxConcurrent caps requests served at once (0: no cap). Beyond it a
	// request waits for a slot, or with Reject gets 429 and RetryAfter.
	MaxConcurrent int
	Reject        bool
	// RetryAfter is the Retry-After of 429 answers, in seconds with a
	// fraction if it has one. Default 1s.
	RetryAfter time.Duration
	// Faults are injected per attempt with these probabilities.
	Faults Faults
	// Hang is how long a timeout fault holds a request at most. Default 60s.
	Hang time.Duration
	// NoPromptCache counts no cached tokens. The prompt cache it turns off
	// depends on the order concurrent requests arrive in, so usage figures
	// with it are not reproducible to the token.
	NoPromptCache bool

	// EmbedDim is the embedding dimension when a request does not ask for
	// one. Default 256.
	EmbedDim int
	// Models are the model names listed by /v1/models. Default "llmsim".
	Models []string

	// BatchDelay is how long a batch stays in progress after its creation.
	BatchDelay time.Duration
	// BatchItemFail is the probability that a batch request is answered
	// with 500 (in the error file), drawn per request and submission.
	BatchItemFail float64
	// BatchExpire is the probability that a batch expires, drawn per
	// submission of the same input content.
	BatchExpire float64
	// Now is the server's clock for batches and files. Default time.Now.
	Now func() time.Time
}

// Noise rates, each a probability in [0, 1].
type Noise struct {
	AnchorMiss, ExplorerMiss         float64 // per gold mention
	AnchorSpurious, ExplorerSpurious float64 // per ordinary lower-case word
	Boundary                         float64 // per reported gold mention
	Archetype                        float64 // per mediated mention
	Label                            float64 // per calibrated mention
}

// Faults are probabilities per attempt; their sum is at most 1.
type Faults struct {
	RateLimit   float64 // 429 with Retry-After
	ServerError float64 // 500
	Timeout     float64 // held, then 504
	Malformed   float64 // 200 with content that is not JSON
	Truncated   float64 // 200 with JSON cut short, finish reason "length"
}

// Stats are the server's counters.
type Stats struct {
	Requests         int64            `json:"requests"` // chat completions
	ByKind           map[string]int64 `json:"by_kind"`
	Faults           map[string]int64 `json:"faults"`      // injected, by kind of fault
	SmallModel       map[string]int64 `json:"small_model"` // small-model faults injected, by kind (SmallOffLabel, ...)
	Rejected         int64            `json:"rejected"`
	InFlight         int64            `json:"in_flight"`
	MaxInFlight      int64            `json:"max_in_flight"`
	Embeddings       int64            `json:"embeddings"` // embedding requests
	PromptTokens     int64            `json:"prompt_tokens"`
	CompletionTokens int64            `json:"completion_tokens"`
	CachedTokens     int64            `json:"cached_tokens"`
	Batch            BatchStats       `json:"batch"` // the Files and Batch APIs
}

// Server is the test server, an http.Handler.
type Server struct {
	opt    Options
	gold   *gold
	pins   map[string][]pipeline.Archetype
	labels []string // of the schemas and the gold data, sorted
	mux    *http.ServeMux
	sem    chan struct{} // nil without a cap

	done      chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	attempts map[[32]byte]int  // request body -> times seen
	systems  map[[32]byte]bool // system messages seen, for cached tokens
	stats    Stats
	inFlight atomic.Int64

	acts actIndex // for /v1/activations, built on first use
}

// New loads the gold files and returns a server.
func New(opt Options) (*Server, error) {
	if err := opt.check(); err != nil {
		return nil, fmt.Errorf("llmsim: %w", err)
	}
	if opt.RetryAfter <= 0 {
		opt.RetryAfter = time.Second
	}
	if opt.Hang <= 0 {
		opt.Hang = time.Minute
	}
	if opt.EmbedDim == 0 {
		opt.EmbedDim = 256
	}
	if len(opt.Models) == 0 {
		opt.Models = []string{"llmsim"}
	}
	s := &Server{
		opt:      opt,
		gold:     newGold(),
		pins:     make(map[string][]pipeline.Archetype),
		done:     make(chan struct{}),
		attempts: make(map[[32]byte]int),
		systems:  make(map[[32]byte]bool),
		stats:    Stats{ByKind: map[string]int64{}, Faults: map[string]int64{}, SmallModel: map[string]int64{}},
	}
	for _, p := range opt.Gold {
		if err := s.gold.load(p); err != nil {
			return nil, fmt.Errorf("llmsim: %w", err)
		}
	}
	for _, sc := range opt.Schemas {
		for _, l := range sc.Labels {
			if _, ok := s.pins[l.Name]; !ok && len(l.Archetypes) > 0 {
				s.pins[l.Name] = l.Archetypes
			}
			s.labels = append(s.labels, l.Name)
		}
	}
	for _, st := range s.gold.sents {
		for _, e := range st.ents {
			s.labels = append(s.labels, e.label)
		}
	}
	slices.Sort(s.labels)
	s.labels = slices.Compact(s.labels)
	if opt.MaxConcurrent > 0 {
		s.sem = make(chan struct{}, opt.MaxConcurrent)
	}
	s.routes()
	return s, nil
}

// routes serves the OpenAI-compatible endpoints, the Files and Batch APIs,
// and the stats.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	s.mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	s.mux.HandleFunc("POST /v1/activations", s.activations)
	s.mux.HandleFunc("POST /v1/hidden_states", s.hiddenStates)
	s.mux.HandleFunc("GET /v1/models", s.models)
	b := newBatchAPI(s)
	s.mux.HandleFunc("POST /v1/files", b.upload)
	s.mux.HandleFunc("GET /v1/files", b.listFiles)
	s.mux.HandleFunc("GET /v1/files/{id}", b.getFile)
	s.mux.HandleFunc("DELETE /v1/files/{id}", b.deleteFile)
	s.mux.HandleFunc("GET /v1/files/{id}/content", b.fileContent)
	s.mux.HandleFunc("POST /v1/batches", b.create)
	s.mux.HandleFunc("GET /v1/batches", b.list)
	s.mux.HandleFunc("GET /v1/batches/{id}", b.retrieve)
	s.mux.HandleFunc("POST /v1/batches/{id}/cancel", b.cancel)
	s.mux.HandleFunc("GET /stats", s.statsHandler)
}

// check reports the options that are out of range.
func (opt Options) check() error {
	var errs []error
	rate := func(name string, v float64) {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s %v is not in [0, 1]", name, v))
		}
	}
	n := opt.Noise
	for name, v := range map[string]float64{"anchor miss": n.AnchorMiss, "explorer miss": n.ExplorerMiss,
		"anchor spurious": n.AnchorSpurious, "explorer spurious": n.ExplorerSpurious, "boundary": n.Boundary,
		"archetype noise": n.Archetype, "label noise": n.Label} {
		rate(name, v)
	}
	sm := opt.Small
	for name, v := range map[string]float64{"off-label rate": sm.OffLabel, "repeated id rate": sm.RepeatID,
		"empty mention rate": sm.EmptyMention} {
		rate(name, v)
	}
	if sm.LoseCount < 0 {
		errs = append(errs, fmt.Errorf("lose-count length %d is negative", sm.LoseCount))
	}
	f := opt.Faults
	for name, v := range map[string]float64{"429 rate": f.RateLimit, "500 rate": f.ServerError,
		"timeout rate": f.Timeout, "malformed rate": f.Malformed, "truncated rate": f.Truncated} {
		rate(name, v)
	}
	rate("batch item fail rate", opt.BatchItemFail)
	rate("batch expire rate", opt.BatchExpire)
	if sum := f.RateLimit + f.ServerError + f.Timeout + f.Malformed + f.Truncated; sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("fault rates sum to %v > 1", sum))
	}
	if opt.MaxConcurrent < 0 || opt.EmbedDim < 0 || opt.TTFT < 0 || opt.PerToken < 0 || opt.BatchDelay < 0 {
		errs = append(errs, errors.New("negative capacity, dimension, latency or batch delay"))
	}
	return errors.Join(errs...)
}

// Sentences returns the number of gold sentences known.
func (s *Server) Sentences() int { return len(s.gold.sents) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close releases requests held by timeout faults or waiting for capacity,
// so an http.Server in front can shut down.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.done) }) }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByKind = maps.Clone(s.stats.ByKind)
	st.Faults = maps.Clone(s.stats.Faults)
	st.SmallModel = maps.Clone(s.stats.SmallModel)
	st.InFlight = s.inFlight.Load()
	return st
}

func (s *Server) count(f func(st *Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// countSmall adds small-model faults to the counters.
func (s *Server) countSmall(faults map[string]int64) {
	if len(faults) == 0 {
		return
	}
	s.count(func(st *Stats) {
		for k, v := range faults {
			st.SmallModel[k] += v
		}
	})
}
