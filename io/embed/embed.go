// Package embed holds the remote encoders of NER Retriever (METHODS.md §2):
// two encoders that ask a server for vectors of mentions in context and of
// type descriptions (internal/wire adapts them to retriever.Encoder).
//
// OpenAI asks an OpenAI-compatible embeddings endpoint (OpenAI, vLLM,
// Ollama, llama.cpp server, TEI). A mention is sent as its context with the
// mention marked, "... met <m>Ada Lovelace</m> in ...", the context cut to
// Window code points each side of the mention (at white space where it can)
// so that a long document is not sent once per mention; a type description
// is sent as its text, or through QueryTemplate.
//
// Hidden asks a hidden-state endpoint, a sidecar that runs a frozen LLM and
// returns one layer's representation at the last token of each span, as the
// paper's mid-layer value vectors. Its protocol:
//
//	POST {base}/v1/hidden_states
//	{"model": "meta-llama/Llama-3.1-8B", "layer": 17, "dim": 1024,
//	 "inputs": [{"text": "Ada Lovelace met Babbage in London.", "spans": [[0, 12], [28, 34]]},
//	            {"text": "sports team", "spans": [[0, 11]]}]}
//	->
//	{"dim": 1024, "data": [{"vectors": [[0.12, -0.5, ...], [...]]}, {"vectors": [[...]]}]}
//
// The fields and rules:
//   - "model" names the server's model, "layer" the layer (omitted: the
//     server's default), "dim", optional, the width the client expects. A
//     server that cannot answer that width (or that model or layer) answers
//     400.
//   - "inputs" holds at least one text; every text has at least one span.
//     Spans are [start, end) in Unicode code points of the text, half-open,
//     0 <= start < end <= length, like every offset in zeroner.
//   - The answer has one "data" entry per input, in order, and one vector
//     per span, in order, each exactly "dim" finite numbers: the chosen
//     layer's representation at the span's last token (the last token whose
//     characters overlap the span). The server need not normalise them.
//   - A type query is its text with one span covering the whole text.
//   - Errors are any status but 200, with a body {"error": {"message":
//     "..."}} or plain text. 400 means the request is wrong and is not
//     retried; 408, 429 and 5xx are retried with backoff (Retry-After, in
//     seconds or as an HTTP date, is honoured up to the client's longest
//     backoff).
//
// Hidden sends up to Batch texts per request and groups the mentions of one
// text into one input, so a text is run once however many mentions it has.
//
// Both encoders check every answer (count, width, finite non-zero values),
// L2-normalise the vectors, retry 408, 429, 5xx and broken connections with
// exponential backoff, bound requests in flight across all their callers,
// and send identical inputs of a call once. Their Name records the model,
// the width and every setting that changes the vectors, never an API key
// or a URL's password.
package embed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/zeroner/zeroner/io/httpapi"
)

// Defaults for zero settings.
const (
	DefaultWindow        = 200 // code points of context each side of a mention (OpenAI)
	DefaultOpenAIBatch   = 64  // inputs per embeddings request
	DefaultHiddenBatch   = 16  // texts per hidden-state request
	DefaultMaxConcurrent = 4
	DefaultMaxRetries    = 4
	DefaultBackoffBase   = 250 * time.Millisecond
	DefaultBackoffMax    = 10 * time.Second
	DefaultTimeout       = 2 * time.Minute
)

// Mention is a mention in its context: the context's text and the mention's
// code point span in it (the fields of retriever.Mention, which it converts
// from, so that this package needs nothing of the method's).
type Mention struct {
	Text       string
	Start, End int
}

// markVersion names the way mentions are marked (Mark); change it
// when the marking changes, so indexes built with the old one are refused.
const markVersion = "m1"

// Retry shapes retries of a failed request.
type Retry struct {
	// MaxRetries bounds retries of one request (0: default 4; negative:
	// none).
	MaxRetries int
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter (default 250ms and 10s).
	BackoffBase, BackoffMax time.Duration
}

func (r Retry) withDefaults() (Retry, error) {
	if r.BackoffBase < 0 || r.BackoffMax < 0 {
		return r, errors.New("negative backoff")
	}
	switch {
	case r.MaxRetries == 0:
		r.MaxRetries = DefaultMaxRetries
	case r.MaxRetries < 0:
		r.MaxRetries = 0
	}
	r.BackoffBase = cmp.Or(r.BackoffBase, DefaultBackoffBase)
	r.BackoffMax = max(cmp.Or(r.BackoffMax, DefaultBackoffMax), r.BackoffBase)
	return r, nil
}

// do calls f until it succeeds, fails for good, or retries run out. A
// refusal (401, 403, 404) wraps httpapi.ErrRefused, saying whether an
// API key was sent; a retryable failure that outlasts the retries wraps
// httpapi.ErrUnavailable.
func (r Retry) do(ctx context.Context, keySent bool, f func(context.Context) error) error {
	for n := 0; ; n++ {
		err := f(ctx)
		switch {
		case err == nil || ctx.Err() != nil:
			return err
		case !httpapi.Retryable(err):
			return httpapi.Refused(err, keySent)
		case n >= r.MaxRetries:
			return httpapi.GaveUp(err, n+1)
		}
		d := httpapi.Backoff(n, r.BackoffBase, r.BackoffMax, httpapi.FullJitter)
		var se *statusError
		if errors.As(err, &se) && se.waitGiven {
			d = min(se.wait, r.BackoffMax)
		}
		if httpapi.Sleep(ctx, d) != nil {
			return err
		}
	}
}

// statusError is an HTTP answer other than 200.
type statusError struct {
	code      int
	status    string
	msg       string
	wait      time.Duration // its Retry-After, if waitGiven
	waitGiven bool
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return e.status
	}
	return e.status + ": " + e.msg
}

// HTTPStatus lets httpapi.StatusOf see the status.
func (e *statusError) HTTPStatus() int { return e.code }

// limiter bounds requests in flight across all calls of an encoder.
type limiter chan struct{}

// parallel runs f(0), ..., f(n-1), at most cap(lim) at once, and returns
// the first error; the others are cancelled then.
func parallel(ctx context.Context, lim limiter, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := range n {
		select {
		case lim <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-lim }()
			if err := f(ctx, i); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}

// checkMention checks a mention's offsets and returns its text's length
// in code points.
func checkMention(m Mention) (int, error) {
	n := len([]rune(m.Text))
	if m.Start < 0 || m.End <= m.Start || m.End > n {
		return n, fmt.Errorf("span [%d, %d) is not inside a text of %d code points", m.Start, m.End, n)
	}
	return n, nil
}

// window cuts m's text to at most w code points each side of the mention,
// moving each cut to white space when one lies between it and the
// mention so that no word is halved, and trims white space at the edges.
// w <= 0 keeps the whole text (trimmed). m must be valid.
func window(m Mention, w int) Mention {
	rs := []rune(m.Text)
	lo, hi := 0, len(rs)
	if w > 0 {
		lo, hi = max(0, m.Start-w), min(len(rs), m.End+w)
		if lo > 0 && !unicode.IsSpace(rs[lo-1]) {
			for k := lo; k < m.Start; k++ {
				if unicode.IsSpace(rs[k]) {
					lo = k + 1
					break
				}
			}
		}
		if hi < len(rs) && !unicode.IsSpace(rs[hi]) {
			for k := hi - 1; k >= m.End; k-- {
				if unicode.IsSpace(rs[k]) {
					hi = k
					break
				}
			}
		}
	}
	for lo < m.Start && unicode.IsSpace(rs[lo]) {
		lo++
	}
	for hi > m.End && unicode.IsSpace(rs[hi-1]) {
		hi--
	}
	return Mention{Text: string(rs[lo:hi]), Start: m.Start - lo, End: m.End - lo}
}

// normalize checks that v has dim finite values, not all zero, and scales
// it to unit length in place.
func normalize(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("vector of %d values, want %d", len(v), dim)
	}
	var ss float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("vector holds %v", x)
		}
		ss += f * f
	}
	if ss == 0 {
		return errors.New("vector is all zero")
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return nil
}

// shortHash is 8 hex digits naming a setting's text in Name.
func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// unique lists the distinct strings of ins in first-seen order, and for
// each input the index of its string in that list.
func unique(ins []string) (distinct []string, at []int) {
	seen := make(map[string]int, len(ins))
	at = make([]int, len(ins))
	for i, s := range ins {
		k, ok := seen[s]
		if !ok {
			k = len(distinct)
			seen[s] = k
			distinct = append(distinct, s)
		}
		at[i] = k
	}
	return distinct, at
}

// trimQueries trims the type descriptions; empty is the index of the first
// that is empty then, or -1.
func trimQueries(descs []string) (ds []string, empty int) {
	ds = make([]string, len(descs))
	for i, d := range descs {
		if ds[i] = strings.TrimSpace(d); ds[i] == "" {
			return nil, i
		}
	}
	return ds, -1
}
