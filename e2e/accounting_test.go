package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

// outage is the rules backend behind a model endpoint that a test takes
// down: while down, every stage fails as the LLM client fails once its
// retries end (ErrUnavailable; not retried here, to keep the test fast).
type outage struct {
	pipeline.Backend
	down  *atomic.Bool
	calls *atomic.Int64
}

func (o outage) check() error {
	if o.down.Load() {
		return temporal.NewNonRetryableApplicationError("llm: post http://127.0.0.1:1/v1/chat/completions: connection refused",
			activities.ErrUnavailable, nil)
	}
	o.calls.Add(1)
	return nil
}

func (o outage) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	if err := o.check(); err != nil {
		return pipeline.Result{}, err
	}
	return o.Backend.Discover(ctx, docs)
}

// A scheduled job whose endpoint is down for one firing and back for the
// next: the first firing records no object as annotated and says why; the
// second finishes the same run, reusing what the first did; every object
// ends annotated exactly once, and the mentions equal an uninterrupted
// run's. A third firing has nothing to do.
func TestScheduledJobSurvivesEndpointOutage(t *testing.T) {
	store, root := localStore(t)
	var down atomic.Bool
	var calls atomic.Int64
	factory := func(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
		b, err := wire.NewBackend(spec, s)
		return outage{b, &down, &calls}, err
	}
	h := newHarness(t, store, factory)
	schema := schemaFile(t)
	put(t, store, blob.Join(root, "schema.yaml"), schema)
	for i := range 4 {
		var docs [][2]string
		for j := range 5 {
			docs = append(docs, [2]string{fmt.Sprintf("o%d-d%d", i, j),
				fmt.Sprintf("Angela Merkel of the Christian Democratic Union met Joe Biden in Washington on day %d .", j)})
		}
		put(t, store, blob.Join(root, "corpus", fmt.Sprintf("part-%d.jsonl", i)), jsonl(docs...))
	}
	job := func(name, out string) workflows.CorpusState {
		return workflows.CorpusState{Config: activities.Config{Job: name, Corpus: blob.Join(root, "corpus") + "/",
			Output: blob.Join(root, out), Schema: blob.Join(root, "schema.yaml"), Backend: activities.BackendSpec{Name: "rules"},
			ShardSize: 3, Window: 2}}
	}

	down.Store(true)
	first := h.run(t, job("nightly", "out"))
	if first.Pending != 4 || len(first.Problems) != 1 || !strings.Contains(first.Problems[0].Cause, "connection refused") ||
		first.Problems[0].Count != 4 || len(first.Problems[0].Objects) != 3 {
		t.Fatalf("firing with the endpoint down: pending %d, problems %+v; want 4 objects under one cause, 3 named", first.Pending, first.Problems)
	}
	for _, f := range first.FailedShards {
		if strings.Count(f.Reason, "connection refused") != 1 || f.Type != activities.ErrUnavailable ||
			// One activity runs a rules shard's stages: the cause names it.
			f.Cause != "annotate: llm: post http://127.0.0.1:1/v1/chat/completions: connection refused" {
			t.Fatalf("failed shard %+v: want the error once, typed %s, its cause the stage and the innermost error", f, activities.ErrUnavailable)
		}
	}
	st := jobState(t, store, blob.Join(root, "out", "jobs", "nightly.json"))
	if len(st.Objects) != 0 || len(st.Pending) != 4 {
		t.Fatalf("job dataset after the outage: %d annotated, %d pending; want 0 and 4", len(st.Objects), len(st.Pending))
	}

	down.Store(false)
	second := h.run(t, job("nightly", "out"))
	if second.Pending != 0 || !second.Resumed || second.RunID != first.RunID || second.Docs != 20 {
		t.Fatalf("firing with the endpoint back: %+v; want the same run finished with 20 documents", second)
	}
	st = jobState(t, store, blob.Join(root, "out", "jobs", "nightly.json"))
	if len(st.Objects) != 4 || len(st.Pending) != 0 {
		t.Fatalf("job dataset: %d annotated, %d pending; want 4 and 0", len(st.Objects), len(st.Pending))
	}
	// Exactly once: every document's mentions are in one run's table.
	var got []table.Mention
	for _, r := range st.Runs {
		got = append(got, mentions(t, store, blob.Join(r.URI, "mentions")+"/")...)
	}
	before := calls.Load()
	third := h.run(t, job("nightly", "out"))
	if !third.UpToDate || third.Pending != 0 || calls.Load() != before {
		t.Fatalf("third firing: %+v, %d stage calls; want up to date and no work", third, calls.Load()-before)
	}

	ref := h.run(t, job("uninterrupted", "ref"))
	want := mentions(t, store, ref.Outputs.Mentions)
	if len(got) == 0 || len(got) != len(want) {
		t.Fatalf("%d mentions over the job's runs, %d in an uninterrupted run", len(got), len(want))
	}
	key := func(m table.Mention) string { return fmt.Sprintf("%s %d %d %s", m.DocID, m.Start, m.End, m.Label) }
	gk, wk := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		gk[i], wk[i] = key(got[i]), key(want[i])
	}
	slices.Sort(gk)
	slices.Sort(wk)
	if !slices.Equal(gk, wk) {
		t.Fatalf("mentions differ from an uninterrupted run's")
	}
}

// A refusal (401: a wrong key) stops the job at once with the cause: no new
// shard starts after it.
func TestRefusalStopsTheJob(t *testing.T) {
	store, root := localStore(t)
	var calls atomic.Int64
	factory := func(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
		b, err := wire.NewBackend(spec, s)
		return refusing{b, &calls}, err
	}
	h := newHarness(t, store, factory)
	put(t, store, blob.Join(root, "schema.yaml"), schemaFile(t))
	var docs [][2]string
	for j := range 40 {
		docs = append(docs, [2]string{fmt.Sprintf("d%d", j), "Angela Merkel met Joe Biden in Washington ."})
	}
	put(t, store, blob.Join(root, "corpus", "a.jsonl"), jsonl(docs...))
	st := workflows.CorpusState{Config: activities.Config{Job: "refused", Corpus: blob.Join(root, "corpus") + "/",
		Output: blob.Join(root, "out"), Schema: blob.Join(root, "schema.yaml"), Backend: activities.BackendSpec{Name: "rules"},
		ShardSize: 2, Window: 1}}
	ctx := context.Background()
	wr, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(st.Config.Job), TaskQueue: queue}, workflows.AnnotateCorpus, st)
	if err != nil {
		t.Fatal(err)
	}
	err = wr.Get(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("job with a refused key: err %v, want the 401", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d shards asked the model after a refusal, want 1 (20 shards, window 1)", n)
	}
}

type refusing struct {
	pipeline.Backend
	calls *atomic.Int64
}

func (r refusing) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	r.calls.Add(1)
	return pipeline.Result{}, temporal.NewNonRetryableApplicationError("llm: 401 Unauthorized: invalid API key", activities.ErrRefused, nil)
}

func jobState(t *testing.T, s blob.Store, uri string) runs.JobState {
	t.Helper()
	data, err := blob.ReadAll(context.Background(), s, uri)
	if err != nil {
		t.Fatal(err)
	}
	var st runs.JobState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
