package embed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/httpapi"
)

// fastRetry keeps retry tests quick.
var fastRetry = Retry{MaxRetries: 3, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}

// server is the test server behind a handler that records request bodies
// and can answer in its place.
type server struct {
	sim *llmsim.Server
	url string
	// intercept, if set, may answer request n (from 0) itself: it returns
	// true when it did.
	intercept func(n int, w http.ResponseWriter, body []byte) bool

	mu     sync.Mutex
	bodies []string
}

func newServer(t *testing.T, opt llmsim.Options, intercept func(n int, w http.ResponseWriter, body []byte) bool) *server {
	t.Helper()
	sim, err := llmsim.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{sim: sim, intercept: intercept}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { sim.Close(); hs.Close() })
	s.url = hs.URL
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.bodies)
	s.bodies = append(s.bodies, string(body))
	s.mu.Unlock()
	if s.intercept != nil && s.intercept(n, w, body) {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.sim.ServeHTTP(w, r)
}

// requests returns the bodies received so far.
func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func unit(t *testing.T, vs [][]float32, dim int) {
	t.Helper()
	for i, v := range vs {
		if len(v) != dim {
			t.Errorf("vector %d: %d values, want %d", i, len(v), dim)
			continue
		}
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if math.Abs(math.Sqrt(ss)-1) > 1e-5 {
			t.Errorf("vector %d: norm %v", i, math.Sqrt(ss))
		}
	}
}

func TestWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Mention
		w    int
		want string // the cut text with the mention marked
	}{
		{"short text kept", Mention{Text: "in Paris today", Start: 3, End: 8}, 20, "in <m>Paris</m> today"},
		{"no window", Mention{Text: " one two Paris three four ", Start: 9, End: 14}, 0, "one two <m>Paris</m> three four"},
		{"cut at white space", Mention{Text: "alpha beta gamma Paris delta epsilon zeta", Start: 17, End: 22}, 8, "gamma <m>Paris</m> delta"},
		{"cut exactly at white space", Mention{Text: "aaa bbb Paris ccc ddd", Start: 8, End: 13}, 4, "bbb <m>Paris</m> ccc"},
		{"no white space to cut at", Mention{Text: "xxxxxxxxParisyyyyyyyy", Start: 8, End: 13}, 3, "xxx<m>Paris</m>yyy"},
		{"code points", Mention{Text: "Zürich, Genève et Bâle sont", Start: 8, End: 14}, 10, "Zürich, <m>Genève</m> et Bâle"},
		{"mention at the edges", Mention{Text: "Paris", Start: 0, End: 5}, 3, "<m>Paris</m>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Mark(window(tc.m, tc.w)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    []float32
		dim  int
		err  string
	}{
		{"ok", []float32{3, 4}, 2, ""},
		{"short", []float32{3, 4}, 3, "2 values, want 3"},
		{"zero", []float32{0, 0}, 2, "all zero"},
		{"NaN", []float32{float32(math.NaN()), 1}, 2, "NaN"},
		{"Inf", []float32{float32(math.Inf(1)), 1}, 2, "Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := normalize(tc.v, tc.dim)
			if tc.err == "" {
				if err != nil || tc.v[0] != 0.6 || tc.v[1] != 0.8 {
					t.Errorf("got %v, %v; want [0.6 0.8]", tc.v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
}

func TestParallelStopsAtFirstError(t *testing.T) {
	lim := make(limiter, 2)
	boom := errors.New("boom")
	var mu sync.Mutex
	started := 0
	err := parallel(context.Background(), lim, 100, func(ctx context.Context, i int) error {
		mu.Lock()
		started++
		mu.Unlock()
		switch {
		case i < 3:
			return nil
		case i == 3:
			return boom
		}
		<-ctx.Done() // later calls wait until the error cancels them
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if started > 10 {
		t.Errorf("%d calls started after the error, want the rest skipped", started)
	}
	if len(lim) != 0 {
		t.Errorf("%d slots still held", len(lim))
	}
}

func TestRetry(t *testing.T) {
	// slow would run past the test's deadline if it backed off at all.
	slow := Retry{MaxRetries: 1, BackoffBase: time.Hour, BackoffMax: time.Hour}
	for _, tc := range []struct {
		name  string
		retry Retry   // fastRetry if zero
		errs  []error // returned by successive calls; nil after
		calls int
		ok    bool
		kind  error // wrapped by the error, if set
	}{
		{"500 then success", Retry{}, []error{&statusError{code: 500}}, 2, true, nil},
		{"429 with Retry-After", Retry{}, []error{&statusError{code: 429, wait: time.Millisecond, waitGiven: true}}, 2, true, nil},
		{"400 is final", Retry{}, []error{&statusError{code: 400}}, 1, false, nil},
		{"retries run out", Retry{}, []error{&statusError{code: 503}, &statusError{code: 503}, &statusError{code: 503}, &statusError{code: 503}}, 4, false, httpapi.ErrUnavailable},
		{"401 is a refusal", Retry{}, []error{&statusError{code: 401}}, 1, false, httpapi.ErrRefused},
		{"403 is a refusal", Retry{}, []error{&statusError{code: 403}}, 1, false, httpapi.ErrRefused},
		{"404 is a refusal", Retry{}, []error{&statusError{code: 404}}, 1, false, httpapi.ErrRefused},
		{"refused connections run out", Retry{}, []error{syscall.ECONNREFUSED, syscall.ECONNREFUSED, syscall.ECONNREFUSED, syscall.ECONNREFUSED}, 4, false, httpapi.ErrUnavailable},
		{"broken connection", Retry{}, []error{io.ErrUnexpectedEOF}, 2, true, nil},
		{"other errors are final", Retry{}, []error{errors.New("bad answer")}, 1, false, nil},
		{"Retry-After 0 retries at once", slow, []error{&statusError{code: 503, waitGiven: true}}, 2, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			r := tc.retry
			if r == (Retry{}) {
				r = fastRetry
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := r.do(ctx, true, func(context.Context) error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if calls != tc.calls || (err == nil) != tc.ok {
				t.Errorf("%d calls, error %v; want %d calls, ok %v", calls, err, tc.calls, tc.ok)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %v does not wrap %v", err, tc.kind)
			}
		})
	}
}
