package llm

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// maxRetryAfter caps a server's Retry-After, so a bogus value cannot park
// a worker for hours.
const maxRetryAfter = 5 * time.Minute

// exchange records what the transport saw of one request. go-openai's
// errors carry the status but not the headers, so the HTTP client fills
// this in through the request's context.
type exchange struct {
	sent       bool   // the request reached the transport
	retryAfter string // the response's Retry-After header
}

type exchangeKey struct{}

// doer is the HTTP client go-openai uses; it records each exchange.
type doer struct{ c *http.Client }

func (d doer) Do(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x != nil {
		x.sent = true
	}
	resp, err := d.c.Do(req)
	if x != nil && resp != nil {
		x.retryAfter = resp.Header.Get("Retry-After")
	}
	return resp, err
}

// statusOf returns the HTTP status of a go-openai error, or 0.
func statusOf(err error) int {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode
	}
	return 0
}

// retryable reports whether a failed request may succeed if sent again:
// rate limits, server errors, timeouts and broken connections. Other 4xx
// are the request's fault and fail the same way every time.
func retryable(err error) bool {
	if s := statusOf(err); s != 0 {
		return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500
	}
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, errNoChoices)
}

// schemaUnsupported reports whether err is a server refusing
// response_format json_schema. Servers say so in their own words, with 400
// or (FastAPI validation) 422, so look for what the words are about. A
// server that rejects this particular schema ("Invalid schema for
// response_format ...", as OpenAI says) does support schemas: falling back
// would hide a bug in the schema.
func schemaUnsupported(err error) bool {
	if s := statusOf(err); s != http.StatusBadRequest && s != http.StatusUnprocessableEntity {
		return false
	}
	msg := strings.ToLower(err.Error())
	return (strings.Contains(msg, "response_format") || strings.Contains(msg, "schema")) &&
		!strings.Contains(msg, "invalid schema")
}

// backoff is the exponential backoff with full jitter before retry n
// (0-based): a random wait in [0, min(max, base·2ⁿ)]. jitter maps the
// bound to the wait.
func backoff(n int, base, limit time.Duration, jitter func(time.Duration) time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	return jitter(min(d, limit))
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// ok is false if there is none or it is malformed.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if !(s >= 0) { // negative or NaN
			return 0, false
		}
		return time.Duration(min(s, maxRetryAfter.Seconds()) * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}
