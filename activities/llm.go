package activities

import (
	"encoding/json"

	"github.com/zeroner/zeroner/pipeline"
)

// LLMConfig says how to reach an OpenAI-compatible model and how to decode.
type LLMConfig struct {
	BaseURL string            `json:"base_url,omitempty"`
	Model   string            `json:"model,omitempty"`
	Models  map[string]string `json:"models,omitempty"` // per stage: anchor, explorer, mediate, calibrate, map

	Temperature      float32 `json:"temperature,omitempty"`
	TopP             float32 `json:"top_p,omitempty"`
	MaxTokens        int     `json:"max_tokens,omitempty"`
	StructuredOutput string  `json:"structured_output,omitempty"` // json_schema, json_object, auto
	LogProbs         bool    `json:"logprobs,omitempty"`
	// Extractors are the discovery voters: anchor, explorer, rules.
	Extractors []string `json:"extractors,omitempty"`

	// Limits and retries, per worker process.
	TimeoutSeconds    float64 `json:"timeout_seconds,omitempty"`
	MaxConcurrent     int     `json:"max_concurrent,omitempty"`
	RequestsPerMinute int     `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int     `json:"tokens_per_minute,omitempty"`
	MaxRetries        int     `json:"max_retries,omitempty"`
	MaxReasks         int     `json:"max_reasks,omitempty"`
}

// identity is what of the spec changes a run's outputs: the backend, models
// and decoding, not where the server is or how fast it may be asked.
func (b BackendSpec) identity() []byte {
	l := b.LLM
	id, _ := json.Marshal(struct {
		Name              string
		Model             string
		Models            map[string]string
		Temperature, TopP float32
		MaxTokens         int
		Structured        string
		LogProbs          bool
		Extractors        []string
	}{b.Name, l.Model, l.Models, l.Temperature, l.TopP, l.MaxTokens, l.StructuredOutput, l.LogProbs, l.Extractors})
	return id
}

// builtin is the default BackendFactory.
func (a *Activities) builtin(spec BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
	return NewBackend(spec, s)
}
