// Package llm is a chat client for OpenAI-compatible servers (OpenAI,
// vLLM, Ollama, llama.cpp server) built for batch work: JSON answers that
// the caller validates and that are re-asked when invalid, retries with
// backoff, client-side concurrency and rate limits, and a content-addressed
// response cache. It knows nothing of NER; the pipeline adapts it.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/zeroner/zeroner/io/httpapi"
)

// ErrInvalidAnswer is wrapped by Complete's error when no answer, re-asks
// included, was JSON that passed the caller's check.
var ErrInvalidAnswer = errors.New("invalid answer")

// ErrCutOff is wrapped by Complete's error when the server stopped the
// answer at the token limit (finish reason "length") before it was valid
// JSON. It is not re-asked: the same request would be cut again. The
// caller asks for less instead (pipeline/sam splits the request).
var ErrCutOff = errors.New("answer cut off at the token limit")

// ErrRefused is wrapped by Complete's error when the server refused the
// request in a way that waiting cannot heal (401, 403, 404); it is not
// retried. ErrUnavailable is wrapped when the request kept failing in a way
// that waiting may heal (a refused connection, a timeout, 429, 5xx) until
// its retries ran out.
var (
	ErrRefused     = httpapi.ErrRefused
	ErrUnavailable = httpapi.ErrUnavailable
)

var (
	// errNoChoices is a 200 without an answer, which a retry may fix.
	errNoChoices = errors.New("response has no choices")
	// errFallback says ModeAuto has just switched to json_object and the
	// request must be built again.
	errFallback = errors.New("falling back to json_object")
)

// Request is one chat request.
type Request struct {
	Model      string          // "" for Config.Model
	System     string          // instructions; sent first, so prefix caches reuse it
	User       string          // the varying part
	Schema     json.RawMessage // JSON schema of the answer; nil for any JSON
	SchemaName string          // a short name for Schema ("answer" if empty)
	LogProbs   bool            // return the answer's token log probabilities
	// MaxTokens bounds this answer; 0 means Config.MaxTokens, and a
	// Config.MaxTokens above 0 caps it.
	MaxTokens int
}

// Response is an answer and what it cost. With an error it holds the
// usage so far and, for ErrInvalidAnswer, the last invalid answer.
type Response struct {
	Content  string // JSON, code fences stripped
	Usage    Usage
	LogProbs []TokenLogProb // when asked for and given
}

// Usage counts what requests cost.
type Usage struct {
	Requests         int64 `json:"requests"`   // HTTP requests sent (retries and re-asks included)
	CacheHits        int64 `json:"cache_hits"` // answers from the cache
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"` // prompt tokens the server had cached
	// BatchRequests counts answers bought through a batch (see Offline);
	// BatchTokens is their part of the tokens above.
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

// TokenLogProb is a generated token and its log probability.
type TokenLogProb struct {
	Token   string  `json:"token"`
	LogProb float64 `json:"logprob"`
}

// Client talks to one OpenAI-compatible server. It is safe for concurrent
// use; the limits hold across all its callers.
type Client struct {
	cfg   Config
	base  string // BaseURL for messages, password redacted
	api   *openai.Client
	cache Cache
	log   *slog.Logger

	sem      chan struct{}
	rpm, tpm *bucket
	fallback atomic.Bool  // ModeAuto has switched to json_object
	lastWarn atomic.Int64 // when the server was last said to be unreachable, in Unix ns (see retryLevel)

	total struct{ requests, cacheHits, prompt, completion, cached, batchRequests, batchTokens atomic.Int64 }

	// offline, when set, makes the client answer from the cache only (see
	// Offline).
	offline *offline

	// Replaceable in tests, to run retries and limits without waiting.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(d time.Duration) time.Duration
}

// New returns a client for cfg. cache may be nil (no caching) and log nil
// (no logging).
func New(cfg Config, cache Cache, log *slog.Logger) (*Client, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, httpapi.Redact(fmt.Errorf("llm: %w", err), cfg.APIKey)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	oc := openai.DefaultConfig(c.APIKey)
	oc.BaseURL = c.BaseURL
	// The default transport keeps 2 idle connections per host, which would
	// churn connections under MaxConcurrent requests to one server.
	oc.HTTPClient = doer{&http.Client{Transport: httpapi.Transport(c.MaxConcurrent)}}
	now := time.Now
	cl := &Client{
		cfg:    c,
		base:   httpapi.RedactURL(c.BaseURL),
		api:    openai.NewClientWithConfig(oc),
		cache:  cache,
		log:    log,
		sem:    make(chan struct{}, c.MaxConcurrent),
		rpm:    newBucket(c.RequestsPerMinute, now()),
		tpm:    newBucket(c.TokensPerMinute, now()),
		now:    now,
		sleep:  httpapi.Sleep,
		jitter: httpapi.FullJitter,
	}
	log.Debug("llm client", "config", c)
	return cl, nil
}

// Usage returns the totals of the client's life.
func (c *Client) Usage() Usage {
	return Usage{
		Requests:         c.total.requests.Load(),
		CacheHits:        c.total.cacheHits.Load(),
		PromptTokens:     c.total.prompt.Load(),
		CompletionTokens: c.total.completion.Load(),
		CachedTokens:     c.total.cached.Load(),
		BatchRequests:    c.total.batchRequests.Load(),
		BatchTokens:      c.total.batchTokens.Load(),
	}
}

// add counts d in a call's usage and in the client's totals.
func (c *Client) add(u *Usage, d Usage) {
	u.Add(d)
	c.total.requests.Add(d.Requests)
	c.total.cacheHits.Add(d.CacheHits)
	c.total.prompt.Add(d.PromptTokens)
	c.total.completion.Add(d.CompletionTokens)
	c.total.cached.Add(d.CachedTokens)
	c.total.batchRequests.Add(d.BatchRequests)
	c.total.batchTokens.Add(d.BatchTokens)
}

// Complete asks for an answer to req that is JSON and passes valid (nil
// accepts any JSON). An invalid answer is re-asked up to MaxReasks times,
// then Complete returns an error wrapping ErrInvalidAnswer, with the last
// invalid answer as the Response's Content. The Response's Usage sums all
// attempts, also on error. A valid answer is cached; a cached one costs
// nothing and counts as a cache hit.
func (c *Client) Complete(ctx context.Context, req Request, valid func(content string) error) (Response, error) {
	var u Usage
	resp, err := c.complete(ctx, req, valid, &u)
	if errors.Is(err, errFallback) {
		resp, err = c.complete(ctx, req, valid, &u)
	}
	resp.Usage = u
	if err != nil {
		return resp, httpapi.Redact(fmt.Errorf("llm %s at %s: %w", c.model(req), c.base, err), c.cfg.APIKey)
	}
	return resp, nil
}

func (c *Client) model(req Request) string { return or(req.Model, c.cfg.Model) }

// params is a request as sent: the first attempt's messages and all that
// shapes the answer. The cache key covers all of it.
type params struct {
	model, mode, schemaName string
	messages                []openai.ChatCompletionMessage
	schema                  json.RawMessage
	temperature, topP       float32
	maxTokens               int
	logProbs                bool
}

// params builds the request for the current structured output mode.
func (c *Client) params(req Request) (params, error) {
	p := params{
		model:       c.model(req),
		mode:        ModeJSONSchema,
		schemaName:  or(req.SchemaName, "answer"),
		schema:      req.Schema,
		temperature: c.cfg.Temperature,
		topP:        c.cfg.TopP,
		maxTokens:   maxTokens(req.MaxTokens, c.cfg.MaxTokens),
		logProbs:    req.LogProbs,
	}
	if len(p.schema) > 0 && !json.Valid(p.schema) {
		return p, errors.New("request schema is not valid JSON")
	}
	if len(p.schema) == 0 || c.cfg.StructuredOutput == ModeJSONObject || c.fallback.Load() {
		p.mode = ModeJSONObject
	}
	system := req.System
	if p.mode == ModeJSONObject {
		// Without a schema in response_format the model only knows the
		// shape from the prompt. OpenAI also insists that the prompt
		// mention JSON in this mode.
		var sb strings.Builder
		sb.WriteString(system)
		if system != "" {
			sb.WriteString("\n\n")
		}
		if len(p.schema) > 0 {
			var compact bytes.Buffer
			_ = json.Compact(&compact, p.schema) // valid, checked above
			sb.WriteString("Answer with a JSON object that follows this JSON schema:\n")
			sb.Write(compact.Bytes())
			system = sb.String()
		} else if !strings.Contains(strings.ToLower(system+req.User), "json") {
			sb.WriteString("Answer with a JSON object.")
			system = sb.String()
		}
	}
	if system != "" {
		p.messages = append(p.messages, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: system})
	}
	p.messages = append(p.messages, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: req.User})
	return p, nil
}

// maxTokens is a request's token limit under the configured one.
func maxTokens(req, cfg int) int {
	if req <= 0 || (cfg > 0 && req > cfg) {
		return cfg
	}
	return req
}

// chatRequest is p with msgs as the messages.
func (p params) chatRequest(msgs []openai.ChatCompletionMessage) openai.ChatCompletionRequest {
	r := openai.ChatCompletionRequest{
		Model:       p.model,
		Messages:    msgs,
		Temperature: p.temperature,
		TopP:        p.topP,
		MaxTokens:   p.maxTokens,
		LogProbs:    p.logProbs,
	}
	if reasoningModel(p.model) {
		// go-openai refuses max_tokens and any sampling setting for
		// OpenAI's reasoning models before sending.
		r.Temperature, r.TopP, r.MaxTokens, r.MaxCompletionTokens = 0, 0, 0, p.maxTokens
	}
	r.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	if p.mode == ModeJSONSchema {
		r.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:   p.schemaName,
				Schema: p.schema,
				Strict: true,
			},
		}
	}
	return r
}

// reasoningModel reports whether go-openai treats model as one of OpenAI's
// reasoning models.
func reasoningModel(model string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

func (c *Client) complete(ctx context.Context, req Request, valid func(string) error, u *Usage) (Response, error) {
	p, err := c.params(req)
	if err != nil {
		return Response{}, err
	}
	key, err := cacheKey(p)
	if err != nil {
		return Response{}, err
	}
	if c.offline != nil {
		return c.answerOffline(ctx, p, key, valid, u)
	}
	if r, ok, cut := c.cached(ctx, key, valid); ok || cut {
		c.add(u, Usage{CacheHits: 1})
		if cut {
			return r, ErrCutOff
		}
		return r, nil
	}
	msgs := p.messages
	var last string // the last invalid answer
	var reason error
	for n := 0; n <= c.cfg.MaxReasks; n++ {
		if n > 0 {
			msgs = reask(msgs, last, reason)
		}
		resp, err := c.send(ctx, p, msgs, u)
		if err != nil {
			if c.cfg.StructuredOutput == ModeAuto && p.mode == ModeJSONSchema && schemaUnsupported(err) {
				if c.fallback.CompareAndSwap(false, true) {
					c.log.Warn("llm server rejects json_schema; using json_object from now on",
						"model", p.model, "base_url", c.base, "err", httpapi.Redact(err, c.cfg.APIKey))
				}
				return Response{}, errFallback
			}
			return Response{}, err
		}
		choice := resp.Choices[0]
		var content string
		content, reason = check(choice, valid)
		if reason != nil && choice.FinishReason == openai.FinishReasonLength {
			// Remembered, so that a retried activity splits at once
			// instead of paying for the cut answer again.
			c.store(ctx, key, entry{Model: p.model, CutOff: true, Usage: usageOf(resp.Usage)})
			return Response{Content: choice.Message.Content}, fmt.Errorf("%w (max_tokens %d): %w", ErrCutOff, p.maxTokens, reason)
		}
		if reason == nil {
			r := Response{Content: content, LogProbs: logProbsOf(choice)}
			c.store(ctx, key, entry{Model: p.model, Content: r.Content, Usage: usageOf(resp.Usage), LogProbs: r.LogProbs})
			return r, nil
		}
		last = choice.Message.Content
		c.log.Debug("llm invalid answer", "model", p.model, "base_url", c.base, "answer", n+1, "reason", reason)
	}
	return Response{Content: last}, fmt.Errorf("%w after %d answers: %w", ErrInvalidAnswer, c.cfg.MaxReasks+1, reason)
}

// reask is msgs followed by the model's invalid answer and what is wrong
// with it: a pointed correction works better than asking again blind.
func reask(msgs []openai.ChatCompletionMessage, last string, reason error) []openai.ChatCompletionMessage {
	return append(msgs[:len(msgs):len(msgs)],
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: or(last, "(empty answer)")},
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: fmt.Sprintf(
			"That answer is invalid: %v. Answer again with only the corrected JSON.", reason)})
}

// check returns the answer's JSON, or why it is not acceptable.
func check(choice openai.ChatCompletionChoice, valid func(string) error) (string, error) {
	msg := choice.Message
	if msg.Content == "" && msg.Refusal != "" {
		return "", fmt.Errorf("the model refused: %s", msg.Refusal)
	}
	content := stripFences(msg.Content)
	var v any
	if err := json.Unmarshal([]byte(content), &v); err != nil {
		if choice.FinishReason == openai.FinishReasonLength {
			return "", fmt.Errorf("the answer was cut off at the token limit: not JSON: %w", err)
		}
		return "", fmt.Errorf("not JSON: %w", err)
	}
	if valid != nil {
		if err := valid(content); err != nil {
			return "", err
		}
	}
	return content, nil
}

// stripFences returns the JSON inside a Markdown code fence (```json ...
// ```), which some servers wrap answers in even when asked for JSON.
func stripFences(s string) string {
	t := strings.TrimSpace(s)
	if json.Valid([]byte(t)) {
		return t
	}
	i := strings.Index(t, "```")
	if i < 0 {
		return t
	}
	rest := t[i+3:]
	nl := strings.IndexByte(rest, '\n')
	if nl < 0 {
		return t
	}
	if lang := strings.TrimSpace(rest[:nl]); strings.ContainsAny(lang, "{[") {
		return t // not a language tag: JSON right after the fence
	}
	rest = rest[nl+1:]
	j := strings.Index(rest, "```")
	if j < 0 {
		return strings.TrimSpace(rest)
	}
	return strings.TrimSpace(rest[:j])
}

func usageOf(u openai.Usage) Usage {
	r := Usage{PromptTokens: int64(u.PromptTokens), CompletionTokens: int64(u.CompletionTokens)}
	if d := u.PromptTokensDetails; d != nil {
		r.CachedTokens = int64(d.CachedTokens)
	}
	return r
}

func logProbsOf(choice openai.ChatCompletionChoice) []TokenLogProb {
	if choice.LogProbs == nil || len(choice.LogProbs.Content) == 0 {
		return nil
	}
	r := make([]TokenLogProb, len(choice.LogProbs.Content))
	for i, lp := range choice.LogProbs.Content {
		r[i] = TokenLogProb{Token: lp.Token, LogProb: lp.LogProb}
	}
	return r
}

// cached returns the cached answer for key if there is one that still
// passes valid, or reports that the request's answer was cut off. The
// caller's check may have become stricter since the entry was written; an
// entry it rejects is asked again.
func (c *Client) cached(ctx context.Context, key string, valid func(string) error) (r Response, ok, cut bool) {
	e, ok := c.lookup(ctx, key)
	switch {
	case !ok:
		return Response{}, false, false
	case e.CutOff:
		return Response{}, false, true
	case valid != nil && valid(e.Content) != nil:
		return Response{}, false, false
	}
	return Response{Content: e.Content, LogProbs: e.LogProbs}, true, false
}

// lookup returns the cache entry under key. Cache failures only cost a
// request, so they are logged, not returned.
func (c *Client) lookup(ctx context.Context, key string) (entry, bool) {
	if c.cache == nil {
		return entry{}, false
	}
	b, ok, err := c.cache.Get(ctx, key)
	if err != nil {
		c.log.Warn("llm cache read failed", "key", key, "err", err)
		return entry{}, false
	}
	if !ok {
		return entry{}, false
	}
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		c.log.Warn("llm cache entry unreadable", "key", key, "err", err)
		return entry{}, false
	}
	return e, true
}

// store caches a valid answer.
func (c *Client) store(ctx context.Context, key string, e entry) {
	if c.cache == nil {
		return
	}
	b, err := json.Marshal(e)
	if err == nil {
		err = c.cache.Put(ctx, key, b)
	}
	if err != nil {
		c.log.Warn("llm cache write failed", "key", key, "err", err)
	}
}

// send sends one request, retrying what may succeed on a retry. The
// returned response has at least one choice.
func (c *Client) send(ctx context.Context, p params, msgs []openai.ChatCompletionMessage, u *Usage) (openai.ChatCompletionResponse, error) {
	creq := p.chatRequest(msgs)
	est := estimate(msgs, creq.ResponseFormat)
	for attempt := 0; ; attempt++ {
		resp, x, err := c.once(ctx, creq, est)
		if x.sent {
			c.add(u, Usage{Requests: 1})
		}
		if err == nil {
			pu := usageOf(resp.Usage)
			c.add(u, pu)
			if n := pu.PromptTokens + pu.CompletionTokens; n > 0 {
				c.tpm.give(est - float64(n)) // replace the estimate by the real count
			}
			if len(resp.Choices) > 0 {
				return resp, nil
			}
			err = errNoChoices
		}
		if ctx.Err() != nil {
			return resp, ctx.Err()
		}
		if !x.sent || !retryable(err) {
			return resp, httpapi.Refused(err, c.cfg.APIKey != "")
		}
		if attempt >= c.cfg.MaxRetries {
			return resp, httpapi.GaveUp(err, attempt+1)
		}
		wait, ok := httpapi.ParseRetryAfter(x.retryAfter, c.now())
		if !ok {
			wait = httpapi.Backoff(attempt, c.cfg.BackoffBase, c.cfg.BackoffMax, c.jitter)
		}
		c.log.Log(ctx, c.retryLevel(err), "llm request failed; retrying", "model", p.model, "base_url", c.base,
			"attempt", attempt+1, "wait", wait, "err", httpapi.Redact(err, c.cfg.APIKey))
		if err := c.sleep(ctx, wait); err != nil {
			return resp, err
		}
	}
}

// unreachableWarnEvery spaces the warnings that the server cannot be
// reached: one now and then says it, one per request in flight would drown
// everything else.
const unreachableWarnEvery = 10 * time.Second

// retryLevel is the level of the line that says a request is retried:
// warn, now and then, when the server could not be reached or did not
// answer in time (no HTTP status), so that an endpoint that is down shows
// at the default level; info for 429 and 5xx, which are part of a busy
// server's normal day.
func (c *Client) retryLevel(err error) slog.Level {
	if httpapi.StatusOf(err) != 0 {
		return slog.LevelInfo
	}
	now := c.now().UnixNano()
	last := c.lastWarn.Load()
	if now-last < int64(unreachableWarnEvery) || !c.lastWarn.CompareAndSwap(last, now) {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// once sends a request within the limits and the per-request timeout.
func (c *Client) once(ctx context.Context, creq openai.ChatCompletionRequest, est float64) (openai.ChatCompletionResponse, *exchange, error) {
	x := &exchange{}
	if err := c.wait(ctx, est); err != nil {
		return openai.ChatCompletionResponse{}, x, err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return openai.ChatCompletionResponse{}, x, ctx.Err()
	}
	defer func() { <-c.sem }()
	rctx, cancel := context.WithTimeout(context.WithValue(ctx, exchangeKey{}, x), c.cfg.Timeout)
	defer cancel()
	resp, err := c.api.CreateChatCompletion(rctx, creq)
	return resp, x, err
}

// wait takes a request and est tokens from the rate limits, waiting until
// they are available.
func (c *Client) wait(ctx context.Context, est float64) error {
	now := c.now()
	d := max(c.rpm.take(now, 1), c.tpm.take(now, est))
	if d <= 0 {
		return ctx.Err()
	}
	if err := c.sleep(ctx, d); err != nil {
		c.rpm.give(1)
		c.tpm.give(est)
		return err
	}
	return nil
}

// estimate guesses a request's prompt tokens at 4 bytes a token, before
// the server counts them.
func estimate(msgs []openai.ChatCompletionMessage, f *openai.ChatCompletionResponseFormat) float64 {
	n := 0
	if f != nil && f.JSONSchema != nil {
		if s, ok := f.JSONSchema.Schema.(json.RawMessage); ok {
			n += len(s) // the server renders the schema into the prompt
		}
	}
	for _, m := range msgs {
		n += len(m.Content)
	}
	return float64(max(n/4, 1))
}
