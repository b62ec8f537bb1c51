package embed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/zeroner/zeroner/io/httpapi"
)

// DefaultOpenAIBaseURL is OpenAIConfig.BaseURL when empty.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// OpenAIConfig configures an OpenAI encoder. Zero values mean the defaults.
type OpenAIConfig struct {
	// BaseURL is the server's root (http://host:8000) or its API root
	// (http://host:8000/v1): a bare root gets /v1, any other path is used
	// as given. Empty means OpenAI.
	BaseURL string
	// APIKey is sent as a bearer token; empty for servers without
	// authentication. It never appears in Name, String, logs or errors.
	APIKey string
	// Model is the embedding model (required).
	Model string
	// Dimensions, when set, is sent as "dimensions" (for models that can
	// shorten their vectors, as text-embedding-3-*) and is the width
	// expected. 0 sends none: NewOpenAI learns the width from one request.
	Dimensions int
	// Window is the context kept each side of a mention, in code points
	// (0: default 200; negative: the whole text).
	Window int
	// QueryTemplate, if set, is what a type description becomes: "{}" in
	// it is replaced by the description, as in "Instruct: Given an entity
	// type, retrieve its mentions\nQuery: {}".
	QueryTemplate string
	// Batch is inputs per request (default 64).
	Batch int
	// MaxConcurrent bounds requests in flight (default 4).
	MaxConcurrent int
	// Timeout bounds each HTTP request (default 2m).
	Timeout time.Duration
	Retry
}

// String describes c with the API key and any URL password redacted.
func (c OpenAIConfig) String() string { return httpapi.Describe(c) }

// GoString keeps %#v from printing the key.
func (c OpenAIConfig) GoString() string { return c.String() }

// LogValue logs c with the API key and any URL password redacted.
func (c OpenAIConfig) LogValue() slog.Value { return httpapi.LogValue(c) }

func (c OpenAIConfig) withDefaults() (OpenAIConfig, error) {
	base, err := httpapi.APIRoot(c.BaseURL, DefaultOpenAIBaseURL)
	if err != nil {
		return c, err
	}
	c.BaseURL = base
	if c.Model == "" {
		return c, errors.New("no model")
	}
	if c.Dimensions < 0 || c.Batch < 0 || c.MaxConcurrent < 0 || c.Timeout < 0 {
		return c, errors.New("negative dimensions, batch, concurrency or timeout")
	}
	if c.QueryTemplate != "" && !strings.Contains(c.QueryTemplate, "{}") {
		return c, fmt.Errorf("query template %q has no {}", c.QueryTemplate)
	}
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.Batch = cmp.Or(c.Batch, DefaultOpenAIBatch)
	c.MaxConcurrent = cmp.Or(c.MaxConcurrent, DefaultMaxConcurrent)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.Retry, err = c.Retry.withDefaults()
	return c, err
}

// OpenAI is an encoder over an OpenAI-compatible embeddings
// endpoint. It is safe for concurrent use; MaxConcurrent holds across
// all its callers.
type OpenAI struct {
	cfg  OpenAIConfig
	base string // BaseURL for messages, password redacted
	dim  int
	api  *openai.Client
	lim  limiter
}

// NewOpenAI returns an encoder for cfg. Without cfg.Dimensions it embeds
// one probe text to learn the model's width.
func NewOpenAI(ctx context.Context, cfg OpenAIConfig) (*OpenAI, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, httpapi.Redact(fmt.Errorf("embed openai: %w", err), cfg.APIKey)
	}
	oc := openai.DefaultConfig(c.APIKey)
	oc.BaseURL = c.BaseURL
	oc.HTTPClient = &http.Client{Transport: httpapi.Transport(c.MaxConcurrent), Timeout: c.Timeout}
	e := &OpenAI{
		cfg:  c,
		base: httpapi.RedactURL(c.BaseURL),
		dim:  c.Dimensions,
		api:  openai.NewClientWithConfig(oc),
		lim:  make(limiter, c.MaxConcurrent),
	}
	if e.dim == 0 {
		vs, err := e.batch(ctx, []string{"dimension probe"}, 0)
		if err != nil {
			return nil, e.errorf("probe the width: %w", err)
		}
		e.dim = len(vs[0])
	}
	return e, nil
}

// Name is "openai:MODEL:dDIM:wWINDOW:m1:qHASH": the model, the width, the
// context window ("wall" for whole texts), the marking's version and a
// hash of the query template ("q0" without one).
func (e *OpenAI) Name() string {
	w := "all"
	if e.cfg.Window > 0 {
		w = strconv.Itoa(e.cfg.Window)
	}
	q := "0"
	if e.cfg.QueryTemplate != "" {
		q = shortHash(e.cfg.QueryTemplate)
	}
	return fmt.Sprintf("openai:%s:d%d:w%s:%s:q%s", e.cfg.Model, e.dim, w, markVersion, q)
}

// Dim is the vectors' width.
func (e *OpenAI) Dim() int { return e.dim }

// Mentions embeds each mention marked in its context window.
func (e *OpenAI) Mentions(ctx context.Context, ms []Mention) ([][]float32, error) {
	ins := make([]string, len(ms))
	for i, m := range ms {
		if _, err := checkMention(m); err != nil {
			return nil, e.errorf("mention %d: %w", i, err)
		}
		ins[i] = Mark(window(m, e.cfg.Window))
	}
	return e.embed(ctx, ins)
}

// Queries embeds each type description, trimmed, through the query
// template if there is one.
func (e *OpenAI) Queries(ctx context.Context, descs []string) ([][]float32, error) {
	ins, empty := trimQueries(descs)
	if empty >= 0 {
		return nil, e.errorf("query %d is empty", empty)
	}
	if e.cfg.QueryTemplate != "" {
		for i, d := range ins {
			ins[i] = strings.ReplaceAll(e.cfg.QueryTemplate, "{}", d)
		}
	}
	return e.embed(ctx, ins)
}

// embed embeds ins, each distinct text once, in batches sent in parallel.
func (e *OpenAI) embed(ctx context.Context, ins []string) ([][]float32, error) {
	distinct, at := unique(ins)
	vecs := make([][]float32, len(distinct))
	b := e.cfg.Batch
	n := (len(distinct) + b - 1) / b
	err := parallel(ctx, e.lim, n, func(ctx context.Context, k int) error {
		lo, hi := k*b, min((k+1)*b, len(distinct))
		vs, err := e.batch(ctx, distinct[lo:hi], e.dim)
		if err != nil {
			return err
		}
		copy(vecs[lo:hi], vs)
		return nil
	})
	if err != nil {
		return nil, e.errorf("%w", err)
	}
	return spread(vecs, at), nil
}

// batch sends one request and checks its answer: one vector per input, all
// of width dim (or of the first's width when dim is 0), unit-normalised.
func (e *OpenAI) batch(ctx context.Context, ins []string, dim int) ([][]float32, error) {
	var resp openai.EmbeddingResponse
	err := e.cfg.Retry.do(ctx, e.cfg.APIKey != "", func(ctx context.Context) error {
		var err error
		resp, err = e.api.CreateEmbeddings(ctx, openai.EmbeddingRequest{
			Input:      ins,
			Model:      openai.EmbeddingModel(e.cfg.Model),
			Dimensions: e.cfg.Dimensions,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Data) != len(ins) {
		return nil, fmt.Errorf("malformed answer: %d vectors for %d inputs", len(resp.Data), len(ins))
	}
	out := make([][]float32, len(ins))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(ins) || out[d.Index] != nil {
			return nil, fmt.Errorf("malformed answer: vector index %d repeated or not in [0, %d)", d.Index, len(ins))
		}
		if dim == 0 {
			dim = len(d.Embedding)
		}
		if err := normalize(d.Embedding, dim); err != nil {
			return nil, fmt.Errorf("malformed answer: input %d: %w", d.Index, err)
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}

func (e *OpenAI) errorf(format string, args ...any) error {
	return httpapi.Redact(fmt.Errorf("embed openai %s at %s: "+format, append([]any{e.cfg.Model, e.base}, args...)...), e.cfg.APIKey)
}

// spread returns, for each input, the vector of its distinct text; an input
// repeated gets its own copy, so a caller may change one freely.
func spread(vecs [][]float32, at []int) [][]float32 {
	out := make([][]float32, len(at))
	used := make([]bool, len(vecs))
	for i, k := range at {
		if used[k] {
			out[i] = slices.Clone(vecs[k])
			continue
		}
		used[k] = true
		out[i] = vecs[k]
	}
	return out
}
