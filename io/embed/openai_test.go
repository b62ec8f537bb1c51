package embed

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/internal/llmsim"
)

// simVector is the test server's embedding of text, unit length.
func simVector(text string, dim int) []float32 {
	v := llmsim.Embed(text, dim)
	_ = normalize(v, dim)
	return v
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// embeddingInputs returns the inputs of each embeddings request.
func embeddingInputs(t *testing.T, bodies []string) [][]string {
	t.Helper()
	var out [][]string
	for _, b := range bodies {
		var req struct {
			Input      []string `json:"input"`
			Dimensions int      `json:"dimensions"`
		}
		if err := json.Unmarshal([]byte(b), &req); err != nil {
			t.Fatalf("request %s: %v", b, err)
		}
		out = append(out, req.Input)
	}
	return out
}

func TestOpenAIMentions(t *testing.T) {
	srv := newServer(t, llmsim.Options{}, nil)
	ctx := context.Background()
	e, err := NewOpenAI(ctx, OpenAIConfig{BaseURL: srv.url, APIKey: "sk-secret", Model: "emb", Dimensions: 24, Window: 30, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	var long []string
	for i := range 200 {
		long = append(long, fmt.Sprintf("w%03d", i))
	}
	doc := strings.Join(long, " ") // w100 starts at code point 500
	ms := []Mention{
		{Text: "Yesterday Ada Lovelace met Babbage.", Start: 10, End: 22},
		{Text: "Yesterday Ada Lovelace met Babbage.", Start: 27, End: 34},
		{Text: doc, Start: 500, End: 504},
		{Text: "Yesterday Ada Lovelace met Babbage.", Start: 10, End: 22}, // again
	}
	for i := range 6 {
		ms = append(ms, Mention{Text: "Bâle est en Suisse", Start: 0, End: i%4 + 1})
	}
	got, err := e.Mentions(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ms) {
		t.Fatalf("%d vectors for %d mentions", len(got), len(ms))
	}
	unit(t, got, 24)
	if e.Dim() != 24 {
		t.Errorf("Dim %d, want 24", e.Dim())
	}
	// What was sent: each distinct input once, in batches of 4.
	reqs := embeddingInputs(t, srv.requests())
	var sent []string
	for _, r := range reqs {
		if len(r) > 4 {
			t.Errorf("a request of %d inputs, batch is 4", len(r))
		}
		sent = append(sent, r...)
	}
	if len(sent) != 7 || len(reqs) != 2 {
		t.Errorf("sent %d inputs in %d requests, want the 7 distinct ones in 2: %q", len(sent), len(reqs), sent)
	}
	for i, want := range map[int]string{
		0: "Yesterday <m>Ada Lovelace</m> met Babbage.",
		1: "Yesterday Ada Lovelace met <m>Babbage</m>.",
		2: "w094 w095 w096 w097 w098 w099 <m>w100</m> w101 w102 w103 w104 w105 w106",
		4: "<m>B</m>âle est en Suisse",
		5: "<m>Bâ</m>le est en Suisse",
	} {
		if !slices.Contains(sent, want) {
			t.Errorf("mention %d: %q was not sent: %q", i, want, sent)
		}
		if !near(got[i], simVector(want, 24)) {
			t.Errorf("mention %d: the vector is not that of %q", i, want)
		}
	}
	// A repeated mention has the same vector, in a slice of its own.
	if !slices.Equal(got[0], got[3]) || !slices.Equal(got[4], got[8]) {
		t.Error("repeated mentions have different vectors")
	}
	got[3][0] = 42
	if got[0][0] == 42 {
		t.Error("repeated mentions share a slice")
	}
	if vs, err := e.Mentions(ctx, nil); err != nil || len(vs) != 0 || len(srv.requests()) != len(reqs) {
		t.Errorf("no mentions: %d vectors, error %v, %d requests in all", len(vs), err, len(srv.requests()))
	}
	again, err := e.Mentions(ctx, ms[:3])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(again, got[:3], slices.Equal) {
		t.Error("the same mentions embed differently")
	}
	if n := e.Name(); n != "openai:emb:d24:w30:m1:q0" || strings.Contains(n, "secret") {
		t.Errorf("Name %q", n)
	}
}

func TestOpenAIQueries(t *testing.T) {
	srv := newServer(t, llmsim.Options{EmbedDim: 40}, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name, tmpl string
		want       []string
	}{
		{"plain", "", []string{"sports team", "enzyme"}},
		{"template", "Query: {}", []string{"Query: sports team", "Query: enzyme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// No Dimensions: the width comes from a probe.
			e, err := NewOpenAI(ctx, OpenAIConfig{BaseURL: srv.url + "/v1/", Model: "emb", QueryTemplate: tc.tmpl})
			if err != nil {
				t.Fatal(err)
			}
			if e.Dim() != 40 {
				t.Fatalf("Dim %d, want the server's 40", e.Dim())
			}
			got, err := e.Queries(ctx, []string{" sports team ", "enzyme", "sports team"})
			if err != nil {
				t.Fatal(err)
			}
			unit(t, got, 40)
			for i, want := range []string{tc.want[0], tc.want[1], tc.want[0]} {
				if !near(got[i], simVector(want, 40)) {
					t.Errorf("query %d: the vector is not that of %q", i, want)
				}
			}
			if _, err := e.Queries(ctx, []string{"ok", " "}); err == nil || !strings.Contains(err.Error(), "query 1 is empty") {
				t.Errorf("empty query: error %v", err)
			}
		})
	}
	a, _ := NewOpenAI(ctx, OpenAIConfig{BaseURL: srv.url, Model: "emb", Dimensions: 8, QueryTemplate: "A: {}"})
	b, _ := NewOpenAI(ctx, OpenAIConfig{BaseURL: srv.url, Model: "emb", Dimensions: 8, QueryTemplate: "B: {}"})
	if a.Name() == b.Name() {
		t.Errorf("two templates, one name %q", a.Name())
	}
}

func TestOpenAIErrors(t *testing.T) {
	ctx := context.Background()
	ms := []Mention{{Text: "in Paris", Start: 3, End: 8}, {Text: "in Rome", Start: 3, End: 7}}
	vec := func(n int) string { return "[" + strings.Repeat("0.5,", n-1) + "0.5]" }
	answer := func(w http.ResponseWriter, data ...string) {
		var items []string
		for i, d := range data {
			items = append(items, fmt.Sprintf(`{"object": "embedding", "index": %d, "embedding": %s}`, i, d))
		}
		fmt.Fprintf(w, `{"object": "list", "model": "emb", "data": [%s]}`, strings.Join(items, ","))
	}
	status := func(code int) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error": {"message": "injected %d", "type": "x"}}`, code)
		}
	}
	for _, tc := range []struct {
		name     string
		answer   func(n int, w http.ResponseWriter) bool // n counts requests from 0
		requests int
		err      string // "" for success
	}{
		{"500 then success", func(n int, w http.ResponseWriter) bool {
			if n < 2 {
				status(500)(w)
			}
			return n < 2
		}, 3, ""},
		{"429 then success", func(n int, w http.ResponseWriter) bool {
			if n == 0 {
				status(429)(w)
			}
			return n == 0
		}, 2, ""},
		{"an answer of its own, not unit length", func(n int, w http.ResponseWriter) bool { answer(w, vec(8), vec(8)); return true }, 1, ""},
		{"400 is not retried", func(n int, w http.ResponseWriter) bool { status(400)(w); return true }, 1, "injected 400"},
		{"503 until retries run out", func(n int, w http.ResponseWriter) bool { status(503)(w); return true }, 4, "injected 503"},
		{"too few vectors", func(n int, w http.ResponseWriter) bool { answer(w, vec(8)); return true }, 1, "1 vectors for 2 inputs"},
		{"wrong width", func(n int, w http.ResponseWriter) bool { answer(w, vec(8), vec(7)); return true }, 1, "7 values, want 8"},
		{"zero vector", func(n int, w http.ResponseWriter) bool { answer(w, vec(8), "[0,0,0,0,0,0,0,0]"); return true }, 1, "all zero"},
		{"not JSON", func(n int, w http.ResponseWriter) bool { fmt.Fprint(w, `<html>busy</html>`); return true }, 1, "invalid character '<'"},
		// A body cut short looks like a broken connection: retried.
		{"truncated", func(n int, w http.ResponseWriter) bool { fmt.Fprint(w, `{"data": [`); return true }, 4, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, llmsim.Options{}, func(n int, w http.ResponseWriter, _ []byte) bool { return tc.answer(n, w) })
			e, err := NewOpenAI(ctx, OpenAIConfig{BaseURL: srv.url, APIKey: "sk-secret", Model: "emb", Dimensions: 8, Retry: fastRetry})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Mentions(ctx, ms)
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
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), srv.url) {
				t.Errorf("error %v, want one naming %s and saying %q", err, srv.url, tc.err)
			}
		})
	}
	t.Run("mention outside its text", func(t *testing.T) {
		srv := newServer(t, llmsim.Options{}, nil)
		e, err := NewOpenAI(ctx, OpenAIConfig{BaseURL: srv.url, Model: "emb", Dimensions: 8})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Mentions(ctx, []Mention{{Text: "Zürich", Start: 0, End: 7}})
		if err == nil || !strings.Contains(err.Error(), "mention 0") || len(srv.requests()) != 0 {
			t.Errorf("error %v after %d requests, want one about mention 0 before any", err, len(srv.requests()))
		}
	})
}

func TestOpenAIConfig(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  OpenAIConfig
		err  string
	}{
		{"no model", OpenAIConfig{BaseURL: "http://localhost:1"}, "no model"},
		{"bad URL", OpenAIConfig{BaseURL: "localhost:1", Model: "m", Dimensions: 8}, "base URL"},
		{"template without {}", OpenAIConfig{BaseURL: "http://localhost:1", Model: "m", Dimensions: 8, QueryTemplate: "Query:"}, "has no {}"},
		{"negative batch", OpenAIConfig{BaseURL: "http://localhost:1", Model: "m", Dimensions: 8, Batch: -1}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewOpenAI(ctx, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
	// Secrets stay out of what is printed, logged and named.
	cfg := OpenAIConfig{BaseURL: "http://user:hunter2@127.0.0.1:1", APIKey: "sk-secret", Model: "m", Dimensions: 8,
		Retry: Retry{MaxRetries: -1}}
	e, err := NewOpenAI(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Queries(ctx, []string{"x"})
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%#v", cfg), e.Name(), err.Error()} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "sk-secret") {
			t.Errorf("a secret shows in %q", s)
		}
	}
}
