package embed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/llmsim"
)

// hiddenRequests decodes the hidden-state requests received.
func hiddenRequests(t *testing.T, bodies []string) []hiddenRequest {
	t.Helper()
	var out []hiddenRequest
	for _, b := range bodies {
		var r hiddenRequest
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			t.Fatalf("request %s: %v", b, err)
		}
		out = append(out, r)
	}
	return out
}

// direct asks the test server for one span's vector in a request of its
// own, unit length.
func direct(t *testing.T, srv *server, layer, dim int, text string, start, end int) []float32 {
	t.Helper()
	h, err := NewHidden(context.Background(), HiddenConfig{BaseURL: srv.url, Layer: layer, Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.post(context.Background(), []hiddenInput{{Text: text, Spans: [][2]int{{start, end}}}})
	if err != nil {
		t.Fatal(err)
	}
	return r.Data[0].Vectors[0]
}

func TestHiddenMentions(t *testing.T) {
	srv := newServer(t, llmsim.Options{EmbedDim: 32}, nil)
	ctx := context.Background()
	h, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url + "/v1", Model: "llama", Layer: 17, APIKey: "sk-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Dim() != 32 {
		t.Fatalf("Dim %d, want the server's 32", h.Dim())
	}
	probes := len(srv.requests())
	a := "Ada Lovelace met Charles Babbage in London."
	b := "Zürich liegt nicht in Österreich."
	ms := []Mention{
		{Text: a, Start: 0, End: 12},  // Ada Lovelace
		{Text: b, Start: 0, End: 6},   // Zürich
		{Text: a, Start: 17, End: 32}, // Charles Babbage
		{Text: b, Start: 22, End: 32}, // Österreich
		{Text: a, Start: 36, End: 42}, // London
		{Text: a, Start: 0, End: 12},  // Ada Lovelace again
	}
	got, err := h.Mentions(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ms) {
		t.Fatalf("%d vectors for %d mentions", len(got), len(ms))
	}
	unit(t, got, 32)
	reqs := hiddenRequests(t, srv.requests()[probes:])
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Model != "llama" || r.Layer != 17 || r.Dim != 32 {
		t.Errorf("sent model %q, layer %d, dim %d", r.Model, r.Layer, r.Dim)
	}
	want := []hiddenInput{
		{Text: a, Spans: [][2]int{{0, 12}, {17, 32}, {36, 42}}},
		{Text: b, Spans: [][2]int{{0, 6}, {22, 32}}},
	}
	if fmt.Sprint(r.Inputs) != fmt.Sprint(want) {
		t.Errorf("sent %v, want the mentions grouped by text %v", r.Inputs, want)
	}
	for i, m := range ms {
		if !near(got[i], direct(t, srv, 17, 32, m.Text, m.Start, m.End)) {
			t.Errorf("mention %d: not the vector of its span", i)
		}
	}
	if !slices.Equal(got[0], got[5]) {
		t.Error("a repeated mention has another vector")
	}
	got[5][0] = 42
	if got[0][0] == 42 {
		t.Error("repeated mentions share a slice")
	}
	again, err := h.Mentions(ctx, ms[:5])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(again, got[:5], slices.Equal) {
		t.Error("the same mentions give other vectors")
	}
	if n := h.Name(); n != "hidden:llama:L17:d32:wall" {
		t.Errorf("Name %q", n)
	}
}

func TestHiddenBatches(t *testing.T) {
	srv := newServer(t, llmsim.Options{}, nil)
	ctx := context.Background()
	h, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url, Dim: 16, Batch: 2, MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	var ms []Mention
	for i := range 5 {
		text := fmt.Sprintf("Team %d won the cup.", i)
		ms = append(ms, Mention{Text: text, Start: 0, End: 6}, Mention{Text: text, Start: 15, End: 18})
	}
	got, err := h.Mentions(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	unit(t, got, 16)
	reqs := hiddenRequests(t, srv.requests())
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 of at most 2 texts", len(reqs))
	}
	texts := 0
	for _, r := range reqs {
		if len(r.Inputs) > 2 {
			t.Errorf("a request of %d texts", len(r.Inputs))
		}
		for _, in := range r.Inputs {
			texts++
			if len(in.Spans) != 2 {
				t.Errorf("%q sent with %d spans, want its 2", in.Text, len(in.Spans))
			}
		}
	}
	if texts != 5 {
		t.Errorf("%d texts sent, want 5", texts)
	}
	if vs, err := h.Mentions(ctx, nil); err != nil || len(vs) != 0 || len(srv.requests()) != 3 {
		t.Errorf("no mentions: %d vectors, error %v, %d requests in all", len(vs), err, len(srv.requests()))
	}
	for i, m := range ms {
		if !near(got[i], direct(t, srv, 0, 16, m.Text, m.Start, m.End)) {
			t.Errorf("mention %d: not the vector of its span", i)
		}
	}
}

func TestHiddenQueries(t *testing.T) {
	srv := newServer(t, llmsim.Options{}, nil)
	ctx := context.Background()
	h, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url, Dim: 16, Layer: 12})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Queries(ctx, []string{"sports team", " enzymes that break down starch ", "sports team"})
	if err != nil {
		t.Fatal(err)
	}
	unit(t, got, 16)
	reqs := hiddenRequests(t, srv.requests())
	want := []hiddenInput{{Text: "sports team", Spans: [][2]int{{0, 11}}}, {Text: "enzymes that break down starch", Spans: [][2]int{{0, 30}}}}
	if len(reqs) != 1 || fmt.Sprint(reqs[0].Inputs) != fmt.Sprint(want) {
		t.Errorf("sent %+v, want one request of %v", reqs, want)
	}
	for i, q := range []string{"sports team", "enzymes that break down starch", "sports team"} {
		if !near(got[i], direct(t, srv, 12, 16, q, 0, len([]rune(q)))) {
			t.Errorf("query %d: not the vector of its whole text", i)
		}
	}
	if _, err := h.Queries(ctx, []string{""}); err == nil || !strings.Contains(err.Error(), "query 0 is empty") {
		t.Errorf("empty query: error %v", err)
	}
}

// With a window, a long text is cut around its runs of mentions; the test
// server's vectors depend on two words each side, so they do not change.
func TestHiddenWindow(t *testing.T) {
	srv := newServer(t, llmsim.Options{}, nil)
	ctx := context.Background()
	var words []string
	for i := range 300 {
		words = append(words, fmt.Sprintf("w%03d", i))
	}
	doc := strings.Join(words, " ") // word i starts at 5i
	at := func(i int) Mention { return Mention{Text: doc, Start: 5 * i, End: 5*i + 4} }
	ms := []Mention{at(10), at(250), at(12), at(299), at(0)}
	whole, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url, Dim: 16})
	if err != nil {
		t.Fatal(err)
	}
	cut, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url, Dim: 16, Window: 20})
	if err != nil {
		t.Fatal(err)
	}
	want, err := whole.Mentions(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	n := len(srv.requests())
	got, err := cut.Mentions(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, near) {
		t.Error("cut texts give other vectors")
	}
	reqs := hiddenRequests(t, srv.requests()[n:])
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	var texts []string
	for _, in := range reqs[0].Inputs {
		if len([]rune(in.Text)) > 4*20+4 {
			t.Errorf("an input of %d code points", len([]rune(in.Text)))
		}
		for _, sp := range in.Spans {
			texts = append(texts, string([]rune(in.Text)[sp[0]:sp[1]]))
		}
	}
	// Four runs: w000, w010 with w012, w250, w299.
	if len(reqs[0].Inputs) != 4 || fmt.Sprint(texts) != "[w000 w010 w012 w250 w299]" {
		t.Errorf("sent %+v", reqs[0].Inputs)
	}
	if cut.Name() == whole.Name() {
		t.Errorf("the window is not in the name %q", cut.Name())
	}
}

func TestHiddenErrors(t *testing.T) {
	ctx := context.Background()
	ms := []Mention{{Text: "in Paris", Start: 3, End: 8}, {Text: "in Paris", Start: 0, End: 2}, {Text: "in Rome", Start: 3, End: 7}}
	vec := func(n int) string { return "[" + strings.Repeat("0.5,", n-1) + "0.5]" }
	good := fmt.Sprintf(`{"dim": 8, "data": [{"vectors": [%[1]s, %[1]s]}, {"vectors": [%[1]s]}]}`, vec(8))
	for _, tc := range []struct {
		name     string
		answer   func(n int, w http.ResponseWriter) bool // n counts requests from 0
		requests int
		err      string // "" for success
	}{
		{"500 then success", func(n int, w http.ResponseWriter) bool {
			if n < 2 {
				w.WriteHeader(500)
				fmt.Fprint(w, "upstream fell over")
			}
			return n < 2
		}, 3, ""},
		{"429 with Retry-After", func(n int, w http.ResponseWriter) bool {
			if n == 0 {
				w.Header().Set("Retry-After", "0.001")
				w.WriteHeader(429)
			}
			return n == 0
		}, 2, ""},
		{"400 is not retried", func(n int, w http.ResponseWriter) bool {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error": {"message": "layer 17 is past the model's 16"}}`)
			return true
		}, 1, "400 Bad Request: layer 17 is past the model's 16"},
		{"503 until retries run out", func(n int, w http.ResponseWriter) bool { w.WriteHeader(503); return true }, 4, "503"},
		{"an answer of its own", func(n int, w http.ResponseWriter) bool { fmt.Fprint(w, good); return true }, 1, ""},
		{"too few texts", func(n int, w http.ResponseWriter) bool {
			fmt.Fprintf(w, `{"dim": 8, "data": [{"vectors": [%[1]s, %[1]s]}]}`, vec(8))
			return true
		}, 1, "1 entries for 2 texts"},
		{"too few vectors", func(n int, w http.ResponseWriter) bool {
			fmt.Fprintf(w, `{"dim": 8, "data": [{"vectors": [%[1]s]}, {"vectors": [%[1]s]}]}`, vec(8))
			return true
		}, 1, "text 0: 1 vectors for 2 spans"},
		{"other dim", func(n int, w http.ResponseWriter) bool {
			fmt.Fprintf(w, `{"dim": 4, "data": [{"vectors": [%[1]s, %[1]s]}, {"vectors": [%[1]s]}]}`, vec(4))
			return true
		}, 1, "dim 4, want 8"},
		{"short vector", func(n int, w http.ResponseWriter) bool {
			fmt.Fprintf(w, `{"dim": 8, "data": [{"vectors": [%[1]s, %[1]s]}, {"vectors": [%[2]s]}]}`, vec(8), vec(7))
			return true
		}, 1, "text 1, span 0: vector of 7 values, want 8"},
		{"NaN", func(n int, w http.ResponseWriter) bool {
			fmt.Fprintf(w, `{"dim": 8, "data": [{"vectors": [%[1]s, %[1]s]}, {"vectors": [[NaN, 1, 1, 1, 1, 1, 1, 1]]}]}`, vec(8))
			return true
		}, 1, "NaN or Infinity"},
		{"not JSON", func(n int, w http.ResponseWriter) bool { fmt.Fprint(w, `{"dim": 8, "data": [`); return true }, 1, "malformed answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, llmsim.Options{}, func(n int, w http.ResponseWriter, _ []byte) bool { return tc.answer(n, w) })
			h, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url, Dim: 8, Retry: fastRetry})
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.Mentions(ctx, ms)
			if n := len(srv.requests()); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				unit(t, got, 8)
				return
			}
			url := srv.url + "/v1/hidden_states"
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), url) {
				t.Errorf("error %v, want one naming %s and saying %q", err, url, tc.err)
			}
		})
	}
	t.Run("mention outside its text", func(t *testing.T) {
		srv := newServer(t, llmsim.Options{}, nil)
		h, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url, Dim: 8})
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.Mentions(ctx, []Mention{{Text: "ab", Start: 0, End: 2}, {Text: "ab", Start: 1, End: 1}})
		if err == nil || !strings.Contains(err.Error(), "mention 1") || len(srv.requests()) != 0 {
			t.Errorf("error %v after %d requests, want one about mention 1 before any", err, len(srv.requests()))
		}
	})
	t.Run("secrets", func(t *testing.T) {
		cfg := HiddenConfig{BaseURL: "http://user:hunter2@127.0.0.1:1", APIKey: "sk-secret", Dim: 8, Retry: Retry{MaxRetries: -1}}
		h, err := NewHidden(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.Queries(ctx, []string{"x"})
		if err == nil {
			t.Fatal("no error from a closed port")
		}
		for _, s := range []string{cfg.String(), fmt.Sprintf("%#v", cfg), h.Name(), err.Error()} {
			if strings.Contains(s, "hunter2") || strings.Contains(s, "sk-secret") {
				t.Errorf("a secret shows in %q", s)
			}
		}
	})
	t.Run("the server refuses the probe", func(t *testing.T) {
		srv := newServer(t, llmsim.Options{}, func(n int, w http.ResponseWriter, _ []byte) bool {
			w.WriteHeader(404)
			fmt.Fprint(w, "404 page not found")
			return true
		})
		_, err := NewHidden(ctx, HiddenConfig{BaseURL: srv.url})
		if err == nil || !strings.Contains(err.Error(), "probe the width") || !strings.Contains(err.Error(), "404") {
			t.Errorf("error %v", err)
		}
	})
}

func TestAnswerError(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		body       string
		msg        string
		lo, hi     time.Duration // the wait's bounds, if given
		given      bool
	}{
		{"JSON message, seconds", "2", `{"error": {"message": "slow down"}}`, "slow down", 2 * time.Second, 2 * time.Second, true},
		{"JSON string, date", time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat), `{"error": "busy"}`, "busy", 8 * time.Second, 10 * time.Second, true},
		{"plain text, zero", "0", " upstream fell over\n", "upstream fell over", 0, 0, true},
		{"malformed Retry-After", "soon", "", "", 0, 0, false},
		{"no Retry-After", "", "", "", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: 429, Status: "429 Too Many Requests", Header: http.Header{}}
			if tc.retryAfter != "" {
				resp.Header.Set("Retry-After", tc.retryAfter)
			}
			err := answerError(resp, []byte(tc.body))
			se, ok := err.(*statusError)
			if !ok {
				t.Fatalf("answerError = %T %v, want a *statusError", err, err)
			}
			if se.code != 429 || se.msg != tc.msg {
				t.Errorf("code %d, message %q; want 429, %q", se.code, se.msg, tc.msg)
			}
			if se.waitGiven != tc.given || se.wait < tc.lo || se.wait > tc.hi {
				t.Errorf("wait %v (given %v), want one in [%v, %v] (given %v)", se.wait, se.waitGiven, tc.lo, tc.hi, tc.given)
			}
		})
	}
}
