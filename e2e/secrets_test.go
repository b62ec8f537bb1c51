package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/workflows"
)

// syncBuffer is a log sink that activities on several goroutines share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// The worker's API key reaches the model server and nothing else: not the
// logs at debug level, not run.json, not any file under the output prefix
// (tables, cache, job state), not the history of the job's workflow or of
// any of its shard workflows. TestLLMLongDocument checks run.json and the
// parent's history on a long document; this covers every output.
func TestAPIKeyStaysSecret(t *testing.T) {
	const secret = "sk-zeroner-e2e-0123456789abcdef"
	srv, err := llmsim.New(llmsim.Options{Gold: devFiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	var authorized atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+secret {
			authorized.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); hs.Close() })

	store, err := blob.New(context.Background(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, _ := blob.Normalize(dir)
	cfg, _, _ := llmJob(t, root, "politics", hs.URL+"/v1", activities.LLMConfig{})
	cfg.ShardSize = 200

	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ts.NewWorker(queue, func(r worker.Registry) {
		workflows.Register(r)
		registry.Register(r, wire.New(store, log, wire.Options{APIKey: secret}))
	})
	h := &harness{client: ts.GetDefaultClient(), store: store, server: ts}
	sum := h.run(t, workflows.CorpusState{Config: cfg})
	if sum.Docs == 0 || sum.Mentions == 0 {
		t.Fatalf("summary %+v: want documents and mentions", sum)
	}
	if authorized.Load() == 0 {
		t.Fatal("the model server never saw the key: the test proves nothing")
	}
	// The client logs its configuration, key redacted, at debug level.
	if !bytes.Contains(logs.Bytes(), []byte(`"msg":"llm client"`)) {
		t.Fatalf("no debug log of the LLM client's configuration:\n%s", logs.Bytes())
	}
	if i := bytes.Index(logs.Bytes(), []byte(secret)); i >= 0 {
		b := logs.Bytes()
		t.Errorf("the logs hold the API key: ...%s...", b[max(0, i-200):min(len(b), i+50)])
	}

	// Every file the job wrote, byte for byte (Parquet pages are not
	// compressed for strings this short, and the key is never written on
	// purpose, so a plain scan finds an accidental copy).
	files := 0
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the API key", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files under the output prefix", files)
	}

	// The history of the job's workflow and of every child it started.
	ctx := context.Background()
	ids := []string{workflows.WorkflowID(cfg.Job)}
	for n := 0; n < len(ids); n++ {
		iter := h.client.GetWorkflowHistory(ctx, ids[n], "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(ev.String(), secret) {
				t.Fatalf("history event %d of %s holds the API key", ev.GetEventId(), ids[n])
			}
			if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
				ids = append(ids, a.GetWorkflowId())
			}
		}
	}
	if len(ids) < 2 {
		t.Fatalf("checked %d workflow histories, want the job's and its shards'", len(ids))
	}
	t.Logf("%d requests carried the key; %d bytes of debug logs, %d files, %d workflow histories hold none of it",
		authorized.Load(), len(logs.Bytes()), files, len(ids))
}
