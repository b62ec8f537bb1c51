package llm

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zeroner/zeroner/io/httpapi"
)

// Structured output modes (Config.StructuredOutput).
const (
	// ModeJSONSchema sends the request's schema as response_format
	// json_schema, strict: the server constrains decoding to it.
	ModeJSONSchema = "json_schema"
	// ModeJSONObject sends response_format json_object and the schema as
	// text in the system message, for servers without schema support.
	ModeJSONObject = "json_object"
	// ModeAuto is ModeJSONSchema until the server rejects it with an HTTP
	// 400 (or 422) about the response format, then ModeJSONObject for the
	// rest of the client's life.
	ModeAuto = "auto"
)

// Defaults for zero Config fields.
const (
	DefaultBaseURL       = "https://api.openai.com/v1"
	DefaultTimeout       = 2 * time.Minute
	DefaultMaxConcurrent = 16
	DefaultMaxRetries    = 6
	DefaultMaxReasks     = 2
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second

	// nearGreedy is what Temperature 0 becomes. go-openai declares
	// temperature as float32 with omitempty, so a 0 is never sent and the
	// server's default (often 0.7 or 1) would apply; 0.01 is as good as
	// greedy on every server.
	nearGreedy = 0.01
)

// Config configures a Client. Zero values mean the defaults above.
type Config struct {
	// BaseURL is the server's root (http://host:8000) or its API root
	// (http://host:8000/v1, as OPENAI_BASE_URL has it): a bare root gets
	// /v1, any other path is used as given. Empty means OpenAI.
	BaseURL string
	// APIKey is sent as a bearer token; empty for servers without
	// authentication. It never appears in logs, String or errors.
	APIKey string
	// Model is the default model; a Request may name another.
	Model string
	// Temperature 0 is sent as 0.01 (see nearGreedy): near-greedy decoding
	// is the default. TopP 0 is not sent (the server's default, 1).
	Temperature, TopP float32
	// MaxTokens bounds each answer; 0 leaves the server's default.
	MaxTokens int
	// Timeout bounds each HTTP request (default 2m).
	Timeout time.Duration
	// MaxConcurrent bounds requests in flight (default 8).
	MaxConcurrent int
	// RequestsPerMinute and TokensPerMinute (prompt plus completion) are
	// client-side limits; 0 means unlimited.
	RequestsPerMinute, TokensPerMinute int
	// MaxRetries bounds retries of one request after a 429, 408, 5xx,
	// timeout or connection error (0: default 5; negative: none).
	MaxRetries int
	// MaxReasks bounds re-asks after an invalid answer (0: default 2;
	// negative: none).
	MaxReasks int
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter between retries (default 500ms and 30s).
	BackoffBase, BackoffMax time.Duration
	// StructuredOutput is ModeJSONSchema (default), ModeJSONObject or
	// ModeAuto.
	StructuredOutput string
}

// String describes c with the API key and any URL password redacted.
func (c Config) String() string { return httpapi.Describe(c) }

// GoString keeps %#v from printing the key.
func (c Config) GoString() string { return c.String() }

// LogValue logs c with the API key and any URL password redacted.
func (c Config) LogValue() slog.Value { return httpapi.LogValue(c) }

// withDefaults returns c checked, normalised and with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	base, err := httpapi.APIRoot(c.BaseURL, DefaultBaseURL)
	if err != nil {
		return c, err
	}
	c.BaseURL = base
	if c.Model == "" {
		return c, errors.New("no model")
	}
	if c.Temperature < 0 || c.TopP < 0 || c.MaxTokens < 0 || c.Timeout < 0 || c.MaxConcurrent < 0 ||
		c.RequestsPerMinute < 0 || c.TokensPerMinute < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 {
		return c, errors.New("negative temperature, top_p, token count, duration or limit")
	}
	if c.Temperature == 0 {
		c.Temperature = nearGreedy
	}
	c.Timeout = or(c.Timeout, DefaultTimeout)
	c.MaxConcurrent = or(c.MaxConcurrent, DefaultMaxConcurrent)
	c.MaxRetries = count(c.MaxRetries, DefaultMaxRetries)
	c.MaxReasks = count(c.MaxReasks, DefaultMaxReasks)
	c.BackoffBase = or(c.BackoffBase, DefaultBackoffBase)
	c.BackoffMax = max(or(c.BackoffMax, DefaultBackoffMax), c.BackoffBase)
	switch c.StructuredOutput {
	case "":
		c.StructuredOutput = ModeJSONSchema
	case ModeJSONSchema, ModeJSONObject, ModeAuto:
	default:
		return c, fmt.Errorf("structured output %q: want %s, %s or %s", c.StructuredOutput, ModeJSONSchema, ModeJSONObject, ModeAuto)
	}
	return c, nil
}

// or returns v, or def if v is zero.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// count is a bound where 0 means the default and negative means none.
func count(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
