package llm

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/io/blob"
)

func newBlobCache(t *testing.T) (*BlobCache, string) {
	t.Helper()
	dir := t.TempDir()
	prefix, err := blob.Normalize(filepath.Join(dir, "llm-cache"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := blob.New(context.Background(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return NewBlobCache(store, prefix), dir
}

func TestBlobCache(t *testing.T) {
	ctx := context.Background()
	c, dir := newBlobCache(t)
	key := strings.Repeat("ab", 32)

	if _, ok, err := c.Get(ctx, key); ok || err != nil {
		t.Fatalf("Get of a missing key: %v, %v; want not found, no error", ok, err)
	}
	if err := c.Put(ctx, key, []byte(`{"content":"1"}`)); err != nil {
		t.Fatal(err)
	}
	// A second Put of the key (a concurrent identical request) succeeds
	// and keeps the first value.
	if err := c.Put(ctx, key, []byte(`{"content":"2"}`)); err != nil {
		t.Fatalf("Put of an existing key: %v", err)
	}
	got, ok, err := c.Get(ctx, key)
	if err != nil || !ok || string(got) != `{"content":"1"}` {
		t.Fatalf("Get = %q, %v, %v; want the first value", got, ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "llm-cache", "ab", key+".json")); err != nil {
		t.Errorf("entry not at <prefix>/<key[:2]>/<key>.json: %v", err)
	}
	for _, bad := range []string{"", "a", "../../etc/passwd", "ABCD", "ab/cd"} {
		if _, _, err := c.Get(ctx, bad); err == nil {
			t.Errorf("Get(%q) accepted a bad key", bad)
		}
		if err := c.Put(ctx, bad, nil); err == nil {
			t.Errorf("Put(%q) accepted a bad key", bad)
		}
	}
}

func TestClientWithBlobCache(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) {
		ok(w, req, `{"entities":["Paris"]}`)
	})
	cache, dir := newBlobCache(t)
	ctx := context.Background()
	req := Request{System: "Find entities.", User: "Paris", Schema: json.RawMessage(schema)}

	c, _ := newClient(t, s, cache, nil)
	first, err := c.Complete(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A new client, as in a re-run, finds the answer on disk.
	c2, _ := newClient(t, s, cache, nil)
	second, err := c2.Complete(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 1 || second.Content != first.Content || second.Usage != (Usage{CacheHits: 1}) {
		t.Errorf("second answer %q %+v after %d calls; want %q, one cache hit, 1 call", second.Content, second.Usage, s.calls.Load(), first.Content)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "llm-cache", "*", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want 1", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var e entry
	if err := json.Unmarshal(b, &e); err != nil || e.Content != first.Content || e.Model != "test-model" ||
		e.Usage != (Usage{PromptTokens: 10, CompletionTokens: 5, CachedTokens: 2}) {
		t.Errorf("entry %s (%v), want content, model and the tokens the answer cost", b, err)
	}
}
