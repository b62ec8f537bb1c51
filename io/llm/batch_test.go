package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// completion is the body of a chat completion answering content.
func completion(t *testing.T, content string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": "chatcmpl-b", "object": "chat.completion", "model": "test-model",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content}}},
		"usage": map[string]any{"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func result(t *testing.T, id string, status int, content string) BatchResult {
	return BatchResult{CustomID: id, Response: &BatchResponse{StatusCode: status, Body: completion(t, content)}}
}

func TestOfflineBatchRound(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, `{"online":true}`) })
	cache := newMemCache()
	c, _ := newClient(t, srv, cache, nil)
	req := Request{System: "sys", User: "question"}
	needOK := func(s string) error {
		if !strings.Contains(s, `"ok"`) {
			return errors.New(`no "ok"`)
		}
		return nil
	}

	// Round 1: nothing cached, so the request is collected and not sent.
	var p Pending
	_, err := c.Offline(&p, nil).Complete(ctx, req, needOK)
	if !errors.Is(err, ErrPending) {
		t.Fatalf("err = %v, want ErrPending", err)
	}
	lines := p.Lines()
	if len(lines) != 1 || lines[0].URL != BatchEndpoint || lines[0].Method != http.MethodPost || len(lines[0].CustomID) != 64 {
		t.Fatalf("pending = %+v", lines)
	}
	// The file round-trips.
	data, err := EncodeBatch(lines)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeBatch(data)
	if err != nil || len(back) != 1 || back[0].CustomID != lines[0].CustomID || back[0].Body.Messages[1].Content != "question" {
		t.Fatalf("decode = %+v, %v", back, err)
	}

	// The batch answers with JSON that the caller's check refuses: the
	// offline client re-asks, as a request of its own.
	id := lines[0].CustomID
	answered, missing, err := c.Fill(ctx, lines, []BatchResult{
		result(t, "not-asked", 200, `{"ok":1}`), // ignored: never asked
		result(t, id, 200, `{"wrong":1}`),
	})
	if err != nil || len(answered) != 1 || len(missing) != 0 {
		t.Fatalf("fill = %v %v %v", answered, missing, err)
	}
	if _, ok, _ := cache.Get(ctx, "not-asked"); ok {
		t.Fatal("an answer to a question never asked was cached")
	}
	var p2 Pending
	_, err = c.Offline(&p2, nil).Complete(ctx, req, needOK)
	if !errors.Is(err, ErrPending) || p2.Len() != 1 {
		t.Fatalf("re-ask: err = %v, pending %d", err, p2.Len())
	}
	reask := p2.Lines()[0]
	if n := len(reask.Body.Messages); n != 4 || reask.Body.Messages[2].Content != `{"wrong":1}` {
		t.Fatalf("re-ask messages = %+v", reask.Body.Messages)
	}

	// Round 3 answers the re-ask; bought answers count as batch usage.
	if _, _, err := c.Fill(ctx, p2.Lines(), []BatchResult{result(t, reask.CustomID, 200, `{"ok":2}`)}); err != nil {
		t.Fatal(err)
	}
	bought := map[string]bool{id: true, reask.CustomID: true}
	resp, err := c.Offline(nil, bought).Complete(ctx, req, needOK)
	if err != nil || resp.Content != `{"ok":2}` {
		t.Fatalf("final = %+v, %v", resp, err)
	}
	want := Usage{PromptTokens: 60, CompletionTokens: 14, BatchRequests: 2, BatchTokens: 74}
	if resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
	// Not bought here: cache hits.
	resp, err = c.Offline(nil, nil).Complete(ctx, req, needOK)
	if err != nil || resp.Usage != (Usage{CacheHits: 2}) {
		t.Errorf("not bought: usage = %+v, %v", resp.Usage, err)
	}
	if n := srv.calls.Load(); n != 0 {
		t.Errorf("offline clients sent %d requests", n)
	}
	// An online client reuses a batch answer that passes its check.
	resp, err = c.Complete(ctx, Request{System: "sys", User: "question"}, nil)
	if err != nil || resp.Content != `{"wrong":1}` || srv.calls.Load() != 0 {
		t.Errorf("online after batch: %+v %v, %d sent", resp, err, srv.calls.Load())
	}
}

func TestFillReasons(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, req chatReq) { ok(w, req, `{}`) })
	c, _ := newClient(t, srv, newMemCache(), nil)
	var lines []BatchLine
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		lines = append(lines, BatchLine{CustomID: id})
	}
	results := []BatchResult{
		result(t, "a", 200, `{"x":1}`),
		result(t, "b", 500, ``),
		result(t, "c", 200, `not json`),
		{CustomID: "d", Error: &BatchError{Code: "batch_expired", Message: "expired"}},
		result(t, "d", 200, `{"later":1}`), // a later usable line wins
	}
	answered, missing, err := c.Fill(ctx, lines, results)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(answered) != "[a d]" {
		t.Errorf("answered = %v", answered)
	}
	for id, want := range map[string]string{"b": "status 500", "c": "not JSON", "e": "no answer"} {
		if !strings.Contains(missing[id], want) {
			t.Errorf("missing[%s] = %q, want %q", id, missing[id], want)
		}
	}
	if len(missing) != 3 {
		t.Errorf("missing = %v", missing)
	}
	if _, _, err := (&Client{}).Fill(ctx, lines, results); err == nil {
		t.Error("Fill without a cache: no error")
	}
}

func TestParseBatchResults(t *testing.T) {
	data := []byte(`{"id":"r1","custom_id":"a","response":{"status_code":200,"body":{}},"error":null}

not json
{"custom_id":"","response":null}
{"id":"r3","custom_id":"c","response":null,"error":{"code":"batch_expired","message":"m"}}
`)
	rs, bad := ParseBatchResults(data)
	if len(rs) != 2 || rs[0].CustomID != "a" || rs[1].Error.Code != "batch_expired" {
		t.Errorf("results = %+v", rs)
	}
	if len(bad) != 2 || !strings.Contains(bad[0].Error(), "line 3") || !strings.Contains(bad[1].Error(), "line 4") {
		t.Errorf("bad = %v", bad)
	}
}
