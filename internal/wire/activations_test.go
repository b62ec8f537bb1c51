package wire

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/io/activations"

	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/pipeline/sae"
)

// gold writes n seeded BIO sentences: filler words and names of two types,
// and returns the file and the sentences.
func gold(t *testing.T, n int) (string, []sae.Labeled) {
	var b strings.Builder
	var out []sae.Labeled
	first := []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald"}
	last := []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth"}
	places := []string{"London", "Paris", "Zürich", "Kyoto", "Austin", "Lagos"}
	for i := range n {
		var l sae.Labeled
		words := []struct{ w, tag string }{{"yesterday", "O"}, {first[i%6], "B-person"}, {last[(i/6)%6], "I-person"},
			{"visited", "O"}, {places[(i/2)%6], "B-place"}, {"and", "O"}, {"left", "O"}}
		var ws []string
		pos := 0
		for _, w := range words {
			fmt.Fprintf(&b, "%s\t%s\n", w.w, w.tag)
			ws = append(ws, w.w)
			switch w.tag[0] {
			case 'B':
				l.Spans = append(l.Spans, sae.Span{Start: pos, End: pos + len([]rune(w.w)), Label: w.tag[2:]})
			case 'I':
				l.Spans[len(l.Spans)-1].End = pos + len([]rune(w.w))
			}
			pos += len([]rune(w.w)) + 1
		}
		b.WriteString("\n")
		l.Text = strings.Join(ws, " ")
		out = append(out, l)
	}
	path := filepath.Join(t.TempDir(), "gold.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, out
}

// Estimate a map from the test server's latents, then tag held-out known
// sentences through the endpoint: the class latents make it exact.
func TestEndToEnd(t *testing.T) {
	path, sents := gold(t, 60)
	srv, err := llmsim.New(llmsim.Options{Gold: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer func() { srv.Close(); hs.Close() }()
	c := Activations(&activations.Client{BaseURL: hs.URL + "/v1", TopK: 5})
	ctx := context.Background()
	m, err := sae.Estimate(ctx, c, sents[:40], sae.Options{Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, 0, 20)
	for _, l := range sents[40:] {
		texts = append(texts, l.Text)
	}
	got, _, err := sae.NewTagger(m, c).Tag(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range sents[40:] {
		if fmt.Sprint(got[i]) != fmt.Sprint(l.Spans) {
			t.Errorf("%q: tagged %v, want %v", l.Text, got[i], l.Spans)
		}
	}
	// Code point offsets survive non-ASCII text.
	toks, err := c.Features(ctx, []string{"Zürich visited"})
	if err != nil || len(toks[0]) != 2 || toks[0][1].Start != 7 || toks[0][1].Text != "visited" || len(toks[0][1].Feats) != 4 {
		t.Errorf("features = %+v, %v", toks, err)
	}
	if srv.Stats().ByKind["activations"] == 0 {
		t.Error("no activation requests counted")
	}
	if _, err := (&activations.Client{BaseURL: hs.URL + "/nowhere"}).Features(ctx, []string{"x"}); err == nil {
		t.Error("a bad endpoint answers")
	}
}
