package llmsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newBatchTest serves opt with a settable clock and returns a go-openai
// client of the server.
func newBatchTest(t *testing.T, opt Options) (*Server, *httptest.Server, *openai.Client, *clock) {
	t.Helper()
	clk := newClock()
	opt.Now = clk.Now
	s, ts := newTest(t, opt)
	cfg := openai.DefaultConfig("test")
	cfg.BaseURL = ts.URL + "/v1"
	return s, ts, openai.NewClientWithConfig(cfg), clk
}

var mentionsInput = map[string]any{"passages": []any{map[string]any{
	"text": "The data system of Google runs in Canada and Canada .",
	"mentions": []any{
		map[string]any{"id": 1, "text": "Google", "archetype": "organization", "candidates": []string{"organisation", "university", "misc"}},
		map[string]any{"id": 2, "text": "Canada", "occurrence": 1, "archetype": "location", "candidates": []string{"country", "misc"}},
	},
}}}

// batchBodies are requests of every kind, by custom_id in line order.
func batchBodies() ([]string, map[string][]byte) {
	bodies := map[string][]byte{
		"anchor":    chatBody(KindAnchor, passages, nil),
		"explorer":  chatBody(KindExplorer, passages, nil),
		"mediate":   chatBody(KindMediate, mentionsInput, nil),
		"calibrate": chatBody(KindCalibrate, mentionsInput, map[string]any{"logprobs": true, "top_logprobs": 1}),
		"label-map": chatBody(KindLabelMap, map[string]any{"labels": []any{map[string]any{"name": "researcher"}}}, nil),
		"other":     chatBody("nonsense", passages, nil),
	}
	return []string{"anchor", "explorer", "mediate", "calibrate", "label-map", "other"}, bodies
}

func inputLine(id string, body []byte) string {
	return fmt.Sprintf(`{"custom_id":%q,"method":"POST","url":"/v1/chat/completions","body":%s}`, id, body)
}

func batchInput(ids []string, bodies map[string][]byte) []byte {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(inputLine(id, bodies[id]) + "\n")
	}
	return []byte(b.String())
}

// submit uploads content and creates a batch of it.
func submit(t *testing.T, c *openai.Client, content []byte) openai.Batch {
	t.Helper()
	ctx := context.Background()
	f, err := c.CreateFileBytes(ctx, openai.FileBytesRequest{Name: "in.jsonl", Bytes: content, Purpose: openai.PurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateBatch(ctx, openai.CreateBatchRequest{InputFileID: f.ID, Endpoint: openai.BatchEndpointChatCompletions})
	if err != nil {
		t.Fatal(err)
	}
	return b.Batch
}

func retrieve(t *testing.T, c *openai.Client, id string) openai.Batch {
	t.Helper()
	b, err := c.RetrieveBatch(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return b.Batch
}

func content(t *testing.T, c *openai.Client, id string) []byte {
	t.Helper()
	r, err := c.GetFileContent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type resultLine struct {
	ID       string `json:"id"`
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	raw string
}

// results reads an output or error file; none for a nil id.
func results(t *testing.T, c *openai.Client, id *string) []resultLine {
	t.Helper()
	if id == nil {
		return nil
	}
	var out []resultLine
	for _, l := range strings.Split(strings.TrimSuffix(string(content(t, c, *id)), "\n"), "\n") {
		var r resultLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		r.raw = l
		out = append(out, r)
	}
	return out
}

func customIDs(ls []resultLine) []string {
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.CustomID)
	}
	return ids
}

func TestBatchLifecycle(t *testing.T) {
	s, ts, c, clk := newBatchTest(t, Options{BatchDelay: time.Hour})
	ctx := context.Background()
	ids, bodies := batchBodies()
	input := batchInput(ids, bodies)

	f, err := c.CreateFileBytes(ctx, openai.FileBytesRequest{Name: "in.jsonl", Bytes: input, Purpose: openai.PurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.ID, "file-") || f.Object != "file" || f.Bytes != len(input) || f.FileName != "in.jsonl" ||
		f.Purpose != "batch" || f.CreatedAt != clk.Now().Unix() {
		t.Errorf("file %+v", f)
	}
	if got, err := c.GetFile(ctx, f.ID); err != nil || got.ID != f.ID || got.Bytes != f.Bytes || got.Purpose != "batch" {
		t.Errorf("GetFile %+v, %v", got, err)
	}
	if got := content(t, c, f.ID); string(got) != string(input) {
		t.Errorf("content %q", got)
	}

	created, err := c.CreateBatch(ctx, openai.CreateBatchRequest{InputFileID: f.ID, Endpoint: openai.BatchEndpointChatCompletions,
		Metadata: map[string]any{"zeroner_batch": "run-1"}})
	if err != nil {
		t.Fatal(err)
	}
	b := created.Batch
	now := int(clk.Now().Unix())
	if !strings.HasPrefix(b.ID, "batch_") || b.Object != "batch" || b.Status != "validating" || b.InputFileID != f.ID ||
		b.Endpoint != openai.BatchEndpointChatCompletions || b.CompletionWindow != "24h" || b.CreatedAt != now ||
		b.ExpiresAt == nil || *b.ExpiresAt != now+24*3600 || b.OutputFileID != nil || b.Metadata["zeroner_batch"] != "run-1" {
		t.Errorf("created %+v", b)
	}

	clk.Add(59 * time.Minute)
	b = retrieve(t, c, b.ID)
	if b.Status != "in_progress" || b.InProgressAt == nil || *b.InProgressAt != int(clk.Now().Unix()) ||
		b.OutputFileID != nil || b.CompletedAt != nil || b.RequestCounts != (openai.BatchRequestCounts{Total: len(ids)}) {
		t.Errorf("before the delay %+v", b)
	}

	clk.Add(time.Minute)
	b = retrieve(t, c, b.ID)
	done := int(clk.Now().Unix())
	if b.Status != "completed" || b.CompletedAt == nil || *b.CompletedAt != done || *b.FinalizingAt != done ||
		b.FailedAt != nil || b.ExpiredAt != nil || b.ErrorFileID != nil || b.OutputFileID == nil || b.Errors != nil ||
		b.RequestCounts != (openai.BatchRequestCounts{Total: len(ids), Completed: len(ids)}) {
		t.Fatalf("after the delay %+v", b)
	}
	if again := retrieve(t, c, b.ID); !reflect.DeepEqual(again, b) {
		t.Errorf("a second look changed the batch: %+v", again)
	}
	out := results(t, c, b.OutputFileID)
	if got := customIDs(out); !reflect.DeepEqual(got, ids) {
		t.Fatalf("custom ids %v, want %v", got, ids)
	}
	var prompt int64
	for _, l := range out {
		if !strings.HasPrefix(l.ID, "batch_req_") || l.Response == nil || l.Response.StatusCode != 200 ||
			!strings.HasPrefix(l.Response.RequestID, "req_") || !strings.HasSuffix(l.raw, `"error":null}`) {
			t.Errorf("line %s", l.raw)
			continue
		}
		var got chatResponse
		var meta struct {
			Model   string `json:"model"`
			Created int64  `json:"created"`
		}
		if err := json.Unmarshal(l.Response.Body, &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(l.Response.Body, &meta)
		want := ask(t, ts.URL, bodies[l.CustomID]) // the online answer to the same body
		if len(got.Choices) != 1 || !reflect.DeepEqual(got.Choices, want.Choices) || got.ID != want.ID || got.Object != want.Object {
			t.Errorf("%s: batch %+v\nonline %+v", l.CustomID, got, want)
		}
		if got.Usage.PromptTokens != want.Usage.PromptTokens || got.Usage.CompletionTokens != want.Usage.CompletionTokens ||
			got.Usage.TotalTokens != got.Usage.PromptTokens+got.Usage.CompletionTokens || got.Usage.CompletionTokens == 0 {
			t.Errorf("%s: usage %+v, online %+v", l.CustomID, got.Usage, want.Usage)
		}
		if meta.Model != "llmsim" || meta.Created != int64(done) {
			t.Errorf("%s: model %q, created %d", l.CustomID, meta.Model, meta.Created)
		}
		prompt += int64(got.Usage.PromptTokens)
	}
	if c := out[slices.Index(ids, "calibrate")]; !strings.Contains(string(c.Response.Body), `"logprob":`) {
		t.Errorf("no log probabilities: %s", c.raw)
	}

	st := s.Stats()
	want := BatchStats{Files: 1, Created: 1, Completed: 1, ItemsAnswered: int64(len(ids)), PromptTokens: prompt,
		CompletionTokens: st.Batch.CompletionTokens, CachedTokens: st.Batch.CachedTokens}
	if st.Batch != want || st.Batch.CompletionTokens == 0 || st.Requests != int64(len(ids)) {
		t.Errorf("stats %+v, want %+v and %d online requests", st, want, len(ids))
	}
	resp, err := http.Get(ts.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var served Stats
	if err := json.NewDecoder(resp.Body).Decode(&served); err != nil || served.Batch != st.Batch {
		t.Errorf("/stats batch %+v, %v", served.Batch, err)
	}
}

// go-openai's own batch requests and chat completions agree.
func TestBatchGoOpenAI(t *testing.T) {
	_, _, c, _ := newBatchTest(t, Options{})
	ctx := context.Background()
	p, _ := json.Marshal(passages)
	req := openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{
		{Role: "system", Content: "[zeroner:anchor]\nLabels:\n- researcher: r\n- university: u\n"},
		{Role: "user", Content: "Input, as JSON:\n" + string(p)},
	}}
	var up openai.UploadBatchFileRequest
	up.AddChatCompletion("a", req)
	created, err := c.CreateBatchWithUploadFile(ctx, openai.CreateBatchWithUploadFileRequest{
		Endpoint: openai.BatchEndpointChatCompletions, UploadBatchFileRequest: up})
	if err != nil {
		t.Fatal(err)
	}
	b := retrieve(t, c, created.ID) // no delay: done at the first look
	out := results(t, c, b.OutputFileID)
	if b.Status != "completed" || len(out) != 1 || out[0].CustomID != "a" {
		t.Fatalf("batch %+v, output %v", b, out)
	}
	var got openai.ChatCompletionResponse
	if err := json.Unmarshal(out[0].Response.Body, &got); err != nil {
		t.Fatal(err)
	}
	want, err := c.CreateChatCompletion(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "m" || got.Choices[0].Message.Content != want.Choices[0].Message.Content ||
		!strings.Contains(got.Choices[0].Message.Content, "Geoffrey Hinton") || got.Usage.PromptTokens != want.Usage.PromptTokens {
		t.Errorf("batch %+v\nonline %+v", got, want)
	}
}

func TestBatchFaults(t *testing.T) {
	ids, bodies := batchBodies() // 6 requests
	tests := []struct {
		name      string
		opt       Options
		input     []byte
		status    string
		answered  []string // custom ids in the output file
		check     func(t *testing.T, errs []resultLine)
		itemStats BatchStats
	}{
		{"item failure", Options{BatchItemFail: 1}, batchInput(ids, bodies), "completed", nil, func(t *testing.T, errs []resultLine) {
			if got := customIDs(errs); !reflect.DeepEqual(got, ids) {
				t.Errorf("error file ids %v", got)
			}
			for _, l := range errs {
				var body struct {
					Error struct{ Message, Type string }
				}
				if l.Response == nil || l.Response.StatusCode != 500 || json.Unmarshal(l.Response.Body, &body) != nil ||
					body.Error.Type != "server_error" || body.Error.Message == "" || !strings.HasSuffix(l.raw, `"error":null}`) {
					t.Errorf("error line %s", l.raw)
				}
			}
		}, BatchStats{ItemsFailed: 6}},
		// Of 5 requests, the first 2 are answered.
		{"expiry", Options{BatchExpire: 1}, batchInput(ids[:5], bodies), "expired", ids[:2], func(t *testing.T, errs []resultLine) {
			if got := customIDs(errs); !reflect.DeepEqual(got, ids[2:5]) {
				t.Errorf("error file ids %v", got)
			}
			for _, l := range errs {
				if l.Response != nil || l.Error == nil || l.Error.Code != "batch_expired" || l.Error.Message == "" ||
					!strings.Contains(l.raw, `"response":null`) {
					t.Errorf("error line %s", l.raw)
				}
			}
		}, BatchStats{ItemsAnswered: 2, ItemsExpired: 3}},
		{"bad body", Options{}, []byte(inputLine("ok", bodies["anchor"]) + "\n" + inputLine("bad", []byte(`{"model":"m"}`))), "completed",
			[]string{"ok"}, func(t *testing.T, errs []resultLine) {
				if len(errs) != 1 || errs[0].CustomID != "bad" || errs[0].Response == nil || errs[0].Response.StatusCode != 400 ||
					!strings.Contains(string(errs[0].Response.Body), "invalid_request_error") {
					t.Errorf("error lines %+v", errs)
				}
			}, BatchStats{ItemsAnswered: 1, ItemsFailed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, c, clk := newBatchTest(t, tt.opt)
			b := retrieve(t, c, submit(t, c, tt.input).ID)
			out, errs := results(t, c, b.OutputFileID), results(t, c, b.ErrorFileID)
			if b.Status != tt.status || !reflect.DeepEqual(customIDs(out), tt.answered) ||
				b.RequestCounts != (openai.BatchRequestCounts{Total: len(out) + len(errs), Completed: len(out), Failed: len(errs)}) {
				t.Errorf("batch %+v, answered %v", b, customIDs(out))
			}
			now := int(clk.Now().Unix())
			if tt.status == "expired" && (b.ExpiredAt == nil || *b.ExpiredAt != now || b.CompletedAt != nil) {
				t.Errorf("expired batch %+v", b)
			}
			tt.check(t, errs)
			got := s.Stats().Batch
			want := tt.itemStats
			want.Files, want.Created, want.PromptTokens, want.CompletionTokens = 1, 1, got.PromptTokens, got.CompletionTokens
			if tt.status == "expired" {
				want.Expired = 1
			} else {
				want.Completed = 1
			}
			if got != want || (want.ItemsAnswered > 0) != (got.PromptTokens > 0) {
				t.Errorf("stats %+v, want %+v", got, want)
			}
		})
	}
}

// outcome is what a batch ended with: its status and files.
type outcome struct {
	Status       string
	Output, Errs string
}

// submissions submits the same content n times to a new server and returns
// the outcomes.
func submissions(t *testing.T, opt Options, input []byte, n int) []outcome {
	t.Helper()
	_, _, c, _ := newBatchTest(t, opt)
	var out []outcome
	for range n {
		b := retrieve(t, c, submit(t, c, input).ID)
		o := outcome{Status: b.Status}
		if b.OutputFileID != nil {
			o.Output = string(content(t, c, *b.OutputFileID))
		}
		if b.ErrorFileID != nil {
			o.Errs = string(content(t, c, *b.ErrorFileID))
		}
		out = append(out, o)
	}
	return out
}

func TestBatchDeterminism(t *testing.T) {
	ids, bodies := batchBodies()
	input := batchInput(ids, bodies)
	opt := Options{Seed: 7, BatchItemFail: 0.4, BatchExpire: 0.4}
	a, b := submissions(t, opt, input, 8), submissions(t, opt, input, 8)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the same seed differs:\n%v\n%v", a, b)
	}
	opt.Seed = 8
	if other := submissions(t, opt, input, 8); reflect.DeepEqual(a, other) {
		t.Error("another seed gives the same outcomes")
	}
	// Draws are per submission: outcomes differ between submissions of
	// the same content, and every request gets answered in some of them.
	// Requests fail each on its own: some batches are answered in part.
	statuses := map[string]bool{}
	answered := map[string]bool{}
	failures := map[string]bool{}
	partial := 0
	for _, o := range a {
		statuses[o.Status] = true
		failures[o.Errs] = true
		if o.Output != "" && strings.Contains(o.Errs, `"status_code":500`) {
			partial++
		}
		for _, l := range strings.Split(strings.TrimSpace(o.Output), "\n") {
			var r resultLine
			if json.Unmarshal([]byte(l), &r) == nil {
				answered[r.CustomID] = true
			}
		}
	}
	if !statuses["completed"] || !statuses["expired"] || len(failures) < 3 || partial == 0 || len(answered) != len(ids) {
		t.Errorf("statuses %v, %d distinct error files, %d answered in part, answered %v", statuses, len(failures), partial, answered)
	}
}

func TestBatchList(t *testing.T) {
	_, ts, c, clk := newBatchTest(t, Options{})
	ids, bodies := batchBodies()
	var created []string
	for range 5 {
		created = append(created, submit(t, c, batchInput(ids[:1], bodies)).ID)
		clk.Add(time.Second)
	}
	slices.Reverse(created) // newest first
	ctx := context.Background()
	limit := 2
	var got []string
	var after *string
	for page := 0; ; page++ {
		l, err := c.ListBatch(ctx, after, &limit)
		if err != nil {
			t.Fatal(err)
		}
		var pageIDs []string
		for _, b := range l.Data {
			pageIDs = append(pageIDs, b.ID)
			if b.Status != "completed" { // listing looks at the batches too
				t.Errorf("listed %s %s", b.ID, b.Status)
			}
		}
		want := created[page*limit : min(len(created), (page+1)*limit)]
		if l.Object != "list" || !reflect.DeepEqual(pageIDs, want) || l.FirstID != want[0] || l.LastID != want[len(want)-1] ||
			l.HasMore != (page < 2) {
			t.Fatalf("page %d: %+v, want %v", page, l, want)
		}
		got = append(got, pageIDs...)
		if !l.HasMore {
			break
		}
		after = &l.LastID
	}
	if !reflect.DeepEqual(got, created) {
		t.Errorf("listed %v, want %v", got, created)
	}
	all, err := c.ListBatch(ctx, nil, nil)
	if err != nil || len(all.Data) != 5 || all.HasMore || all.FirstID != created[0] {
		t.Errorf("default list %+v, %v", all, err)
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x"} {
		if resp, _ := get(t, ts.URL+"/v1/batches"+q); resp.StatusCode != 400 {
			t.Errorf("%s: status %d", q, resp.StatusCode)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestBatchInvalidInput(t *testing.T) {
	good := inputLine("a", chatBody(KindAnchor, passages, nil))
	tests := []struct {
		name, input string
		code, param string
		line        int // 0: none
	}{
		{"not JSON", good + "\n{not json\n", "invalid_json_line", "", 2},
		{"no custom_id", `{"method":"POST","url":"/v1/chat/completions","body":{}}`, "missing_required_parameter", "custom_id", 1},
		{"duplicate custom_id", good + "\n\n" + good, "duplicate_custom_id", "custom_id", 3},
		{"method", strings.Replace(good, `"POST"`, `"GET"`, 1), "invalid_request", "method", 1},
		{"url", strings.Replace(good, `"/v1/chat/completions"`, `"/v1/embeddings"`, 1), "invalid_url", "url", 1},
		{"no body", `{"custom_id":"a","method":"POST","url":"/v1/chat/completions"}`, "missing_required_parameter", "body", 1},
		{"empty", "\n", "empty_file", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, c, clk := newBatchTest(t, Options{BatchDelay: time.Hour})
			created := submit(t, c, []byte(tt.input))
			if created.Status != "validating" {
				t.Errorf("created %+v", created)
			}
			b := retrieve(t, c, created.ID)
			if b.Status != "failed" || b.FailedAt == nil || *b.FailedAt != int(clk.Now().Unix()) || b.OutputFileID != nil ||
				b.ErrorFileID != nil || b.InProgressAt != nil || b.Errors == nil || len(b.Errors.Data) != 1 {
				t.Fatalf("batch %+v", b)
			}
			e := b.Errors.Data[0]
			line := 0
			if e.Line != nil {
				line = *e.Line
			}
			param := ""
			if e.Param != nil {
				param = *e.Param
			}
			if b.Errors.Object != "list" || e.Code != tt.code || param != tt.param || line != tt.line || e.Message == "" {
				t.Errorf("error %+v (param %q, line %d)", e, param, line)
			}
			if st := s.Stats().Batch; st.Failed != 1 || st.Completed != 0 || st.ItemsAnswered != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestBatchErrors(t *testing.T) {
	_, ts, c, _ := newBatchTest(t, Options{})
	ctx := context.Background()
	ids, bodies := batchBodies()
	input := batchInput(ids[:1], bodies)
	f, err := c.CreateFileBytes(ctx, openai.FileBytesRequest{Name: "in.jsonl", Bytes: input, Purpose: openai.PurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	tuned, err := c.CreateFileBytes(ctx, openai.FileBytesRequest{Name: "ft.jsonl", Bytes: input, Purpose: openai.PurposeFineTune})
	if err != nil {
		t.Fatal(err)
	}
	create := func(r openai.CreateBatchRequest) error { _, err := c.CreateBatch(ctx, r); return err }
	chat := openai.BatchEndpointChatCompletions
	tests := []struct {
		name   string
		call   func() error
		status int
	}{
		{"get file", func() error { _, err := c.GetFile(ctx, "file-nope"); return err }, 404},
		{"file content", func() error { _, err := c.GetFileContent(ctx, "file-nope"); return err }, 404},
		{"delete file", func() error { return c.DeleteFile(ctx, "file-nope") }, 404},
		{"retrieve batch", func() error { _, err := c.RetrieveBatch(ctx, "batch_nope"); return err }, 404},
		{"cancel batch", func() error { _, err := c.CancelBatch(ctx, "batch_nope"); return err }, 404},
		{"list after", func() error { after := "batch_nope"; _, err := c.ListBatch(ctx, &after, nil); return err }, 404},
		{"input file", func() error { return create(openai.CreateBatchRequest{InputFileID: "file-nope", Endpoint: chat}) }, 404},
		{"endpoint", func() error {
			return create(openai.CreateBatchRequest{InputFileID: f.ID, Endpoint: openai.BatchEndpointEmbeddings})
		}, 400},
		{"window", func() error {
			return create(openai.CreateBatchRequest{InputFileID: f.ID, Endpoint: chat, CompletionWindow: "1h"})
		}, 400},
		{"purpose", func() error { return create(openai.CreateBatchRequest{InputFileID: tuned.ID, Endpoint: chat}) }, 400},
		{"metadata", func() error {
			return create(openai.CreateBatchRequest{InputFileID: f.ID, Endpoint: chat, Metadata: map[string]any{"n": 1}})
		}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var apiErr *openai.APIError
			if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != tt.status || apiErr.Message == "" {
				t.Errorf("error %v, want status %d", err, tt.status)
			}
		})
	}
	// An upload without a purpose, and one that is not multipart.
	for _, ct := range []string{"multipart/form-data; boundary=x", "application/json"} {
		resp, err := http.Post(ts.URL+"/v1/files", ct, strings.NewReader("--x--\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s upload: status %d", ct, resp.StatusCode)
		}
	}
	// A deleted file is gone; listing files shows the rest.
	if err := c.DeleteFile(ctx, tuned.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetFile(ctx, tuned.ID); err == nil {
		t.Error("a deleted file is still there")
	}
	if l, err := c.ListFiles(ctx); err != nil || len(l.Files) != 1 || l.Files[0].ID != f.ID {
		t.Errorf("files %+v, %v", l, err)
	}
}

func TestBatchCancel(t *testing.T) {
	s, _, c, clk := newBatchTest(t, Options{BatchDelay: time.Hour})
	ctx := context.Background()
	ids, bodies := batchBodies()
	b := submit(t, c, batchInput(ids, bodies))
	clk.Add(time.Minute)
	cancelled, err := c.CancelBatch(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	b = cancelled.Batch
	now := int(clk.Now().Unix())
	if b.Status != "cancelled" || b.CancelledAt == nil || *b.CancelledAt != now || b.CancellingAt == nil || b.OutputFileID != nil ||
		b.CompletedAt != nil || b.RequestCounts != (openai.BatchRequestCounts{Total: len(ids), Failed: len(ids)}) {
		t.Errorf("cancelled %+v", b)
	}
	errs := results(t, c, b.ErrorFileID)
	if got := customIDs(errs); !reflect.DeepEqual(got, ids) {
		t.Errorf("error file ids %v", got)
	}
	for _, l := range errs {
		if l.Response != nil || l.Error == nil || l.Error.Code != "batch_cancelled" {
			t.Errorf("error line %s", l.raw)
		}
	}
	// Cancelled stays cancelled; a finished batch cannot be cancelled.
	clk.Add(2 * time.Hour)
	if got := retrieve(t, c, b.ID); got.Status != "cancelled" || got.OutputFileID != nil {
		t.Errorf("later %+v", got)
	}
	done := submit(t, c, batchInput(ids[:1], bodies))
	clk.Add(time.Hour)
	for _, id := range []string{b.ID, done.ID} {
		var apiErr *openai.APIError
		if _, err := c.CancelBatch(ctx, id); !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusConflict {
			t.Errorf("cancel %s again: %v", id, err)
		}
	}
	if st := s.Stats().Batch; st.Created != 2 || st.Cancelled != 1 || st.Completed != 1 || st.ItemsCancelled != int64(len(ids)) ||
		st.ItemsAnswered != 1 {
		t.Errorf("stats %+v", st)
	}
}
