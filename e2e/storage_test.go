package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

// faultyProxy forwards to a Cloud Storage endpoint and answers some requests
// with 503: every 7th before it reaches the server, and every 11th after the
// server did the work (the answer is lost, so a retried create meets its own
// object).
type faultyProxy struct {
	next            http.Handler
	n, before, lost atomic.Int64
}

func (p *faultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.n.Add(1)
	switch {
	case n%7 == 0:
		p.before.Add(1)
		http.Error(w, "injected", http.StatusServiceUnavailable)
	case n%11 == 0:
		p.lost.Add(1)
		p.next.ServeHTTP(httptest.NewRecorder(), r)
		http.Error(w, "injected after the fact", http.StatusServiceUnavailable)
	default:
		p.next.ServeHTTP(w, r)
	}
}

// Transient Cloud Storage errors are retried and the job's tables are the
// same as without them; a missing bucket fails the job at once, with a
// message that names the URI.
func TestStorageFaults(t *testing.T) {
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "nlp"})
	target, _ := url.Parse(gcs.URL())
	proxy := &faultyProxy{next: httputil.NewSingleHostReverseProxy(target)}
	ps := httptest.NewServer(proxy)
	defer ps.Close()
	ctx := context.Background()
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: ps.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	docs := []pipeline.Document{
		{ID: "d1", Text: "Angela Merkel met Emmanuel Macron in Paris .", Source: "gs://nlp/corpus/a.jsonl"},
		{ID: "d2", Text: "The Labour Party won in Wales .", Source: "gs://nlp/corpus/a.jsonl"},
		{ID: "d3", Text: "Olaf Scholz spoke in Berlin .", Source: "gs://nlp/corpus/b.jsonl"},
	}
	put(t, store, "gs://nlp/corpus/a.jsonl", jsonl([2]string{"d1", docs[0].Text}, [2]string{"d2", docs[1].Text}))
	put(t, store, "gs://nlp/corpus/b.jsonl", jsonl([2]string{"d3", docs[2].Text}))
	schema := schemaFile(t)
	put(t, store, "gs://nlp/s.yaml", schema)

	h := newHarness(t, store, nil)
	began := time.Now()
	cfg := activities.Config{Job: "flaky", Corpus: "gs://nlp/corpus/", Schema: "gs://nlp/s.yaml", Output: "gs://nlp/out",
		Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 2, Window: 2}
	sum := h.run(t, workflows.CorpusState{Config: cfg})
	if sum.Docs != 3 {
		t.Fatalf("summary %+v: want 3 documents", sum)
	}
	diffMentions(t, mentions(t, store, sum.Outputs.Mentions), expected(t, sum.RunID, schema, docs))
	t.Logf("%d storage requests, %d refused, %d answers lost, in %s", proxy.n.Load(), proxy.before.Load(), proxy.lost.Load(),
		time.Since(began).Round(time.Second))
	if proxy.before.Load() == 0 || proxy.lost.Load() == 0 {
		t.Fatal("no fault was injected")
	}

	// A missing bucket is permanent: the job fails fast and says where.
	cfg.Job, cfg.Output = "nobucket", "gs://no-such-bucket/out"
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	wr, err := h.client.ExecuteWorkflow(cctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(cfg.Job), TaskQueue: queue},
		workflows.AnnotateCorpus, workflows.CorpusState{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	err = wr.Get(cctx, nil)
	if err == nil || !strings.Contains(err.Error(), "gs://no-such-bucket/out") {
		t.Fatalf("job on a missing bucket: %v; want a failure naming gs://no-such-bucket/out", err)
	}
	t.Logf("failed in %s: %v", time.Since(start).Round(time.Millisecond), err)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the job took %s to fail: a missing bucket was retried", d)
	}
}
