package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// codeError is an error of another package that knows its HTTP status.
type codeError int

func (e codeError) Error() string   { return fmt.Sprintf("status %d", int(e)) }
func (e codeError) HTTPStatus() int { return int(e) }

func TestRetryable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("send: %w", err) }
	tests := []struct {
		name   string
		err    error
		status int
		retry  bool
	}{
		{"APIError 429", &openai.APIError{HTTPStatusCode: 429}, 429, true},
		{"APIError 400", &openai.APIError{HTTPStatusCode: 400}, 400, false},
		{"wrapped RequestError 503", wrap(&openai.RequestError{HTTPStatusCode: 503}), 503, true},
		{"RequestError 404", &openai.RequestError{HTTPStatusCode: 404}, 404, false},
		{"other package's 408", wrap(codeError(408)), 408, true},
		{"other package's 500", codeError(500), 500, true},
		{"other package's 422", codeError(422), 422, false},
		{"401", codeError(401), 401, false},
		{"timeout", wrap(context.DeadlineExceeded), 0, true},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("no route")}, 0, true},
		{"EOF", io.EOF, 0, true},
		{"body cut short", wrap(io.ErrUnexpectedEOF), 0, true},
		{"reset", wrap(syscall.ECONNRESET), 0, true},
		{"refused", syscall.ECONNREFUSED, 0, true},
		{"broken pipe", syscall.EPIPE, 0, true},
		{"cancelled", context.Canceled, 0, false},
		{"bad answer", errors.New("malformed answer"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StatusOf(tt.err); got != tt.status {
				t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.status)
			}
			if got := Retryable(tt.err); got != tt.retry {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.retry)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	whole := func(d time.Duration) time.Duration { return d }
	var got []time.Duration
	for n := range 9 {
		got = append(got, Backoff(n, 500*time.Millisecond, 30*time.Second, whole))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Backoff = %v, want %v", got, want)
	}
	if d := Backoff(1000, time.Second, time.Minute, whole); d != time.Minute {
		t.Errorf("Backoff(1000) = %v, want the cap", d)
	}
	zero := func(time.Duration) time.Duration { return 0 }
	if d := Backoff(3, time.Second, time.Minute, zero); d != 0 {
		t.Errorf("full jitter can wait 0, got %v", d)
	}
	for range 100 {
		if d := Backoff(2, time.Millisecond, time.Second, FullJitter); d < 0 || d > 4*time.Millisecond {
			t.Fatalf("Backoff(2, 1ms, 1s, FullJitter) = %v, want one in [0, 4ms]", d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{" 1.5 ", 1500 * time.Millisecond, true},
		{"-1", 0, false},
		{"NaN", 0, false},
		{"99999999999", MaxRetryAfter, true},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("cancelled Sleep: %v after %v", err, time.Since(start))
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled zero Sleep: %v", err)
	}
}

func TestRedact(t *testing.T) {
	const key = "sk-SECRET"
	base := &openai.APIError{HTTPStatusCode: 401, Message: "Incorrect API key provided: Bearer " + key}
	err := Redact(fmt.Errorf("llm m at http://x: %w", base), key)
	if s := err.Error(); strings.Contains(s, key) || !strings.Contains(s, "Bearer "+Redacted) || !strings.Contains(s, "http://x") {
		t.Errorf("Redact: %q, want the message with the key replaced by %s", s, Redacted)
	}
	if s := fmt.Sprintf("%+v %v %s", err, err, err); strings.Contains(s, key) {
		t.Errorf("formatted: %q shows the key", s)
	}
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr != base || StatusOf(err) != 401 {
		t.Errorf("Redact hides the error it wraps: %v", err)
	}
	if Redact(nil, key) != nil {
		t.Error("Redact(nil) is not nil")
	}
	if plain := errors.New("x " + key); Redact(plain, "") != plain {
		t.Error("Redact with no key changed the error")
	}
	if got := RedactKey(key); got != Redacted {
		t.Errorf("RedactKey(key) = %q", got)
	}
	if got := RedactKey(""); got != "" {
		t.Errorf("RedactKey(\"\") = %q, want \"\": an empty key is not shown as set", got)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://user:hunter2@host:8000/v1", "http://user:xxxxx@host:8000/v1"},
		{"http://user@host", "http://user@host"},
		{"http://host:8000/v1", "http://host:8000/v1"},
		{"", ""},
		{"::not a url", "::not a url"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://localhost:8001", "http://localhost:8001"},
		{" https://host/v1/?x=1#f ", "https://host/v1"},
		{"http://host/a%2Fb/", "http://host/a/b"},
		{"localhost:8001", ""},
		{"ftp://x", ""},
		{"http://", ""},
	}
	for _, tt := range tests {
		u, err := CheckBaseURL(tt.in)
		got := ""
		if err == nil {
			got = u.String()
		}
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("CheckBaseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	_, err := CheckBaseURL("ftp://user:hunter2@host")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "ftp://user:xxxxx@host") {
		t.Errorf("CheckBaseURL of an ftp URL: %v, want an error naming it without the password", err)
	}
}

func TestAPIRoot(t *testing.T) {
	const def = "https://api.openai.com/v1"
	tests := []struct{ in, want string }{
		{"", def},
		{"http://localhost:8000", "http://localhost:8000/v1"},
		{"http://localhost:8000/", "http://localhost:8000/v1"},
		{"http://localhost:8000/v1", "http://localhost:8000/v1"},
		{"http://localhost:8000/v1/", "http://localhost:8000/v1"},
		{"https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"},
		{"https://generativelanguage.googleapis.com/v1beta/openai/", "https://generativelanguage.googleapis.com/v1beta/openai"},
		{"localhost:8000", ""},
		{"ftp://x", ""},
		{"http://", ""},
	}
	for _, tt := range tests {
		got, err := APIRoot(tt.in, def)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("APIRoot(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
