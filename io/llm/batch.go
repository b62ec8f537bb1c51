package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	openai "github.com/sashabaranov/go-openai"

	"github.com/zeroner/zeroner/io/httpapi"
)

// Batch providers answer many requests at once, hours later and at about
// half the price. zeroner uses them through the response cache: a stage runs
// with an Offline client, which answers what the cache holds and collects
// every other request; the requests go out as one batch; the answers that
// come back are put in the cache (Fill); the stage runs again and asks for
// what is still missing. Once nothing is missing the stage's output equals
// an online run's, because it was computed from the same answers.

// ErrPending is wrapped by an Offline client's error when the answer is not
// in the cache yet; the request has been added to the client's Pending.
var ErrPending = errors.New("answer pending in a batch")

// BatchEndpoint is the URL of every line of zeroner's batch files.
const BatchEndpoint = "/v1/chat/completions"

// BatchLine is one line of a batch request file, in the OpenAI Batch format:
//
//	{"custom_id": "<cache key>", "method": "POST", "url": "/v1/chat/completions", "body": {<chat completion request>}}
//
// The custom id is the request's cache key, so an answer finds its place in
// the cache by it.
type BatchLine struct {
	CustomID string                       `json:"custom_id"`
	Method   string                       `json:"method"`
	URL      string                       `json:"url"`
	Body     openai.ChatCompletionRequest `json:"body"`
}

// Pending collects the requests that an Offline client could not answer.
// It is safe for concurrent use.
type Pending struct {
	mu    sync.Mutex
	lines map[string]BatchLine
}

func (p *Pending) add(key string, body openai.ChatCompletionRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lines == nil {
		p.lines = make(map[string]BatchLine)
	}
	p.lines[key] = BatchLine{CustomID: key, Method: http.MethodPost, URL: BatchEndpoint, Body: body}
}

// Len is the number of distinct requests collected.
func (p *Pending) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Lines returns the requests in custom id order, so that the same requests
// always make the same file.
func (p *Pending) Lines() []BatchLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]BatchLine, 0, len(p.lines))
	for _, l := range p.lines {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b BatchLine) int { return strings.Compare(a.CustomID, b.CustomID) })
	return out
}

type offline struct {
	pending *Pending
	bought  map[string]bool
}

// Offline returns a client that sends no chat request: it answers from the
// cache, and for a request the cache cannot answer it adds the request to
// pending (if not nil) and fails with ErrPending. Invalid cached answers are
// re-asked as an online client would, up to MaxReasks times, each re-ask
// being a request of its own that waits for a batch. bought holds the cache
// keys of answers the caller bought in batches for this work: their tokens
// count as usage (BatchRequests, BatchTokens), other cached answers as cache
// hits. c must have a cache.
func (c *Client) Offline(pending *Pending, bought map[string]bool) *Client {
	return &Client{
		cfg: c.cfg, base: c.base, api: c.api, cache: c.cache, log: c.log,
		sem: c.sem, rpm: c.rpm, tpm: c.tpm, now: c.now, sleep: c.sleep, jitter: c.jitter,
		offline: &offline{pending: pending, bought: bought},
	}
}

// answerOffline is complete for an Offline client.
func (c *Client) answerOffline(ctx context.Context, p params, key string, valid func(string) error, u *Usage) (Response, error) {
	msgs := p.messages
	for n := 0; ; n++ {
		e, ok := c.lookup(ctx, key)
		if !ok {
			if c.offline.pending != nil {
				c.offline.pending.add(key, p.chatRequest(msgs))
			}
			return Response{}, ErrPending
		}
		c.add(u, c.offline.usage(key, e))
		if e.CutOff {
			return Response{}, ErrCutOff
		}
		var reason error
		if valid != nil {
			reason = valid(e.Content)
		}
		if reason == nil {
			return Response{Content: e.Content, LogProbs: e.LogProbs}, nil
		}
		if n >= c.cfg.MaxReasks {
			return Response{Content: e.Content}, fmt.Errorf("%w after %d answers: %w", ErrInvalidAnswer, n+1, reason)
		}
		// An online client would store the corrected answer under the
		// first key; here the first key holds the invalid answer already,
		// so the correction is found under its own key.
		msgs = reask(msgs, e.Content, reason)
		next := p
		next.messages = msgs
		var err error
		if key, err = cacheKey(next); err != nil {
			return Response{}, err
		}
	}
}

// usage is what the cached answer e under key costs the caller.
func (o *offline) usage(key string, e entry) Usage {
	if !o.bought[key] {
		return Usage{CacheHits: 1}
	}
	u := e.Usage
	u.Requests, u.CacheHits = 0, 0
	u.BatchRequests = 1
	u.BatchTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// EncodeBatch returns lines as a batch request file (JSON Lines).
func EncodeBatch(lines []BatchLine) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return nil, fmt.Errorf("batch line %s: %w", l.CustomID, err)
		}
	}
	return b.Bytes(), nil
}

// DecodeBatch reads a batch request file written by EncodeBatch.
func DecodeBatch(data []byte) ([]BatchLine, error) {
	var out []BatchLine
	err := eachLine(data, func(n int, line []byte) error {
		var l BatchLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// BatchResult is one line of a batch output or error file, in the OpenAI
// Batch format:
//
//	{"id": "...", "custom_id": "...", "response": {"status_code": 200, "request_id": "...", "body": {<chat completion>}}, "error": null}
//	{"id": "...", "custom_id": "...", "response": null, "error": {"code": "batch_expired", "message": "..."}}
type BatchResult struct {
	ID       string         `json:"id,omitempty"`
	CustomID string         `json:"custom_id"`
	Response *BatchResponse `json:"response"`
	Error    *BatchError    `json:"error"`
}

// BatchResponse is the HTTP answer to one line of a batch.
type BatchResponse struct {
	StatusCode int             `json:"status_code"`
	RequestID  string          `json:"request_id,omitempty"`
	Body       json.RawMessage `json:"body"`
}

// BatchError is why a line of a batch got no answer.
type BatchError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ParseBatchResults reads an output or error file. A line that is not a
// result is skipped and reported in bad, so one broken line loses nothing
// else; a line too long to read ends the file and is reported too.
func ParseBatchResults(data []byte) (results []BatchResult, bad []error) {
	err := eachLine(data, func(n int, line []byte) error {
		var r BatchResult
		if err := json.Unmarshal(line, &r); err != nil {
			bad = append(bad, fmt.Errorf("line %d: %w", n, err))
			return nil
		}
		if r.CustomID == "" {
			bad = append(bad, fmt.Errorf("line %d: no custom_id", n))
			return nil
		}
		results = append(results, r)
		return nil
	})
	if err != nil { // the callback never fails: the scanner did
		bad = append(bad, err)
	}
	return results, bad
}

// eachLine calls fn with each non-blank line of data and its number.
func eachLine(data []byte, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Fill puts the usable answers among results into the cache: those whose
// custom id is one of requests (an unknown id is ignored, so a response file
// cannot plant answers to questions never asked), with status 200 and JSON
// content. It returns the custom ids answered and, for every other request,
// why it was not. A later result for the same id wins over an earlier one
// only if the earlier was unusable.
func (c *Client) Fill(ctx context.Context, requests []BatchLine, results []BatchResult) (answered []string, missing map[string]string, err error) {
	if c.cache == nil {
		return nil, nil, errors.New("llm: batch answers need a response cache")
	}
	asked := make(map[string]BatchLine, len(requests))
	for _, l := range requests {
		asked[l.CustomID] = l
	}
	missing = make(map[string]string)
	done := make(map[string]bool)
	for _, r := range results {
		l, ok := asked[r.CustomID]
		if !ok || done[r.CustomID] {
			continue
		}
		e, reason := batchEntry(l, r)
		if reason != "" {
			missing[r.CustomID] = reason
			continue
		}
		b, err := json.Marshal(e)
		if err != nil {
			return nil, nil, err
		}
		if err := c.cache.Put(ctx, r.CustomID, b); err != nil {
			return nil, nil, fmt.Errorf("llm: store batch answer %s: %w", r.CustomID, err)
		}
		done[r.CustomID] = true
		delete(missing, r.CustomID)
		answered = append(answered, r.CustomID)
	}
	for id := range asked {
		if !done[id] && missing[id] == "" {
			missing[id] = "no answer in the batch's output"
		}
	}
	slices.Sort(answered)
	return answered, missing, nil
}

// batchEntry is the cache entry of a usable result, or why it is unusable.
func batchEntry(l BatchLine, r BatchResult) (entry, string) {
	switch {
	case r.Error != nil:
		return entry{}, fmt.Sprintf("%s: %s", r.Error.Code, r.Error.Message)
	case r.Response == nil:
		return entry{}, "no response"
	case r.Response.StatusCode != http.StatusOK:
		return entry{}, fmt.Sprintf("status %d: %s", r.Response.StatusCode, trim(string(r.Response.Body), 200))
	}
	var resp openai.ChatCompletionResponse
	if err := json.Unmarshal(r.Response.Body, &resp); err != nil {
		return entry{}, fmt.Sprintf("body is not a chat completion: %v", err)
	}
	if len(resp.Choices) == 0 {
		return entry{}, errNoChoices.Error()
	}
	// Only JSON is cached: the pipeline's checks run when the answer is
	// used, and an answer that is not JSON is asked again in a next round,
	// unless the token limit cut it: the same request would be cut again,
	// so that is remembered and the caller asks for less.
	content, err := check(resp.Choices[0], nil)
	if err != nil {
		if resp.Choices[0].FinishReason == openai.FinishReasonLength {
			return entry{Model: or(resp.Model, l.Body.Model), CutOff: true, Usage: usageOf(resp.Usage)}, ""
		}
		return entry{}, err.Error()
	}
	return entry{Model: or(resp.Model, l.Body.Model), Content: content, Usage: usageOf(resp.Usage),
		LogProbs: logProbsOf(resp.Choices[0])}, ""
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Batch is a provider's batch, as far as zeroner needs it.
type Batch struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	OutputFileID string `json:"output_file_id,omitempty"`
	ErrorFileID  string `json:"error_file_id,omitempty"`
	Total        int    `json:"total"`
	Completed    int    `json:"completed"`
	Failed       int    `json:"failed"`
}

// Done reports whether the batch will not change any more.
func (b Batch) Done() bool {
	switch b.Status {
	case "completed", "failed", "expired", "cancelled":
		return true
	}
	return false
}

func batchOf(b openai.Batch) Batch {
	r := Batch{ID: b.ID, Status: b.Status, Total: b.RequestCounts.Total,
		Completed: b.RequestCounts.Completed, Failed: b.RequestCounts.Failed}
	if b.OutputFileID != nil {
		r.OutputFileID = *b.OutputFileID
	}
	if b.ErrorFileID != nil {
		r.ErrorFileID = *b.ErrorFileID
	}
	return r
}

// batchTag is the metadata key by which SubmitBatch recognises its batches.
const batchTag = "zeroner_batch"

// maxListPages bounds how far back SubmitBatch looks for a batch it may have
// created before (100 batches a page, newest first).
const maxListPages = 20

// SubmitBatch uploads lines as a batch input file and creates a batch with
// the completion window (default "24h"), tagged with tag in its metadata.
// If a batch with the tag exists already, that batch is returned and nothing
// is sent: a submission retried after a crash between creating the batch
// and recording it does not pay twice.
func (c *Client) SubmitBatch(ctx context.Context, tag string, lines []BatchLine, window string) (Batch, error) {
	if b, ok, err := c.findBatch(ctx, tag); err != nil || ok {
		return b, err
	}
	data, err := EncodeBatch(lines)
	if err != nil {
		return Batch{}, err
	}
	f, err := c.api.CreateFileBytes(ctx, openai.FileBytesRequest{Name: "zeroner-batch.jsonl", Bytes: data, Purpose: openai.PurposeBatch})
	if err != nil {
		return Batch{}, c.wrap("upload batch file", err)
	}
	resp, err := c.api.CreateBatch(ctx, openai.CreateBatchRequest{
		InputFileID: f.ID, Endpoint: openai.BatchEndpointChatCompletions,
		CompletionWindow: or(window, "24h"), Metadata: map[string]any{batchTag: tag},
	})
	if err != nil {
		return Batch{}, c.wrap("create batch", err)
	}
	c.log.Info("llm batch created", "batch", resp.ID, "requests", len(lines), "tag", tag, "base_url", c.base)
	return batchOf(resp.Batch), nil
}

// findBatch returns the most recent batch tagged tag, if any.
func (c *Client) findBatch(ctx context.Context, tag string) (Batch, bool, error) {
	var after *string
	limit := 100
	for range maxListPages {
		page, err := c.api.ListBatch(ctx, after, &limit)
		if err != nil {
			return Batch{}, false, c.wrap("list batches", err)
		}
		for _, b := range page.Data {
			if v, _ := b.Metadata[batchTag].(string); v == tag {
				return batchOf(b), true, nil
			}
		}
		if !page.HasMore || page.LastID == "" {
			break
		}
		last := page.LastID
		after = &last
	}
	return Batch{}, false, nil
}

// RetrieveBatch returns the batch's current state.
func (c *Client) RetrieveBatch(ctx context.Context, id string) (Batch, error) {
	resp, err := c.api.RetrieveBatch(ctx, id)
	if err != nil {
		return Batch{}, c.wrap("retrieve batch "+id, err)
	}
	return batchOf(resp.Batch), nil
}

// FileContent downloads a file, such as a batch's output or error file.
func (c *Client) FileContent(ctx context.Context, id string) ([]byte, error) {
	resp, err := c.api.GetFileContent(ctx, id)
	if err != nil {
		return nil, c.wrap("download file "+id, err)
	}
	defer resp.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp); err != nil {
		return nil, c.wrap("download file "+id, err)
	}
	return b.Bytes(), nil
}

func (c *Client) wrap(what string, err error) error {
	return httpapi.Redact(fmt.Errorf("llm %s at %s: %w", what, c.base, httpapi.Refused(err, c.cfg.APIKey != "")), c.cfg.APIKey)
}
