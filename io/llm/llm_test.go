package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/zeroner/zeroner/io/httpapi"
)

// chatReq is what the test server reads of a chat completion request.
type chatReq struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Temperature         *float64 `json:"temperature"`
	TopP                *float64 `json:"top_p"`
	MaxTokens           int      `json:"max_tokens"`
	MaxCompletionTokens int      `json:"max_completion_tokens"`
	LogProbs            bool     `json:"logprobs"`
	TopLogProbs         *int     `json:"top_logprobs"`
	ResponseFormat      *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict bool            `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

// handler answers call n (1-based) of a test.
type handler func(w http.ResponseWriter, r *http.Request, n int, req chatReq)

// server is an OpenAI-compatible /v1/chat/completions that records the
// requests and counts calls and requests in flight.
type server struct {
	*httptest.Server
	mu          sync.Mutex
	reqs        []chatReq
	auth        []string
	calls       atomic.Int64
	inflight    atomic.Int64
	maxInflight atomic.Int64
}

func newServer(t *testing.T, h handler) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		in := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		for {
			m := s.maxInflight.Load()
			if in <= m || s.maxInflight.CompareAndSwap(m, in) {
				break
			}
		}
		var req chatReq
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, "bad JSON: "+err.Error())
			return
		}
		n := int(s.calls.Add(1))
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		h(w, r, n, req)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []chatReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]chatReq(nil), s.reqs...)
}

// ok writes an answer with content, usage 10+5 (2 cached) and, if asked
// for, one log probability per word.
func ok(w http.ResponseWriter, req chatReq, content string) { answer(w, req, content, "stop") }

func answer(w http.ResponseWriter, req chatReq, content, finish string) {
	choice := map[string]any{
		"index":         0,
		"message":       map[string]any{"role": "assistant", "content": content},
		"finish_reason": finish,
	}
	if req.LogProbs {
		var lps []map[string]any
		for i, tok := range strings.Fields(content) {
			lps = append(lps, map[string]any{"token": tok, "logprob": -0.5 * float64(i+1), "top_logprobs": []any{}})
		}
		choice["logprobs"] = map[string]any{"content": lps}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": req.Model,
		"choices": []any{choice},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
			"prompt_tokens_details": map[string]any{"cached_tokens": 2}},
	})
}

// fail writes an OpenAI-style error.
func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
}

// fakeTime is a clock that sleeping advances, recording each sleep.
type fakeTime struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (f *fakeTime) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	return nil
}

func (f *fakeTime) slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

const schema = `{"type":"object","properties":{"entities":{"type":"array","items":{"type":"string"}}},"required":["entities"],"additionalProperties":false}`

// newClient returns a client of s with a fake clock and a jitter that
// always takes the whole backoff, so waits are predictable.
func newClient(t *testing.T, s *server, cache Cache, edit func(*Config)) (*Client, *fakeTime) {
	t.Helper()
	cfg := Config{BaseURL: s.URL, Model: "test-model", MaxRetries: 3, MaxReasks: 2, StructuredOutput: ModeJSONSchema}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTime{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c.now, c.sleep = ft.now, ft.sleep
	c.jitter = func(d time.Duration) time.Duration { return d }
	c.rpm, c.tpm = newBucket(c.cfg.RequestsPerMinute, ft.now()), newBucket(c.cfg.TokensPerMinute, ft.now())
	return c, ft
}

func TestComplete(t *testing.T) {
	const good = `{"entities":["Paris"]}`
	okAlways := func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, good) }
	base := Request{System: "Find entities. Answer in JSON.", User: "Paris is big.", Schema: json.RawMessage(schema), SchemaName: "entities"}
	tests := []struct {
		name      string
		cfg       func(*Config)
		req       Request
		valid     func(string) error
		h         handler
		wantCalls int
		wantErr   error  // matched with errors.Is
		wantText  string // in the error's text
		want      string // the answer
		check     func(t *testing.T, reqs []chatReq, resp Response)
	}{{
		name: "json_schema", req: base, h: okAlways, wantCalls: 1, want: good,
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			r := reqs[0]
			if f := r.ResponseFormat; f == nil || f.Type != "json_schema" || f.JSONSchema == nil ||
				f.JSONSchema.Name != "entities" || !f.JSONSchema.Strict || string(f.JSONSchema.Schema) != schema {
				t.Errorf("response_format = %+v, want strict json_schema %q", f, "entities")
			}
			if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[0].Content != base.System ||
				r.Messages[1].Role != "user" || r.Messages[1].Content != base.User {
				t.Errorf("messages = %+v, want system then user", r.Messages)
			}
			if r.Model != "test-model" || r.Temperature == nil || *r.Temperature != nearGreedy || r.TopP != nil {
				t.Errorf("model %q temperature %v top_p %v, want test-model, 0.01, none", r.Model, r.Temperature, r.TopP)
			}
			if want := (Usage{Requests: 1, PromptTokens: 10, CompletionTokens: 5, CachedTokens: 2}); resp.Usage != want {
				t.Errorf("usage = %+v, want %+v", resp.Usage, want)
			}
		},
	}, {
		name: "json_object puts the schema in the system message", req: base, h: okAlways, wantCalls: 1, want: good,
		cfg: func(c *Config) { c.StructuredOutput = ModeJSONObject; c.Temperature = 0.3; c.MaxTokens = 99 },
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			r := reqs[0]
			if f := r.ResponseFormat; f == nil || f.Type != "json_object" || f.JSONSchema != nil {
				t.Errorf("response_format = %+v, want json_object", f)
			}
			if sys := r.Messages[0].Content; !strings.HasPrefix(sys, base.System) || !strings.Contains(sys, schema) {
				t.Errorf("system message %q lacks the instructions or the schema", sys)
			}
			if *r.Temperature != 0.3 || r.MaxTokens != 99 {
				t.Errorf("temperature %v max_tokens %d, want 0.3, 99", *r.Temperature, r.MaxTokens)
			}
		},
	}, {
		name: "no schema asks for a JSON object", req: Request{User: "Paris"}, h: okAlways, wantCalls: 1, want: good,
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			r := reqs[0]
			if r.ResponseFormat == nil || r.ResponseFormat.Type != "json_object" {
				t.Errorf("response_format = %+v, want json_object", r.ResponseFormat)
			}
			if len(r.Messages) != 2 || !strings.Contains(r.Messages[0].Content, "JSON") {
				t.Errorf("messages = %+v, want a system message asking for JSON", r.Messages)
			}
		},
	}, {
		name: "fenced JSON", req: base, wantCalls: 1, want: good,
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			ok(w, req, "```json\n"+good+"\n```")
		},
	}, {
		name: "invalid JSON then valid on re-ask", req: base, wantCalls: 2, want: good,
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			if n == 1 {
				ok(w, req, `{"entities": [`)
				return
			}
			ok(w, req, good)
		},
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			m := reqs[1].Messages
			if len(m) != 4 || m[2].Role != "assistant" || m[2].Content != `{"entities": [` ||
				m[3].Role != "user" || !strings.Contains(m[3].Content, "not JSON") {
				t.Errorf("re-ask messages = %+v, want the invalid answer and the reason", m)
			}
			if want := (Usage{Requests: 2, PromptTokens: 20, CompletionTokens: 10, CachedTokens: 4}); resp.Usage != want {
				t.Errorf("usage = %+v, want %+v", resp.Usage, want)
			}
		},
	}, {
		name: "answer the check rejects, then a good one", req: base, wantCalls: 2, want: `{"entities":["Rome"]}`,
		valid: func(s string) error {
			if !strings.Contains(s, "Rome") {
				return errors.New("no Rome")
			}
			return nil
		},
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			if n == 1 {
				ok(w, req, good)
				return
			}
			if !strings.Contains(req.Messages[3].Content, "no Rome") {
				fail(w, 400, "re-ask does not say why")
				return
			}
			ok(w, req, `{"entities":["Rome"]}`)
		},
	}, {
		name: "permanently invalid", req: base, wantCalls: 3, wantErr: ErrInvalidAnswer, wantText: "not JSON",
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, "Paris is a city.") },
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			if resp.Usage.Requests != 3 || resp.Usage.PromptTokens != 30 {
				t.Errorf("usage = %+v, want all 3 requests", resp.Usage)
			}
			if resp.Content != "Paris is a city." {
				t.Errorf("content = %q, want the last invalid answer", resp.Content)
			}
		},
	}, {
		name: "cut off at the token limit: not re-asked", req: base, wantCalls: 1, wantErr: ErrCutOff, wantText: "cut off",
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			answer(w, req, `{"entities":["Par`, "length")
		},
	}, {
		name: "refusal", req: base, wantCalls: 3, wantErr: ErrInvalidAnswer, wantText: "refused: not today",
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"","refusal":"not today"},"finish_reason":"stop"}]}`)
		},
	}, {
		name: "no choices retried", req: base, wantCalls: 2, want: good,
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			if n == 1 {
				io.WriteString(w, `{"choices":[]}`)
				return
			}
			ok(w, req, good)
		},
	}, {
		name: "no re-asks", req: base, wantCalls: 1, wantErr: ErrInvalidAnswer,
		cfg: func(c *Config) { c.MaxReasks = -1 },
		h:   func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, "nope") },
	}, {
		name: "500 retried then success", req: base, wantCalls: 2, want: good,
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			if n == 1 {
				fail(w, 500, "boom")
				return
			}
			ok(w, req, good)
		},
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			if want := (Usage{Requests: 2, PromptTokens: 10, CompletionTokens: 5, CachedTokens: 2}); resp.Usage != want {
				t.Errorf("usage = %+v, want %+v", resp.Usage, want)
			}
		},
	}, {
		name: "non-JSON 502 from a proxy retried", req: base, wantCalls: 2, want: good,
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			if n == 1 {
				http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
				return
			}
			ok(w, req, good)
		},
	}, {
		name: "retries bounded", req: base, wantCalls: 4, wantText: "gave up after 4 attempts",
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { fail(w, 503, "overloaded") },
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			if resp.Usage.Requests != 4 {
				t.Errorf("usage = %+v, want 4 requests", resp.Usage)
			}
		},
	}, {
		name: "no retries", req: base, wantCalls: 1, wantText: "overloaded",
		cfg: func(c *Config) { c.MaxRetries = -1 },
		h:   func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { fail(w, 503, "overloaded") },
	}, {
		name: "400 not retried", req: base, wantCalls: 1, wantText: "bad request here",
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { fail(w, 400, "bad request here") },
	}, {
		name: "400 about the schema not retried without auto", req: base, wantCalls: 1, wantText: "response_format",
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			fail(w, 400, "response_format json_schema is not supported")
		},
	}, {
		name: "401 not retried", req: base, wantCalls: 1, wantText: "401",
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { fail(w, 401, "no key") },
	}, {
		name: "timeout retried", req: base, wantCalls: 2, want: good,
		cfg: func(c *Config) { c.Timeout = 50 * time.Millisecond },
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			if n == 1 {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			ok(w, req, good)
		},
	}, {
		name: "connection dropped retried", req: base, wantCalls: 2, want: good,
		h: func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			if n == 1 {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			ok(w, req, good)
		},
	}, {
		name: "request names its model", req: Request{Model: "other", User: "x", Schema: json.RawMessage(schema)},
		h: okAlways, wantCalls: 1, want: good,
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			if reqs[0].Model != "other" || reqs[0].ResponseFormat.JSONSchema.Name != "answer" {
				t.Errorf("model %q schema name %q, want other, answer", reqs[0].Model, reqs[0].ResponseFormat.JSONSchema.Name)
			}
		},
	}, {
		name: "reasoning model gets max_completion_tokens and no sampling", req: base, h: okAlways, wantCalls: 1, want: good,
		cfg: func(c *Config) { c.Model = "gpt-5-mini"; c.MaxTokens = 500; c.TopP = 0.9 },
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			r := reqs[0]
			if r.MaxTokens != 0 || r.MaxCompletionTokens != 500 || r.Temperature != nil || r.TopP != nil {
				t.Errorf("max_tokens %d max_completion_tokens %d temperature %v top_p %v", r.MaxTokens, r.MaxCompletionTokens, r.Temperature, r.TopP)
			}
		},
	}, {
		name: "a request's max_tokens under the configured one", req: withMax(base, 300), h: okAlways, wantCalls: 1, want: good,
		cfg: func(c *Config) { c.MaxTokens = 2048 },
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			if reqs[0].MaxTokens != 300 {
				t.Errorf("max_tokens %d, want the request's 300", reqs[0].MaxTokens)
			}
		},
	}, {
		name: "the configured max_tokens caps a request's", req: withMax(base, 5000), h: okAlways, wantCalls: 1, want: good,
		cfg: func(c *Config) { c.MaxTokens = 2048 },
		check: func(t *testing.T, reqs []chatReq, resp Response) {
			if reqs[0].MaxTokens != 2048 {
				t.Errorf("max_tokens %d, want the configured 2048", reqs[0].MaxTokens)
			}
		},
	}, {
		name: "bad schema", req: Request{User: "x", Schema: json.RawMessage(`{"type":`)}, h: okAlways, wantCalls: 0,
		wantText: "schema is not valid JSON",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.h)
			c, _ := newClient(t, s, nil, tt.cfg)
			resp, err := c.Complete(context.Background(), tt.req, tt.valid)
			if got := int(s.calls.Load()); got != tt.wantCalls {
				t.Errorf("server calls = %d, want %d", got, tt.wantCalls)
			}
			switch {
			case tt.wantErr == nil && tt.wantText == "":
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if resp.Content != tt.want {
					t.Errorf("content = %q, want %q", resp.Content, tt.want)
				}
			case err == nil:
				t.Fatalf("Complete succeeded with %q, want an error", resp.Content)
			default:
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v is not %v", err, tt.wantErr)
				}
				if tt.wantErr == nil && errors.Is(err, ErrInvalidAnswer) {
					t.Errorf("error %v is ErrInvalidAnswer", err)
				}
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("error %q does not say %q", err, tt.wantText)
				}
				if !strings.Contains(err.Error(), s.URL) {
					t.Errorf("error %q does not name the server", err)
				}
			}
			if tt.check != nil {
				tt.check(t, s.requests(), resp)
			}
		})
	}
}

func withMax(r Request, n int) Request {
	r.MaxTokens = n
	return r
}

// TestCutOffRemembered: a retried activity asks the same request again; a
// cut answer is not bought twice.
func TestCutOffRemembered(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
		answer(w, req, `{"entities":["Par`, "length")
	})
	c, _ := newClient(t, s, newMemCache(), nil)
	req := Request{User: "Paris is big. Answer in JSON.", MaxTokens: 10}
	for i := range 2 {
		if _, err := c.Complete(context.Background(), req, nil); !errors.Is(err, ErrCutOff) {
			t.Fatalf("call %d: error %v, want ErrCutOff", i+1, err)
		}
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("server calls = %d, want 1", n)
	}
}

func TestRetryWaits(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // newClient's clock
	tests := []struct {
		name   string
		status int
		header string
		want   []time.Duration
	}{
		{"429 Retry-After seconds", 429, "2", []time.Duration{2 * time.Second, 2 * time.Second}},
		{"429 Retry-After date", 429, now.Add(3 * time.Second).Format(http.TimeFormat), []time.Duration{3 * time.Second, 0}}, // the date has passed on the second 429
		{"503 Retry-After", 503, "1", []time.Duration{time.Second, time.Second}},
		{"429 without Retry-After backs off", 429, "", []time.Duration{500 * time.Millisecond, time.Second}},
		{"bad Retry-After backs off", 429, "soon", []time.Duration{500 * time.Millisecond, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
				if n <= 2 {
					if tt.header != "" {
						w.Header().Set("Retry-After", tt.header)
					}
					fail(w, tt.status, "slow down")
					return
				}
				ok(w, req, `{}`)
			})
			c, ft := newClient(t, s, nil, nil)
			if _, err := c.Complete(context.Background(), Request{User: "x"}, nil); err != nil {
				t.Fatal(err)
			}
			if got := ft.slept(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("slept %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAutoFallback(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
		if req.ResponseFormat != nil && req.ResponseFormat.Type == "json_schema" {
			fail(w, 400, "Unsupported value: 'response_format.type' json_schema is not supported by this model")
			return
		}
		ok(w, req, `{"entities":[]}`)
	})
	c, _ := newClient(t, s, nil, func(c *Config) { c.StructuredOutput = ModeAuto })
	req := Request{System: "Find entities.", User: "x", Schema: json.RawMessage(schema)}
	resp, err := c.Complete(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.Requests != 2 {
		t.Errorf("usage %+v, want the rejected request counted too", resp.Usage)
	}
	if _, err := c.Complete(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range s.requests() {
		kinds = append(kinds, r.ResponseFormat.Type)
	}
	if want := "[json_schema json_object json_object]"; fmt.Sprint(kinds) != want {
		t.Errorf("response formats %v, want %s: switch once, for good", kinds, want)
	}
	if sys := s.requests()[2].Messages[0].Content; !strings.Contains(sys, schema) {
		t.Errorf("system message %q lacks the schema", sys)
	}
}

func TestSchemaUnsupported(t *testing.T) {
	tests := []struct {
		status int
		msg    string
		want   bool
	}{
		{400, "response_format json_schema is not supported", true},
		{422, "Failed to deserialize the JSON body: response_format: unknown variant `json_schema`", true},
		{400, "Invalid schema for response_format 'entities': 'additionalProperties' is required", false},
		{400, "messages must not be empty", false},
		{500, "response_format broke us", false},
	}
	for _, tt := range tests {
		err := &openai.APIError{HTTPStatusCode: tt.status, Message: tt.msg}
		if got := schemaUnsupported(err); got != tt.want {
			t.Errorf("schemaUnsupported(%d %q) = %v, want %v", tt.status, tt.msg, got, tt.want)
		}
	}
}

func TestMaxConcurrent(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
		time.Sleep(5 * time.Millisecond)
		ok(w, req, `{}`)
	})
	c, _ := newClient(t, s, nil, func(c *Config) { c.MaxConcurrent = 3 })
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			_, err := c.Complete(context.Background(), Request{User: fmt.Sprint(i)}, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.calls.Load(); got != 50 {
		t.Errorf("calls = %d, want 50", got)
	}
	if m := s.maxInflight.Load(); m > 3 {
		t.Errorf("%d requests in flight, want at most 3", m)
	}
	if u := c.Usage(); u.Requests != 50 || u.PromptTokens != 500 {
		t.Errorf("client usage %+v, want 50 requests, 500 prompt tokens", u)
	}
}

func TestRateLimits(t *testing.T) {
	prompt1200 := "json" + strings.Repeat("x", 1196) // mentions JSON: no system message added
	tests := []struct {
		name  string
		cfg   func(*Config)
		user  string
		n     int
		slept []time.Duration
	}{
		// 2 a minute: a burst of 2, then one every 30 s.
		{"requests per minute", func(c *Config) { c.RequestsPerMinute = 2 }, "x", 4, []time.Duration{30 * time.Second, 30 * time.Second}},
		// 1,200 bytes are estimated at 300 tokens; the server counts 15,
		// and the bucket gets the difference back. Without that, the
		// third request would wait 30 s.
		{"tokens per minute, corrected by usage", func(c *Config) { c.TokensPerMinute = 600 }, prompt1200, 3, nil},
		// 300 a minute, 5 a second: after the first request 285 are
		// left, 15 short of the next estimate: 3 s.
		{"tokens per minute", func(c *Config) { c.TokensPerMinute = 300 }, prompt1200, 3, []time.Duration{3 * time.Second, 3 * time.Second}},
		{"unlimited", nil, "x", 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, `{}`) })
			c, ft := newClient(t, s, nil, tt.cfg)
			for range tt.n {
				if _, err := c.Complete(context.Background(), Request{User: tt.user}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := ft.slept(); fmt.Sprint(got) != fmt.Sprint(tt.slept) {
				t.Errorf("slept %v, want %v", got, tt.slept)
			}
		})
	}
}

func TestBucket(t *testing.T) {
	t0 := time.Unix(0, 0)
	b := newBucket(60, t0) // 1 a second, 60 at most
	if d := b.take(t0, 60); d != 0 {
		t.Errorf("full bucket waits %v", d)
	}
	if d := b.take(t0, 2); d != 2*time.Second {
		t.Errorf("empty bucket waits %v, want 2s", d)
	}
	b.give(2) // that take was cancelled
	if d := b.take(t0.Add(5*time.Second), 5); d != 0 {
		t.Errorf("refilled bucket waits %v", d)
	}
	if d := b.take(t0.Add(time.Hour), 61); d != time.Second {
		t.Errorf("take beyond the size waits %v, want 1s", d)
	}
	if newBucket(0, t0) != nil || newBucket(0, t0).take(t0, 1e9) != 0 {
		t.Error("a zero limit is not unlimited")
	}
}

func TestCancel(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { fail(w, 500, "boom") })
	c, _ := newClient(t, s, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	_, err := c.Complete(ctx, Request{User: "x"}, nil)
	if !errors.Is(err, context.Canceled) || s.calls.Load() != 1 {
		t.Errorf("cancelled during backoff: %v after %d calls, want context.Canceled after 1", err, s.calls.Load())
	}
	_, err = c.Complete(ctx, Request{User: "x"}, nil)
	if !errors.Is(err, context.Canceled) || s.calls.Load() != 1 {
		t.Errorf("cancelled before: %v after %d calls, want context.Canceled and no call", err, s.calls.Load())
	}

	// Cancelled while waiting for a slot: Complete returns at once.
	c2, _ := newClient(t, s, nil, func(c *Config) { c.MaxConcurrent = 1 })
	c2.sem <- struct{}{}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c2.Complete(ctx, Request{User: "x"}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a slot: %v, want context.DeadlineExceeded", err)
	}
}

func TestLogProbs(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, `{"a": 1}`) })
	cache := newMemCache()
	c, _ := newClient(t, s, cache, nil)
	want := []TokenLogProb{{`{"a":`, -0.5}, {`1}`, -1}}
	for i, name := range []string{"server", "cache"} {
		resp, err := c.Complete(context.Background(), Request{User: "x", LogProbs: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(resp.LogProbs) != fmt.Sprint(want) {
			t.Errorf("%s: logprobs %v, want %v", name, resp.LogProbs, want)
		}
		if got := s.calls.Load(); got != 1 {
			t.Errorf("%s: %d calls after %d Completes", name, got, i+1)
		}
	}
	r := s.requests()[0]
	if !r.LogProbs || r.TopLogProbs != nil {
		t.Errorf("logprobs %v top_logprobs %v, want true and none", r.LogProbs, r.TopLogProbs)
	}
	resp, err := c.Complete(context.Background(), Request{User: "x"}, nil)
	if err != nil || resp.LogProbs != nil || s.requests()[1].LogProbs {
		t.Errorf("without LogProbs: %v, %v", resp.LogProbs, err)
	}
}

// memCache is a Cache in memory that counts its calls.
type memCache struct {
	mu       sync.Mutex
	m        map[string][]byte
	gets     int
	failGets bool
}

func newMemCache() *memCache { return &memCache{m: map[string][]byte{}} }

func (c *memCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	if c.failGets {
		return nil, false, errors.New("cache down")
	}
	v, ok := c.m[key]
	return v, ok, nil
}

func (c *memCache) Put(ctx context.Context, key string, val []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = val
	return nil
}

func (c *memCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func TestCache(t *testing.T) {
	var bad atomic.Bool
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
		if bad.Load() {
			ok(w, req, "not json")
			return
		}
		ok(w, req, `{"entities":["Paris"]}`)
	})
	cache := newMemCache()
	c, _ := newClient(t, s, cache, nil)
	ctx := context.Background()
	req := Request{System: "Find entities.", User: "Paris", Schema: json.RawMessage(schema)}

	first, err := c.Complete(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Complete(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 1 {
		t.Errorf("calls = %d, want 1: the second answer comes from the cache", s.calls.Load())
	}
	if second.Content != first.Content || second.Usage != (Usage{CacheHits: 1}) {
		t.Errorf("cached answer %q %+v, want %q with one cache hit and nothing paid", second.Content, second.Usage, first.Content)
	}
	if want := (Usage{Requests: 1, CacheHits: 1, PromptTokens: 10, CompletionTokens: 5, CachedTokens: 2}); c.Usage() != want {
		t.Errorf("client usage %+v, want %+v", c.Usage(), want)
	}

	// A cached answer the caller now rejects is asked again.
	reject := func(string) error { return errors.New("stricter now") }
	if _, err := c.Complete(ctx, req, reject); !errors.Is(err, ErrInvalidAnswer) {
		t.Errorf("rejected cached answer: %v, want ErrInvalidAnswer", err)
	}
	if s.calls.Load() != 4 {
		t.Errorf("calls = %d, want 4", s.calls.Load())
	}

	// Invalid answers are not cached.
	bad.Store(true)
	other := Request{User: "Rome"}
	for range 2 {
		if _, err := c.Complete(ctx, other, nil); !errors.Is(err, ErrInvalidAnswer) {
			t.Fatalf("got %v, want ErrInvalidAnswer", err)
		}
	}
	if s.calls.Load() != 10 || cache.len() != 1 {
		t.Errorf("calls = %d, cache entries = %d; want 10 and 1: invalid answers must not be cached", s.calls.Load(), cache.len())
	}

	// A failing cache costs a request, not the answer.
	bad.Store(false)
	cache.failGets = true
	if _, err := c.Complete(ctx, req, nil); err != nil || s.calls.Load() != 11 {
		t.Errorf("with the cache down: %v after %d calls, want success after 11", err, s.calls.Load())
	}
}

func TestCacheKey(t *testing.T) {
	c, err := New(Config{Model: "m"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := Request{System: "s", User: "u", Schema: json.RawMessage(`{"type":"object","required":["a"]}`), SchemaName: "n"}
	key := func(c *Client, r Request) string {
		p, err := c.params(r)
		if err != nil {
			t.Fatal(err)
		}
		k, err := cacheKey(p)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	with := func(edit func(*Config)) *Client {
		cfg := Config{Model: "m"}
		edit(&cfg)
		c, err := New(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	k0 := key(c, base)
	if len(k0) != 64 || strings.Trim(k0, "0123456789abcdef") != "" {
		t.Fatalf("key %q is not lowercase hex SHA-256", k0)
	}
	tests := []struct {
		name string
		c    *Client
		r    Request
		same bool
	}{
		{"identical", c, base, true},
		{"schema spacing and key order", c, Request{System: "s", User: "u", Schema: json.RawMessage(`{ "required": ["a"],
			"type": "object" }`), SchemaName: "n"}, true},
		{"empty temperature is the default", with(func(c *Config) { c.Temperature = nearGreedy }), base, true},
		{"schema", c, Request{System: "s", User: "u", Schema: json.RawMessage(`{"type":"object","required":["b"]}`), SchemaName: "n"}, false},
		{"schema name", c, Request{System: "s", User: "u", Schema: base.Schema, SchemaName: "m"}, false},
		{"no schema", c, Request{System: "s", User: "u"}, false},
		{"user", c, Request{System: "s", User: "v", Schema: base.Schema, SchemaName: "n"}, false},
		{"system", c, Request{System: "t", User: "u", Schema: base.Schema, SchemaName: "n"}, false},
		{"model", c, Request{Model: "m2", System: "s", User: "u", Schema: base.Schema, SchemaName: "n"}, false},
		{"logprobs", c, Request{System: "s", User: "u", Schema: base.Schema, SchemaName: "n", LogProbs: true}, false},
		{"temperature", with(func(c *Config) { c.Temperature = 0.7 }), base, false},
		{"top_p", with(func(c *Config) { c.TopP = 0.9 }), base, false},
		{"max tokens", with(func(c *Config) { c.MaxTokens = 100 }), base, false},
		{"mode", with(func(c *Config) { c.StructuredOutput = ModeJSONObject }), base, false},
		{"not the key or limits", with(func(c *Config) { c.APIKey = "k"; c.RequestsPerMinute = 5; c.BaseURL = "http://x" }), base, true},
	}
	for _, tt := range tests {
		if got := key(tt.c, tt.r) == k0; got != tt.same {
			t.Errorf("%s: same key = %v, want %v", tt.name, got, tt.same)
		}
	}
}

func TestStripFences(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{"  {\"a\":1}\n", `{"a":1}`},
		{"```json\n{\"a\":1}\n```", `{"a":1}`},
		{"```\n[1,2]\n```\n", `[1,2]`},
		{"Here it is:\n```JSON\n{\"a\":1}\n```\nDone.", `{"a":1}`},
		{"```json\n{\"a\":1}", `{"a":1}`},
		{"```{\"a\":1}```", "```{\"a\":1}```"},
		{"no json", "no json"},
	}
	for _, tt := range tests {
		if got := stripFences(tt.in); got != tt.want {
			t.Errorf("stripFences(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no model", Config{}, "no model"},
		{"bad mode", Config{Model: "m", StructuredOutput: "xml"}, "structured output"},
		{"bad URL", Config{Model: "m", BaseURL: "localhost:8000"}, "base URL"},
		{"negative limit", Config{Model: "m", RequestsPerMinute: -1}, "negative"},
		{"ok", Config{Model: "m"}, ""},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, nil, nil)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: New: %v, want %q", tt.name, err, tt.err)
		}
	}
	c, err := New(Config{Model: "m"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{BaseURL: DefaultBaseURL, Model: "m", Temperature: nearGreedy, Timeout: DefaultTimeout,
		MaxConcurrent: DefaultMaxConcurrent, MaxRetries: DefaultMaxRetries, MaxReasks: DefaultMaxReasks,
		BackoffBase: DefaultBackoffBase, BackoffMax: DefaultBackoffMax, StructuredOutput: ModeJSONSchema}
	if c.cfg != want {
		t.Errorf("defaults %v, want %v", c.cfg, want)
	}
}

func TestAPIKeyNeverLeaks(t *testing.T) {
	const key = "sk-test-SECRET-0123456789"
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
		// A careless server echoes the credentials it rejects.
		if n == 1 {
			fail(w, 500, "upstream failed for "+r.Header.Get("Authorization"))
			return
		}
		fail(w, 401, "Incorrect API key provided: "+r.Header.Get("Authorization"))
	})
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{BaseURL: s.URL, APIKey: key, Model: "m"}
	c, err := New(cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(ctx context.Context, d time.Duration) error { return nil }
	_, err = c.Complete(context.Background(), Request{User: "x"}, nil)
	if err == nil {
		t.Fatal("Complete succeeded against a 401")
	}
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusUnauthorized {
		t.Errorf("error %v does not unwrap to a 401 *openai.APIError", err)
	}
	if got := s.auth[0]; got != "Bearer "+key {
		t.Errorf("Authorization = %q, want the bearer key", got)
	}
	log.Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	_, badErr := New(Config{BaseURL: "x:" + key, APIKey: key, Model: "m"}, nil, log)
	outputs := map[string]string{
		"error":         err.Error(),
		"error %+v":     fmt.Sprintf("%+v", err),
		"New error":     fmt.Sprint(badErr),
		"logs":          logs.String(),
		"String":        cfg.String(),
		"%v %+v %#v %s": fmt.Sprintf("%v %+v %#v %s %v", cfg, cfg, cfg, cfg, &cfg),
	}
	for name, out := range outputs {
		if strings.Contains(out, key) {
			t.Errorf("%s contains the API key: %s", name, out)
		}
	}
	for _, want := range []string{"401", s.URL, httpapi.Redacted} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(cfg.String(), httpapi.Redacted) {
		t.Errorf("expected a retry log and a httpapi.Redacted key; logs:\n%s", logs.String())
	}
	if strings.Contains(Config{Model: "m"}.String(), httpapi.Redacted) {
		t.Error("an empty key is shown as httpapi.Redacted")
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	// An error body that is not JSON still yields a status in the error.
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "forbidden")
	})
	c, _ := newClient(t, s, nil, nil)
	_, err := c.Complete(context.Background(), Request{User: "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "403") || s.calls.Load() != 1 {
		t.Errorf("403: %v after %d calls, want a 403 error after 1", err, s.calls.Load())
	}
}

func TestCancelWhileRateLimited(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, `{}`) })
	c, _ := newClient(t, s, nil, func(c *Config) { c.RequestsPerMinute = 1 })
	if _, err := c.Complete(context.Background(), Request{User: "x"}, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Complete(ctx, Request{User: "y"}, nil); !errors.Is(err, context.Canceled) || s.calls.Load() != 1 {
		t.Errorf("%v after %d calls, want context.Canceled after 1", err, s.calls.Load())
	}
	if c.rpm.tokens != 0 {
		t.Errorf("bucket holds %v tokens, want 0: the cancelled take is given back", c.rpm.tokens)
	}
}
