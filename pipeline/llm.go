package pipeline

import (
	"context"
	"encoding/json"
	"errors"
)

// LLM asks a chat model. It is the only way the method reaches a model, so
// the pipeline can be tested with any implementation; io/llm provides the
// OpenAI-compatible one.
type LLM interface {
	// Ask sends p and returns the answer. valid checks the answer's
	// content; an invalid answer is re-asked a bounded number of times,
	// after which Ask returns an error wrapping ErrInvalidAnswer.
	Ask(ctx context.Context, p Prompt, valid func(content string) error) (Answer, error)
}

// ErrInvalidAnswer is wrapped by errors for answers that never validated.
var ErrInvalidAnswer = errors.New("invalid answer")

// ErrUnanswered is wrapped by errors for requests that a batch provider has
// not answered (yet). Like an invalid answer it fails the chunk, not the
// stage: the batch rounds ask again for what is missing.
var ErrUnanswered = errors.New("no answer from the batch provider")

// ErrCutOff is wrapped by errors for answers that the model's token limit
// cut off. Asking the same again would be cut again; the caller asks for
// less (a smaller request).
var ErrCutOff = errors.New("answer cut off at the token limit")

// Prompt is one chat request. System holds the static part (instructions,
// definitions), so servers with prefix caching reuse it across requests.
type Prompt struct {
	Model      string          // "" for the client's default model
	System     string          // instructions and definitions
	User       string          // the varying part: the text to work on
	Schema     json.RawMessage // JSON schema the answer must follow; nil for any JSON object
	SchemaName string          // a short name for Schema
	LogProbs   bool            // ask for token log probabilities
	MaxTokens  int             // completion tokens at most; 0 for the client's limit
}

// Answer is a model's reply to a Prompt.
type Answer struct {
	Content  string
	Usage    Usage
	LogProbs []TokenLogProb // when asked for and given
}

// TokenLogProb is one generated token and its log probability.
type TokenLogProb struct {
	Token   string  `json:"token"`
	LogProb float64 `json:"logprob"`
}

// Usage is what model calls cost: the token ledger's unit.
type Usage struct {
	Requests         int64 `json:"requests"`   // requests sent to the server
	CacheHits        int64 `json:"cache_hits"` // answers taken from the response cache
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"` // prompt tokens the server reported as cached
	// BatchRequests counts answers bought through a batch provider rather
	// than sent online; BatchTokens is their share of the tokens above,
	// billed at the provider's batch price.
	BatchRequests int64 `json:"batch_requests,omitempty"`
	BatchTokens   int64 `json:"batch_tokens,omitempty"`
}

// Add adds v to u.
func (u *Usage) Add(v Usage) {
	u.Requests += v.Requests
	u.CacheHits += v.CacheHits
	u.PromptTokens += v.PromptTokens
	u.CompletionTokens += v.CompletionTokens
	u.CachedTokens += v.CachedTokens
	u.BatchRequests += v.BatchRequests
	u.BatchTokens += v.BatchTokens
}
