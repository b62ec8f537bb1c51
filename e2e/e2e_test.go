// Package e2e runs zeroner's whole job on real parts: a Temporal server
// (temporaltest in process, or the embedded dev server in a child process),
// fake-gcs-server on a loopback listener, and real Parquet files.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/cli"
	"github.com/zeroner/zeroner/internal/devserver"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

// childEnv makes the test binary act as the starter, so the crash test can
// kill -9 a real `starter run --dev` process without building another binary.
const childEnv = "ZERONER_E2E_STARTER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
			Stdout: os.Stdout, Stderr: os.Stderr, DevServer: devserver.StartFile,
		}))
	}
	os.Exit(m.Run())
}

const queue = "zeroner-e2e"

// harness is a real Temporal server with a worker over a store.
type harness struct {
	client client.Client
	store  blob.Store
	server *temporaltest.TestServer
}

func newHarness(t *testing.T, store blob.Store, factory wire.BackendFactory) *harness {
	t.Helper()
	return newHarnessOpts(t, store, wire.Options{Factory: factory})
}

func newHarnessOpts(t *testing.T, store blob.Store, opt wire.Options) *harness {
	t.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ts.NewWorker(queue, func(r worker.Registry) {
		workflows.Register(r)
		registry.Register(r, wire.New(store, slog.New(slog.DiscardHandler), opt))
	})
	return &harness{client: ts.GetDefaultClient(), store: store, server: ts}
}

func (h *harness) run(t *testing.T, st workflows.CorpusState) activities.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wr, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.WorkflowID(st.Config.Job), TaskQueue: queue,
	}, workflows.AnnotateCorpus, st)
	if err != nil {
		t.Fatal(err)
	}
	var sum activities.Summary
	if err := wr.Get(ctx, &sum); err != nil {
		t.Fatalf("job %s: %v", st.Config.Job, err)
	}
	return sum
}

// localStore is a store and the file:// URI of a fresh folder for a test.
func localStore(t *testing.T) (blob.Store, string) {
	t.Helper()
	store, err := blob.New(context.Background(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := blob.Normalize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store, root
}

// mentions reads every part of a run's mentions table, in order.
func mentions(t *testing.T, s blob.Store, dir string) []table.Mention {
	t.Helper()
	ctx := context.Background()
	objs, err := s.List(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []table.Mention
	for _, o := range objs {
		r, err := s.OpenAt(ctx, o.URI)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := table.ReadMentions(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s: %v", o.URI, err)
		}
		out = append(out, rows...)
	}
	return out
}

// countingBackend counts the documents each stage is asked to process.
type countingBackend struct {
	pipeline.Backend
	docs *atomic.Int64
}

func (c countingBackend) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	c.docs.Add(int64(len(docs)))
	return c.Backend.Discover(ctx, docs)
}

func (c countingBackend) Mediate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	c.docs.Add(int64(len(docs)))
	return c.Backend.Mediate(ctx, docs, ms)
}

func (c countingBackend) Calibrate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	c.docs.Add(int64(len(docs)))
	return c.Backend.Calibrate(ctx, docs, ms)
}

func counting(n *atomic.Int64) wire.BackendFactory {
	return func(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
		b, err := wire.NewBackend(spec, s)
		return countingBackend{b, n}, err
	}
}

func schemaFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "schemas", "crossner-politics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, s blob.Store, uri string, data []byte) {
	t.Helper()
	if err := s.Replace(context.Background(), uri, blob.WriteBytes(data)); err != nil {
		t.Fatal(err)
	}
}

func jsonl(docs ...[2]string) []byte {
	var b strings.Builder
	for _, d := range docs {
		line, _ := json.Marshal(map[string]string{"id": d[0], "text": d[1]})
		b.Write(line)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// expected runs the rules backend in process on docs: what the job must
// produce, row for row.
func expected(t *testing.T, runID string, schema []byte, docs []pipeline.Document) []table.Mention {
	t.Helper()
	s, err := pipeline.ParseSchema(schema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.NewBackend(activities.BackendSpec{Name: "rules"}, s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pipeline.Annotate(context.Background(), b, docs)
	if err != nil {
		t.Fatal(err)
	}
	var out []table.Mention
	for _, m := range c.Mentions {
		out = append(out, table.Mention{RunID: runID, DocID: m.DocID, Start: int64(m.Start), End: int64(m.End),
			Text: m.Text, Archetype: string(m.Archetype), Label: m.Label, Score: m.Score, Extractors: m.Extractors})
	}
	return out
}

func diffMentions(t *testing.T, got, want []table.Mention) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d mentions, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.RunID != w.RunID || g.DocID != w.DocID || g.Start != w.Start || g.End != w.End || g.Text != w.Text ||
			g.Archetype != w.Archetype || g.Label != w.Label || g.Score != w.Score || !slices.Equal(g.Extractors, w.Extractors) {
			t.Fatalf("mention %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var _ = io.EOF
var _ = fmt.Sprint
