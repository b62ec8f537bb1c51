package batch

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
)

// A file-exchange round: nothing is submitted, the poll waits for the
// responses file, and the collect reads it, answered, missing and
// unreadable lines alike.
func TestFileExchangeRound(t *testing.T) {
	ctx := context.Background()
	root, err := blob.Normalize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store, err := blob.New(ctx, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := New(wire.New(store, slog.New(slog.DiscardHandler), wire.Options{}))
	task := activities.BatchTask{
		ShardTask: activities.ShardTask{
			Run:   activities.Run{ID: "job-1", URI: blob.Join(root, "runs", "job-1")},
			Shard: 3,
			Backend: activities.BackendSpec{Name: "sam", Cache: blob.Join(root, "cache"),
				LLM:   activities.LLMConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "m"},
				Batch: activities.BatchConfig{Mode: activities.BatchFiles, Dir: blob.Join(root, "exchange")}},
		},
		Stage: activities.StageMediate,
		Round: 1,
	}
	if _, ok := a.provider(task).(exchange); !ok {
		t.Fatalf("provider of files mode: %T", a.provider(task))
	}
	dir := runs.RoundDir(task)
	if want := blob.Join(root, "exchange", "job-1", "mediate", "shard-00003", "round-1"); string(dir) != want {
		t.Fatalf("round folder %s, want %s", dir, want)
	}
	idA, idB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	put := func(uri string, lines ...string) {
		t.Helper()
		if err := store.Replace(ctx, uri, blob.WriteBytes([]byte(strings.Join(lines, "\n")+"\n"))); err != nil {
			t.Fatal(err)
		}
	}
	request := func(id string) string {
		return `{"custom_id":"` + id + `","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"hi"}]}}`
	}
	put(dir.Requests(), request(idA), request(idB))

	if ref, err := a.BatchSubmit(ctx, task); err != nil || ref != (activities.BatchRef{}) {
		t.Fatalf("submit = %+v, %v; want no batch", ref, err)
	}
	st, err := a.BatchPoll(ctx, task, activities.BatchRef{})
	if err != nil || st.Done || st.Status != "waiting" {
		t.Fatalf("poll before the responses = %+v, %v", st, err)
	}
	// A wait gives up at its deadline with the round still waiting, and
	// stops when its context ends.
	quick := task
	quick.Backend.Batch.PollSeconds, quick.Backend.Batch.MaxPollSeconds = 0.001, 0.002
	w := activities.BatchWait{Deadline: time.Now().Add(30 * time.Millisecond)}
	if st, err := a.BatchWait(ctx, quick, w); err != nil || st.Done || st.Status != "waiting" || time.Now().Before(w.Deadline) {
		t.Fatalf("wait to the deadline = %+v, %v", st, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if st, err := a.BatchWait(cctx, quick, activities.BatchWait{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with no deadline, context ended = %+v, %v", st, err)
	}
	put(dir.Responses(),
		`{"id":"req-1","custom_id":"`+idA+`","response":{"status_code":200,"body":{"id":"x","object":"chat.completion","model":"m",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"{}"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}},"error":null}`,
		`not json`)
	if st, err = a.BatchPoll(ctx, task, activities.BatchRef{}); err != nil || !st.Done || st.Status != "responded" {
		t.Fatalf("poll after the responses = %+v, %v", st, err)
	}
	if st, err := a.BatchWait(ctx, quick, activities.BatchWait{Now: true}); err != nil || !st.Done || st.Status != "responded" {
		t.Fatalf("wait after the responses = %+v, %v", st, err)
	}
	got, err := a.BatchCollect(ctx, task, st)
	want := activities.BatchCollected{Status: "responded", Requests: 2, Answered: 1, Missing: 1}
	if err != nil || got != want {
		t.Fatalf("collect = %+v, %v; want %+v", got, err, want)
	}
	var c runs.Collected
	if err := (runs.Store{Store: store}).ReadJSON(ctx, dir.Collected(), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.AnsweredIDs) != 1 || c.AnsweredIDs[0] != idA || c.Reasons[idB] == "" || len(c.BadLines) != 1 {
		t.Errorf("collected.json = %+v", c)
	}
	// A retried collect finds the round collected.
	if again, err := a.BatchCollect(ctx, task, st); err != nil || again != want {
		t.Errorf("collect again = %+v, %v", again, err)
	}
}
