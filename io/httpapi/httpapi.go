// Package httpapi holds what the project's clients of OpenAI-compatible
// HTTP servers (io/llm, io/embed, io/activations) share: which failures to retry and how
// long to wait before a retry, how to keep an API key or a URL's password
// out of messages, and how to check a base URL.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Redacted stands in for a secret in messages.
const Redacted = "[REDACTED]"

// MaxRetryAfter caps a server's Retry-After, so a bogus value cannot park
// a worker for hours.
const MaxRetryAfter = 5 * time.Minute

// StatusOf returns the HTTP status of a failed request, or 0: that of a
// go-openai *openai.APIError or *openai.RequestError, or of any error in
// err's chain with a method HTTPStatus() int.
func StatusOf(err error) int {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode
	}
	var se interface{ HTTPStatus() int }
	if errors.As(err, &se) {
		return se.HTTPStatus()
	}
	return 0
}

// RetryableStatus reports whether a request answered with code may
// succeed if sent again: rate limits, timeouts and server errors. Other
// 4xx are the request's fault and fail the same way every time.
func RetryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
}

// Retryable reports whether a failed request may succeed if sent again:
// a retryable status (see RetryableStatus), a timeout or a broken
// connection. The caller must check its own context first: a request cut
// short by it fails with a timeout too.
func Retryable(err error) bool {
	if s := StatusOf(err); s != 0 {
		return RetryableStatus(s)
	}
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE)
}

// ErrRefused is wrapped by the errors of requests that a server refused in
// a way that waiting cannot heal: 401 (no or a wrong API key), 403, 404 (a
// model or path that does not exist). Such requests are not retried.
var ErrRefused = errors.New("refused")

// ErrUnavailable is wrapped by the errors of requests that failed in a way
// that waiting may heal (a refused connection, a timeout, 429, 5xx) and
// kept failing until their retries ran out.
var ErrUnavailable = errors.New("unavailable")

// RefusedStatus reports whether a request answered with code was refused
// for good: 401, 403 or 404.
func RefusedStatus(code int) bool {
	return code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound
}

// Refused wraps err in ErrRefused when its status says the server refused
// the request for good (see RefusedStatus), saying whether an API key was
// sent; other errors are returned as they are.
func Refused(err error, keySent bool) error {
	s := StatusOf(err)
	if err == nil || !RefusedStatus(s) {
		return err
	}
	if s == http.StatusUnauthorized && !keySent {
		return fmt.Errorf("%w (no API key was sent: set OPENAI_API_KEY where the worker runs): %w", ErrRefused, err)
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

// GaveUp wraps err, the last failure of a request retried attempts times
// in all, in ErrUnavailable.
func GaveUp(err error, attempts int) error {
	return fmt.Errorf("%w: gave up after %d attempts: %w", ErrUnavailable, attempts, err)
}

// Backoff is the exponential backoff with full jitter before retry n
// (0-based): a random wait in [0, min(limit, base·2ⁿ)]. jitter maps the
// bound to the wait (FullJitter, or a fixed map in tests).
func Backoff(n int, base, limit time.Duration, jitter func(time.Duration) time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	return jitter(min(d, limit))
}

// FullJitter returns a uniformly random wait in [0, d].
func FullJitter(d time.Duration) time.Duration { return rand.N(d + 1) }

// ParseRetryAfter reads a Retry-After value, delay seconds or an HTTP
// date, as a wait from now of at most MaxRetryAfter; a date past is a
// wait of 0. ok is false if there is none or it is malformed.
func ParseRetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if !(s >= 0) { // negative or NaN
			return 0, false
		}
		return time.Duration(min(s, MaxRetryAfter.Seconds()) * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter), true
}

// Sleep waits d or until ctx is done, and returns ctx.Err() then.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Transport returns a clone of the default transport that keeps conns
// idle connections per host. The default keeps 2, which would churn
// connections under conns requests in flight to one server.
func Transport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conns
	return t
}

// redactedError is an error with the API key cut out of its text, in case
// a server echoes it back.
type redactedError struct {
	err error
	key string
}

func (e *redactedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.key, Redacted) }
func (e *redactedError) Unwrap() error { return e.err }

// Redact hides key in err's text; errors.Is and errors.As still see err.
func Redact(err error, key string) error {
	if err == nil || key == "" {
		return err
	}
	return &redactedError{err: err, key: key}
}

// RedactKey is what a configuration shows of an API key: Redacted, or ""
// when there is none.
func RedactKey(key string) string {
	if key == "" {
		return ""
	}
	return Redacted
}

// RedactURL hides a password in a URL's user info.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// CheckBaseURL checks that s is an http(s) URL with a host and returns it
// without query, fragment or trailing slashes.
func CheckBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port][/path]", RedactURL(s))
	}
	u.RawQuery, u.Fragment, u.RawPath = "", "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// APIRoot turns a base URL into an OpenAI-compatible API root: def when
// s is empty, s/v1 when s is a bare server root (http://host:8000), s as
// checked by CheckBaseURL otherwise, as other paths already are an API
// root (OpenRouter's /api/v1, Gemini's /v1beta/openai, a proxy's prefix).
func APIRoot(s, def string) (string, error) {
	if s == "" {
		return def, nil
	}
	u, err := CheckBaseURL(s)
	if err != nil {
		return "", err
	}
	if u.Path == "" {
		u.Path = "/v1"
	}
	return u.String(), nil
}
