package llm

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A server that refuses the request for good (401, 403, 404) is asked once,
// and the error says so (ErrRefused), so the job can stop at once with the
// cause instead of retrying what cannot succeed.
func TestRefusalsAreNotRetried(t *testing.T) {
	for _, tt := range []struct {
		status int
		key    string
		text   string
	}{
		{http.StatusUnauthorized, "", "no API key was sent"},
		{http.StatusUnauthorized, "sk-wrong", "Incorrect API key"},
		{http.StatusForbidden, "sk-test", "not allowed"},
		{http.StatusNotFound, "sk-test", "does not exist"},
	} {
		t.Run(http.StatusText(tt.status)+" "+tt.key, func(t *testing.T) {
			msg := map[int]string{401: "Incorrect API key provided", 403: "not allowed", 404: "The model `x` does not exist"}[tt.status]
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { fail(w, tt.status, msg) })
			c, ft := newClient(t, s, nil, func(c *Config) { c.APIKey = tt.key })
			_, err := c.Complete(context.Background(), Request{User: "x"}, nil)
			if got := s.calls.Load(); got != 1 {
				t.Errorf("server asked %d times, want once", got)
			}
			if len(ft.slept()) != 0 {
				t.Errorf("waited %v before giving up", ft.slept())
			}
			if !errors.Is(err, ErrRefused) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("error %v: want ErrRefused only", err)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), s.URL) {
				t.Errorf("error %q does not say %q and name the server", err, tt.text)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q shows the API key", err)
			}
		})
	}
}

// An endpoint that refuses connections or does not answer in time is
// retried, each retry logged, and once the retries run out the error says
// it is unavailable (ErrUnavailable): waiting may heal it.
func TestUnreachableEndpointIsRetriedThenUnavailable(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		var logs syncLog
		c, err := New(Config{BaseURL: "http://" + addr + "/v1", Model: "m", MaxRetries: 3,
			BackoffBase: time.Millisecond, BackoffMax: time.Millisecond}, nil, logs.logger())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Complete(context.Background(), Request{User: "x"}, nil)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRefused) {
			t.Fatalf("error %v: want ErrUnavailable only", err)
		}
		if !strings.Contains(err.Error(), "gave up after 4 attempts") || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), addr) {
			t.Errorf("error %q does not say how often, why and where", err)
		}
		if resp.Usage.Requests != 4 {
			t.Errorf("usage %+v, want 4 requests", resp.Usage)
		}
		if n := strings.Count(logs.String(), "llm request failed; retrying"); n != 3 {
			t.Errorf("%d retry lines logged, want 3:\n%s", n, logs.String())
		}
		// At the default level (warn), the first one shows.
		if n := strings.Count(logs.String(), `level=WARN msg="llm request failed; retrying"`); n != 1 {
			t.Errorf("%d retry lines logged at warn, want 1 (the next ones within %s at info):\n%s", n, unreachableWarnEvery, logs.String())
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		c, _ := newClient(t, s, nil, func(c *Config) { c.Timeout = 20 * time.Millisecond; c.MaxRetries = 2 })
		_, err := c.Complete(context.Background(), Request{User: "x"}, nil)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("error %v: want ErrUnavailable", err)
		}
		if got := s.calls.Load(); got != 3 {
			t.Errorf("server asked %d times, want 3", got)
		}
	})
}

// syncLog collects a logger's text lines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *syncLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
