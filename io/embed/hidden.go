package embed

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zeroner/zeroner/io/httpapi"
)

// maxAnswer bounds a hidden-state answer: 16 texts of 20 mentions at 4096
// dimensions are about 15 MB of JSON.
const maxAnswer = 256 << 20

// HiddenConfig configures a Hidden encoder. Zero values mean the defaults.
type HiddenConfig struct {
	// BaseURL is the sidecar's root, with or without /v1, e.g.
	// http://localhost:8001 (required).
	BaseURL string
	// APIKey, if set, is sent as a bearer token. It never appears in Name,
	// logs or errors.
	APIKey string
	// Model and Layer are sent as "model" and "layer"; Layer 0 leaves the
	// server's default layer.
	Model string
	Layer int
	// Dim is the width expected, sent as "dim". 0 sends none: NewHidden
	// learns the width from one request.
	Dim int
	// Window, when positive, cuts a long text to the stretch of its
	// mentions with Window code points each side (mentions far apart go in
	// separate inputs). 0 sends whole texts, as the server should see them
	// if they fit its context.
	Window int
	// Batch is texts per request (default 16).
	Batch int
	// MaxConcurrent bounds requests in flight (default 4).
	MaxConcurrent int
	// Timeout bounds each HTTP request (default 2m) when HTTP is nil.
	Timeout time.Duration
	// HTTP is the client to use (default: one with Timeout).
	HTTP *http.Client
	Retry
}

// String describes c with the API key and any URL password redacted.
func (c HiddenConfig) String() string { return httpapi.Describe(c) }

// GoString keeps %#v from printing the key.
func (c HiddenConfig) GoString() string { return c.String() }

// LogValue logs c with the API key and any URL password redacted.
func (c HiddenConfig) LogValue() slog.Value { return httpapi.LogValue(c) }

// Hidden is an encoder over a hidden-state endpoint (see the
// package doc for the protocol). It is safe for concurrent use;
// MaxConcurrent holds across all its callers.
type Hidden struct {
	cfg   HiddenConfig
	url   string // the endpoint
	shown string // url, password redacted
	dim   int
	hc    *http.Client
	lim   limiter
}

type hiddenInput struct {
	Text  string   `json:"text"`
	Spans [][2]int `json:"spans"`
}

type hiddenRequest struct {
	Model  string        `json:"model,omitempty"`
	Layer  int           `json:"layer,omitempty"`
	Dim    int           `json:"dim,omitempty"`
	Inputs []hiddenInput `json:"inputs"`
}

type hiddenResponse struct {
	Dim  int `json:"dim"`
	Data []struct {
		Vectors [][]float32 `json:"vectors"`
	} `json:"data"`
}

// NewHidden returns an encoder for cfg. Without cfg.Dim it sends one
// probe text to learn the width.
func NewHidden(ctx context.Context, cfg HiddenConfig) (*Hidden, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("embed hidden: no base URL")
	}
	u, err := httpapi.CheckBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("embed hidden: %w", err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/v1") + "/v1/hidden_states"
	if cfg.Layer < 0 || cfg.Dim < 0 || cfg.Window < 0 || cfg.Batch < 0 || cfg.MaxConcurrent < 0 || cfg.Timeout < 0 {
		return nil, errors.New("embed hidden: negative layer, dim, window, batch, concurrency or timeout")
	}
	cfg.Batch = cmp.Or(cfg.Batch, DefaultHiddenBatch)
	cfg.MaxConcurrent = cmp.Or(cfg.MaxConcurrent, DefaultMaxConcurrent)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if cfg.Retry, err = cfg.Retry.withDefaults(); err != nil {
		return nil, fmt.Errorf("embed hidden: %w", err)
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Transport: httpapi.Transport(cfg.MaxConcurrent), Timeout: cfg.Timeout}
	}
	h := &Hidden{
		cfg:   cfg,
		url:   u.String(),
		shown: u.Redacted(),
		dim:   cfg.Dim,
		hc:    hc,
		lim:   make(limiter, cfg.MaxConcurrent),
	}
	if h.dim == 0 {
		r, err := h.post(ctx, []hiddenInput{{Text: "entity", Spans: [][2]int{{0, 6}}}})
		if err != nil {
			return nil, h.errorf("probe the width: %w", err)
		}
		h.dim = r.Dim
	}
	return h, nil
}

// Name is "hidden:MODEL:LLAYER:dDIM:wWINDOW", with "default" for a model
// or layer left to the server and "wall" for whole texts.
func (h *Hidden) Name() string {
	model, layer, w := cmp.Or(h.cfg.Model, "default"), "default", "all"
	if h.cfg.Layer > 0 {
		layer = strconv.Itoa(h.cfg.Layer)
	}
	if h.cfg.Window > 0 {
		w = strconv.Itoa(h.cfg.Window)
	}
	return fmt.Sprintf("hidden:%s:L%s:d%d:w%s", model, layer, h.dim, w)
}

// Dim is the vectors' width.
func (h *Hidden) Dim() int { return h.dim }

// Mentions returns the vector at each mention's last token, running each
// text once for all its mentions.
func (h *Hidden) Mentions(ctx context.Context, ms []Mention) ([][]float32, error) {
	for i, m := range ms {
		if _, err := checkMention(m); err != nil {
			return nil, h.errorf("mention %d: %w", i, err)
		}
	}
	return h.encode(ctx, ms)
}

// Queries returns the vector of each type description, trimmed, as a span
// covering its whole text.
func (h *Hidden) Queries(ctx context.Context, descs []string) ([][]float32, error) {
	ds, empty := trimQueries(descs)
	if empty >= 0 {
		return nil, h.errorf("query %d is empty", empty)
	}
	ms := make([]Mention, len(ds))
	for i, d := range ds {
		ms[i] = Mention{Text: d, Start: 0, End: len([]rune(d))}
	}
	return h.encode(ctx, ms)
}

// slot is where a mention's vector is in an answer: input and span.
type slot struct{ input, span int }

func (h *Hidden) encode(ctx context.Context, ms []Mention) ([][]float32, error) {
	ins, at := h.plan(ms)
	vecs := make([][][]float32, len(ins)) // per input, per span
	b := h.cfg.Batch
	n := (len(ins) + b - 1) / b
	err := parallel(ctx, h.lim, n, func(ctx context.Context, k int) error {
		lo, hi := k*b, min((k+1)*b, len(ins))
		r, err := h.post(ctx, ins[lo:hi])
		if err != nil {
			return err
		}
		for i, d := range r.Data {
			vecs[lo+i] = d.Vectors
		}
		return nil
	})
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	out := make([][]float32, len(ms))
	used := make(map[slot]bool, len(ms))
	for i, s := range at {
		v := vecs[s.input][s.span]
		if used[s] { // the same mention twice: a copy of its own
			v = slices.Clone(v)
		}
		used[s] = true
		out[i] = v
	}
	return out, nil
}

// plan groups mentions by text into inputs, one span per distinct mention,
// and returns where each mention's vector will be. With a Window, a text
// is cut around each run of mentions that end within 2·Window code points
// of the run's first start, Window code points each side.
func (h *Hidden) plan(ms []Mention) ([]hiddenInput, []slot) {
	var texts []string
	byText := make(map[string][]int) // text -> its mentions
	for i, m := range ms {
		if _, ok := byText[m.Text]; !ok {
			texts = append(texts, m.Text)
		}
		byText[m.Text] = append(byText[m.Text], i)
	}
	w := h.cfg.Window
	var ins []hiddenInput
	at := make([]slot, len(ms))
	for _, t := range texts {
		idx := byText[t]
		runs := [][]int{idx}
		if w > 0 {
			slices.SortStableFunc(idx, func(a, b int) int {
				return cmp.Or(cmp.Compare(ms[a].Start, ms[b].Start), cmp.Compare(ms[a].End, ms[b].End))
			})
			runs = runs[:0]
			for _, i := range idx {
				if k := len(runs) - 1; k >= 0 && ms[i].End-ms[runs[k][0]].Start <= 2*w {
					runs[k] = append(runs[k], i)
					continue
				}
				runs = append(runs, []int{i})
			}
		}
		for _, run := range runs {
			in, shift := hiddenInput{Text: t}, 0
			if w > 0 {
				start, end := ms[run[0]].Start, 0
				for _, i := range run {
					end = max(end, ms[i].End)
				}
				c := window(Mention{Text: t, Start: start, End: end}, w)
				in.Text, shift = c.Text, start-c.Start
			}
			spanAt := make(map[[2]int]int, len(run))
			for _, i := range run {
				sp := [2]int{ms[i].Start - shift, ms[i].End - shift}
				k, ok := spanAt[sp]
				if !ok {
					k = len(in.Spans)
					spanAt[sp] = k
					in.Spans = append(in.Spans, sp)
				}
				at[i] = slot{len(ins), k}
			}
			ins = append(ins, in)
		}
	}
	return ins, at
}

// post sends one request, with retries, and checks the answer against it.
func (h *Hidden) post(ctx context.Context, ins []hiddenInput) (hiddenResponse, error) {
	body, err := json.Marshal(hiddenRequest{Model: h.cfg.Model, Layer: h.cfg.Layer, Dim: h.dim, Inputs: ins})
	if err != nil {
		return hiddenResponse{}, err
	}
	var r hiddenResponse
	err = h.cfg.Retry.do(ctx, h.cfg.APIKey != "", func(ctx context.Context) error {
		var err error
		r, err = h.once(ctx, body)
		return err
	})
	if err != nil {
		return r, err
	}
	if r.Dim <= 0 || (h.dim > 0 && r.Dim != h.dim) {
		return r, fmt.Errorf("malformed answer: dim %d, want %d", r.Dim, h.dim)
	}
	if len(r.Data) != len(ins) {
		return r, fmt.Errorf("malformed answer: %d entries for %d texts", len(r.Data), len(ins))
	}
	for i, d := range r.Data {
		if len(d.Vectors) != len(ins[i].Spans) {
			return r, fmt.Errorf("malformed answer: text %d: %d vectors for %d spans", i, len(d.Vectors), len(ins[i].Spans))
		}
		for j, v := range d.Vectors {
			if err := normalize(v, r.Dim); err != nil {
				return r, fmt.Errorf("malformed answer: text %d, span %d: %w", i, j, err)
			}
		}
	}
	return r, nil
}

// once sends one request.
func (h *Hidden) once(ctx context.Context, body []byte) (hiddenResponse, error) {
	var r hiddenResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return r, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.APIKey)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return r, err
	}
	if resp.StatusCode != http.StatusOK {
		return r, answerError(resp, data)
	}
	if len(data) > maxAnswer {
		return r, fmt.Errorf("answer larger than %d bytes", maxAnswer)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		// Python's json module writes NaN and Infinity, which are not JSON.
		if bytes.Contains(data, []byte("NaN")) || bytes.Contains(data, []byte("Infinity")) {
			return r, fmt.Errorf("malformed answer: it holds NaN or Infinity: %w", err)
		}
		return r, fmt.Errorf("malformed answer: %w", err)
	}
	return r, nil
}

// answerError describes a non-200 answer: its status, its error message
// (or the start of its body) and its Retry-After.
func answerError(resp *http.Response, data []byte) error {
	e := &statusError{code: resp.StatusCode, status: resp.Status}
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	var msg struct {
		Message string `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(data, &body) == nil && json.Unmarshal(body.Error, &msg) == nil && msg.Message != "":
		e.msg = msg.Message
	case json.Unmarshal(data, &body) == nil && json.Unmarshal(body.Error, &s) == nil && s != "":
		e.msg = s
	default:
		e.msg = strings.TrimSpace(string(data[:min(len(data), 200)]))
	}
	e.wait, e.waitGiven = httpapi.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

func (h *Hidden) errorf(format string, args ...any) error {
	return httpapi.Redact(fmt.Errorf("embed hidden %s: "+format, append([]any{h.shown}, args...)...), h.cfg.APIKey)
}
