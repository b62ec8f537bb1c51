package llmsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const maxBody = 64 << 20

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
	Logprobs            bool `json:"logprobs"`
	TopLogprobs         int  `json:"top_logprobs"`
	MaxTokens           int  `json:"max_tokens"`
	MaxCompletionTokens int  `json:"max_completion_tokens"`
	Stream              bool `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// text reads a message content: a string, or an array of parts whose
// "text" fields are joined.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": status}})
}

// retryAfter sets Retry-After in seconds: whole seconds as the standard
// has it, a fraction when RetryAfter is under a second or not whole (for
// fast tests; zeroner's client reads fractions).
func (s *Server) retryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.FormatFloat(s.opt.RetryAfter.Seconds(), 'f', -1, 64))
}

// tokensOf estimates tokens as bytes/4, rounded up.
func tokensOf(n int) int64 { return int64((n + 3) / 4) }

// parseChat reads a chat completion request body: the request, the chat
// its answer depends on and the size of its prompt in bytes.
func parseChat(body []byte) (chatRequest, chat, int, error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		return chatRequest{}, chat{}, 0, fmt.Errorf("not a chat completion request: %v", err)
	}
	var c chat
	promptBytes := 0
	convo := sha256.New()
	for _, m := range req.Messages {
		t := contentText(m.Content)
		promptBytes += len(t)
		fmt.Fprintf(convo, "%s\x00%s\x00", m.Role, t)
		switch m.Role {
		case "system", "developer":
			c.system += t
		case "user":
			if c.user == "" { // a re-ask adds corrections after the input
				c.user = t
			}
		}
	}
	schemaName := ""
	if rf := req.ResponseFormat; rf != nil && rf.JSONSchema != nil {
		c.schema = rf.JSONSchema.Schema
		schemaName = rf.JSONSchema.Name
	}
	c.kind = kindOf(schemaName, c.system)
	c.convo = hex.EncodeToString(convo.Sum(nil)[:16])
	return req, c, promptBytes, nil
}

// usage counts the tokens of one answer.
type usage struct{ prompt, completion, cached int64 }

// object is the usage object of a response.
func (u usage) object() map[string]any {
	return map[string]any{
		"prompt_tokens":         u.prompt,
		"completion_tokens":     u.completion,
		"total_tokens":          u.prompt + u.completion,
		"prompt_tokens_details": map[string]any{"cached_tokens": u.cached},
	}
}

// usageOf counts the tokens of answer a to chat c of promptBytes bytes
// asked of model.
func (s *Server) usageOf(model string, c chat, promptBytes int, a answer) usage {
	return usage{prompt: tokensOf(promptBytes), completion: tokensOf(len(a.content)), cached: s.cachedTokens(model, c.system)}
}

// cachedTokens gives the prompt tokens served from the cache: those of the
// system message when the model has seen it before, as a provider's prompt
// cache would. It marks the system message seen.
func (s *Server) cachedTokens(model, system string) int64 {
	if system == "" || s.opt.NoPromptCache {
		return 0
	}
	key := sha256.Sum256([]byte(model + "\x00" + system))
	s.mu.Lock()
	defer s.mu.Unlock()
	cached := int64(0)
	if s.systems[key] {
		cached = int64(len(system) / 4)
	}
	s.systems[key] = true
	return cached
}

// chatID is the id of the answer to a body with hash sum.
func chatID(sum [32]byte) string { return "chatcmpl-" + hex.EncodeToString(sum[:12]) }

// modelName is the model a response reports: the one asked for, else the
// first one served.
func (s *Server) modelName(asked string) string {
	if asked == "" {
		return s.opt.Models[0]
	}
	return asked
}

// choiceLogprobs is the logprobs of a choice: nil unless req asks for them.
func (s *Server) choiceLogprobs(req chatRequest, a answer) any {
	if !req.Logprobs {
		return nil
	}
	return map[string]any{"content": s.logprobs(a, req.TopLogprobs)}
}

// completion is the chat.completion object answering req with a.
func (s *Server) completion(req chatRequest, a answer, finish string, u usage, created int64, id string) map[string]any {
	return map[string]any{
		"id":      id,
		"object":  "chat.completion",
		"created": created,
		"model":   s.modelName(req.Model),
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": a.content},
			"logprobs":      s.choiceLogprobs(req, a),
			"finish_reason": finish,
		}},
		"usage": u.object(),
	}
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "reading the body: "+err.Error())
		return
	}
	req, c, promptBytes, err := parseChat(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	s.count(func(st *Stats) { st.Requests++; st.ByKind[c.kind]++ })

	release, ok := s.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.count(func(st *Stats) { st.MaxInFlight = max(st.MaxInFlight, n) })

	sum := sha256.Sum256(body)
	fault := s.drawFault(sum)
	if s.injectError(w, r, fault) {
		return
	}

	a := s.reply(c)
	finish := "stop"
	switch fault {
	case "malformed":
		a = answer{content: "Sure! Here is the JSON you asked for: " + cutRunes(a.content, len(a.content)/3) + " ..."}
	case "truncated":
		a = answer{content: cutRunes(a.content, len(a.content)/2)}
		finish = "length"
	}
	a, finish = s.limit(req, a, finish)

	// Usage.
	u := s.usageOf(req.Model, c, promptBytes, a)
	s.count(func(st *Stats) {
		st.PromptTokens += u.prompt
		st.CompletionTokens += u.completion
		st.CachedTokens += u.cached
	})
	id := chatID(sum)
	created := time.Now().Unix()

	// Latency.
	if !sleep(r, s.done, s.opt.TTFT) {
		return
	}
	if req.Stream {
		s.stream(w, r, req, a, finish, u, created, id)
		return
	}
	if !sleep(r, s.done, time.Duration(u.completion)*s.opt.PerToken) {
		return
	}
	writeJSON(w, http.StatusOK, s.completion(req, a, finish, u, created, id))
}

// limit cuts an answer at the request's max_tokens (else
// max_completion_tokens) when the server honours it (SmallModel.MaxTokens)
// and the answer is longer, as a real server stops generating there; it
// returns the answer and its finish reason.
func (s *Server) limit(req chatRequest, a answer, finish string) (answer, string) {
	n := req.MaxTokens
	if req.MaxCompletionTokens > 0 {
		n = req.MaxCompletionTokens
	}
	if !s.opt.Small.MaxTokens || n <= 0 || tokensOf(len(a.content)) <= int64(n) {
		return a, finish
	}
	a.content = cutRunes(a.content, n*4)
	s.countSmall(map[string]int64{SmallMaxTokens: 1})
	return a, "length"
}

// acquire takes a place among the requests served at once (--max-concurrent):
// it waits for one, or with Reject answers 429 at once; ok is false when the
// request was answered or abandoned instead.
func (s *Server) acquire(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if s.sem == nil {
		return func() {}, true
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, true
	default:
	}
	if s.opt.Reject {
		s.count(func(st *Stats) { st.Rejected++ })
		s.retryAfter(w)
		writeError(w, http.StatusTooManyRequests, "rate_limit_error", "llmsim: at capacity")
		return nil, false
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, true
	case <-r.Context().Done():
		return nil, false
	case <-s.done:
		writeError(w, http.StatusServiceUnavailable, "server_error", "llmsim: closed")
		return nil, false
	}
}

// drawFault draws the fault of this attempt of the body with the given
// sum, counted per attempt of the same body (only when there are faults, so
// a long fault-free run keeps no state per request).
func (s *Server) drawFault(sum [sha256.Size]byte) string {
	if s.opt.Faults == (Faults{}) {
		return ""
	}
	s.mu.Lock()
	attempt := s.attempts[sum]
	s.attempts[sum]++
	s.mu.Unlock()
	fault := s.fault(sum, attempt)
	if fault != "" {
		s.count(func(st *Stats) { st.Faults[fault]++ })
	}
	return fault
}

// injectError answers with the fault's error, if it is one that answers
// no content, and says whether it did.
func (s *Server) injectError(w http.ResponseWriter, r *http.Request, fault string) bool {
	switch fault {
	case "rate_limit":
		s.retryAfter(w)
		writeError(w, http.StatusTooManyRequests, "rate_limit_error", "llmsim: injected rate limit")
	case "server_error":
		writeError(w, http.StatusInternalServerError, "server_error", "llmsim: injected server error")
	case "timeout":
		select {
		case <-r.Context().Done():
		case <-s.done:
		case <-time.After(s.opt.Hang):
		}
		writeError(w, http.StatusGatewayTimeout, "timeout", "llmsim: injected timeout")
	default:
		return false
	}
	return true
}

// stream writes the answer as server-sent events: the role, the content
// after its tokens' time, the finish reason, usage if asked, [DONE].
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req chatRequest, a answer, finish string, u usage, created int64, id string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	model := s.modelName(req.Model)
	send := func(choices []any, extra map[string]any) {
		ev := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices}
		for k, v := range extra {
			ev[k] = v
		}
		b, _ := json.Marshal(ev)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	send([]any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}, "finish_reason": nil}}, nil)
	if !sleep(r, s.done, time.Duration(u.completion)*s.opt.PerToken) {
		return
	}
	send([]any{map[string]any{"index": 0, "delta": map[string]any{"content": a.content}, "logprobs": s.choiceLogprobs(req, a), "finish_reason": nil}}, nil)
	send([]any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": finish}}, nil)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		send([]any{}, map[string]any{"usage": u.object()})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}

// sleep waits d unless the client leaves or the server closes; it reports
// whether to go on.
func sleep(r *http.Request, done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-done:
		return false
	}
}

// fault draws the fault of one attempt, "" for none.
func (s *Server) fault(sum [32]byte, attempt int) string {
	f := s.opt.Faults
	u := s.rng("fault", hex.EncodeToString(sum[:]), strconv.Itoa(attempt)).Float64()
	for _, x := range []struct {
		name string
		p    float64
	}{{"rate_limit", f.RateLimit}, {"server_error", f.ServerError}, {"timeout", f.Timeout}, {"malformed", f.Malformed}, {"truncated", f.Truncated}} {
		if u < x.p {
			return x.name
		}
		u -= x.p
	}
	return ""
}

// cutRunes cuts s to at most n bytes at a code point boundary.
func cutRunes(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:min(n, len(s))]
}

// logprobs gives each token of the answer a deterministic log probability:
// near 0 (a confident model), about -1.2 inside a low-confidence range.
func (s *Server) logprobs(a answer, top int) []any {
	r := s.rng("logprobs", a.content)
	out := []any{}
	pos := 0
	for _, t := range tokens(a.content) {
		lp := -float64(r.IntN(50)) / 1000
		for _, l := range a.low {
			if pos < l[1] && pos+len(t) > l[0] {
				lp = -1.2 - float64(r.IntN(100))/1000
			}
		}
		pos += len(t)
		e := map[string]any{"token": t, "logprob": lp, "bytes": []byte(t), "top_logprobs": []any{}}
		if top > 0 {
			e["top_logprobs"] = []any{map[string]any{"token": t, "logprob": lp, "bytes": []byte(t)}}
		}
		out = append(out, e)
	}
	return out
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		Dimensions     int             `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "not an embeddings request: "+err.Error())
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if err := json.Unmarshal(req.Input, &inputs); err != nil {
		// Token arrays: embed their JSON text.
		var raws []json.RawMessage
		if json.Unmarshal(req.Input, &raws) != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "input must be a string or an array")
			return
		}
		for _, x := range raws {
			inputs = append(inputs, string(x))
		}
	}
	if len(inputs) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "no input")
		return
	}
	dim := s.opt.EmbedDim
	if req.Dimensions > 0 {
		dim = req.Dimensions
	}
	if dim > 1<<16 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "dimensions too large")
		return
	}
	var data []any
	toks := int64(0)
	for i, in := range inputs {
		v := Embed(in, dim)
		toks += tokensOf(len(in))
		var emb any = v
		if req.EncodingFormat == "base64" {
			var buf bytes.Buffer
			_ = binary.Write(&buf, binary.LittleEndian, v)
			emb = base64.StdEncoding.EncodeToString(buf.Bytes())
		}
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": emb})
	}
	s.count(func(st *Stats) { st.Embeddings++; st.PromptTokens += toks })
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": s.modelName(req.Model),
		"usage": map[string]any{"prompt_tokens": toks, "total_tokens": toks},
	})
}

// Embed returns the simulator's embedding of s: a unit vector of dim
// float32 drawn from a generator seeded by a hash of s, the same on every
// server.
func Embed(s string, dim int) []float32 {
	h := sha256.Sum256([]byte(s))
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])))
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		norm = 1
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	var data []any
	for _, m := range s.opt.Models {
		data = append(data, map[string]any{"id": m, "object": "model", "created": 0, "owned_by": "llmsim"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) statsHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}
