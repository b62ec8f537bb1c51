package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/wire"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

var domains = []string{"ai", "literature", "music", "politics", "science"}

// sim starts the LLM test server on a loopback listener, knowing the gold of
// the given BIO files.
func sim(t *testing.T, opt llmsim.Options) (*llmsim.Server, string) {
	t.Helper()
	for _, d := range domains {
		data, err := os.ReadFile(filepath.Join("..", "schemas", "crossner-"+d+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := pipeline.ParseSchema(data)
		if err != nil {
			t.Fatal(err)
		}
		opt.Schemas = append(opt.Schemas, s)
	}
	srv, err := llmsim.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, hs.URL + "/v1"
}

// goldSpans reads a BIO file's gold as the set of "doc start end label".
func goldSpans(t *testing.T, uri, path string) (map[string]bool, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gold := map[string]bool{}
	var ids []string
	err = corpus.ReadBIO(f, uri, corpus.Options{}, func(d corpus.Doc) error {
		ids = append(ids, d.ID)
		for _, s := range d.Gold {
			gold[fmt.Sprintf("%s %d %d %s", d.ID, s.Start, s.End, s.Label)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return gold, ids
}

// llmJob returns the config of a SAM-NER job over one dev split.
func llmJob(t *testing.T, root, domain, baseURL string, llm activities.LLMConfig) (activities.Config, string, string) {
	t.Helper()
	path := dataset.Path(t, "crossner", domain, "dev.txt")
	uri, err := blob.Normalize(path)
	if err != nil {
		t.Fatal(err)
	}
	schema, _ := blob.Normalize(filepath.Join("..", "schemas", "crossner-"+domain+".yaml"))
	out := blob.Join(root, "out-"+domain)
	llm.BaseURL = baseURL
	llm.Model = "llmsim"
	return activities.Config{
		Job: "llm-" + domain, Corpus: uri, Schema: schema, Output: out,
		Backend:   activities.BackendSpec{Name: "sam", LLM: llm, Cache: blob.Join(out, "cache", "llm")},
		Reader:    activities.Reader{Format: corpus.FormatBIO},
		ShardSize: 100, Window: 4,
	}, uri, path
}

func predicted(t *testing.T, s blob.Store, sum activities.Summary) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for _, m := range mentions(t, s, sum.Outputs.Mentions) {
		got[fmt.Sprintf("%s %d %d %s", m.DocID, m.Start, m.End, m.Label)] = true
	}
	return got
}

// compare reports the gold mentions not predicted and the predictions not in
// the gold, outside the documents in skip (those a stage failed on).
func compare(t *testing.T, name string, got, gold map[string]bool, skip map[string]bool) (missed, spurious int) {
	t.Helper()
	for k := range gold {
		if !got[k] && !skip[strings.Fields(k)[0]] {
			missed++
			if missed <= 3 {
				t.Errorf("%s: gold %q not predicted", name, k)
			}
		}
	}
	for k := range got {
		if !gold[k] && !skip[strings.Fields(k)[0]] {
			spurious++
			if spurious <= 3 {
				t.Errorf("%s: predicted %q not in gold", name, k)
			}
		}
	}
	return missed, spurious
}

// With the test server at zero noise, the job on all five CrossNER dev
// splits reproduces the gold exactly: strict F1 1.0 with misc kept. This
// checks the plumbing (offsets, alignment, consensus, mediation,
// calibration), not any model.
func TestLLMZeroNoiseReproducesDevGold(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t)})
	store, root := localStore(t)
	h := newHarness(t, store, nil)
	for _, d := range domains {
		cfg, uri, path := llmJob(t, root, d, url, activities.LLMConfig{})
		sum := h.run(t, workflows.CorpusState{Config: cfg})
		gold, ids := goldSpans(t, uri, path)
		if sum.Docs != int64(len(ids)) || sum.Failures != 0 {
			t.Fatalf("%s: %d documents, %d failures; want %d and none", d, sum.Docs, sum.Failures, len(ids))
		}
		missed, spurious := compare(t, d, predicted(t, store, sum), gold, nil)
		t.Logf("%s: %d gold mentions, %d missed, %d spurious; %d requests, %d prompt tokens",
			d, len(gold), missed, spurious, sum.Usage.Requests, sum.Usage.PromptTokens)
	}
	if srv.Stats().Requests == 0 {
		t.Fatal("the test server saw no requests")
	}
}

// Each fault kind of the test server at 15%: the job completes, every failed
// chunk is listed with its reason, every other document is annotated as the
// gold says, and no request is retried without bound.
func TestLLMFaultsLoseNothingElse(t *testing.T) {
	kinds := map[string]llmsim.Faults{
		"429":       {RateLimit: 0.15},
		"500":       {ServerError: 0.15},
		"timeout":   {Timeout: 0.15},
		"malformed": {Malformed: 0.15},
		"truncated": {Truncated: 0.15},
	}
	for name, faults := range kinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, url := sim(t, llmsim.Options{Gold: devFiles(t), Faults: faults, Seed: 7,
				RetryAfter: 10 * time.Millisecond, Hang: 2 * time.Second})
			store, err := blob.New(context.Background(), blob.Options{})
			if err != nil {
				t.Fatal(err)
			}
			root, _ := blob.Normalize(t.TempDir())
			h := newHarness(t, store, nil)
			cfg, uri, path := llmJob(t, root, "ai", url, activities.LLMConfig{
				TimeoutSeconds: 0.5, MaxRetries: 4, MaxReasks: 1,
			})
			sum := h.run(t, workflows.CorpusState{Config: cfg})
			gold, ids := goldSpans(t, uri, path)
			if sum.Docs != int64(len(ids)) {
				t.Fatalf("%d documents, want %d", sum.Docs, len(ids))
			}
			failed := failedDocs(t, store, sum)
			if int64(len(failed)) > sum.Failures {
				t.Errorf("%d failed documents but run.json says %d failures", len(failed), sum.Failures)
			}
			missed, spurious := compare(t, name, predicted(t, store, sum), gold, failed)
			st := srv.Stats()
			// Every request is asked at most (1 + retries) x (1 + re-asks)
			// times; the unfaulted run of ai dev needs far fewer than 200.
			if max := int64(200 * 5 * 2); st.Requests > max {
				t.Errorf("%d requests: retries are not bounded (at most %d)", st.Requests, max)
			}
			t.Logf("faults %v: %d requests, %d documents failed (%d in run.json), %d missed, %d spurious",
				st.Faults, st.Requests, len(failed), sum.Failures, missed, spurious)
		})
	}
}

// A second run of a finished job asks the model nothing: every answer comes
// from the response cache, even for a new run of the same job.
func TestLLMSecondRunIsFree(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t)})
	store, root := localStore(t)
	h := newHarness(t, store, nil)
	cfg, _, _ := llmJob(t, root, "music", url, activities.LLMConfig{})
	first := h.run(t, workflows.CorpusState{Config: cfg})
	asked := srv.Stats().Requests
	if asked == 0 || first.Usage.Requests == 0 {
		t.Fatalf("first run asked nothing (%d, %+v)", asked, first.Usage)
	}
	// The same job again, and a new run of it under another name and
	// window. (Another shard size would pack sentences into other
	// requests: those are new questions.)
	h.run(t, workflows.CorpusState{Config: cfg})
	cfg.Job, cfg.Window = "llm-music-again", 2
	again := h.run(t, workflows.CorpusState{Config: cfg})
	if n := srv.Stats().Requests - asked; n != 0 {
		t.Errorf("re-runs sent %d requests, want 0", n)
	}
	if again.Usage.Requests != 0 || again.Usage.CacheHits == 0 || again.Mentions != first.Mentions {
		t.Errorf("new run: usage %+v, %d mentions; want only cache hits and %d mentions", again.Usage, again.Mentions, first.Mentions)
	}
}

func devFiles(t *testing.T) []string {
	var files []string
	for _, d := range domains {
		files = append(files, dataset.Path(t, "crossner", d, "dev.txt"))
	}
	return files
}

// failedDocs reads the documents listed in a run's stage failure tables.
func failedDocs(t *testing.T, s blob.Store, sum activities.Summary) map[string]bool {
	t.Helper()
	failed := map[string]bool{}
	for doc := range failureReasons(t, s, sum) {
		failed[doc] = true
	}
	return failed
}

// failureReasons reads the run's failures tables: a reason per failed
// document (the last one listed).
func failureReasons(t *testing.T, s blob.Store, sum activities.Summary) map[string]string {
	t.Helper()
	ctx := context.Background()
	runDir := strings.TrimSuffix(sum.Outputs.Summary, "run.json")
	objs, err := s.List(ctx, runDir+"stages/")
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, o := range objs {
		if !strings.Contains(o.URI, "/failures-") {
			continue
		}
		r, err := s.OpenAt(ctx, o.URI)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := table.ReadRejects(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			if row.Reason == "" {
				t.Errorf("failure of %s has no reason", row.Object)
			}
			failed[row.Object] = row.Reason
		}
	}
	return failed
}

// A document of more than 200,000 characters is annotated whole: it is cut
// into overlapping chunks, and the mentions near its end are found at the
// right offsets. The document is politics dev twice over, so its gold is
// known.
func TestLLMLongDocument(t *testing.T) {
	_, url := sim(t, llmsim.Options{Gold: devFiles(t)})
	path := dataset.Path(t, "crossner", "politics", "dev.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var sents []corpus.Doc
	err = corpus.ReadBIO(f, "x", corpus.Options{}, func(d corpus.Doc) error { sents = append(sents, d); return nil })
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var text []rune
	want := map[string]bool{}
	var last int
	for range 2 {
		for _, s := range sents {
			if len(text) > 0 {
				text = append(text, ' ')
			}
			off := len(text)
			text = append(text, []rune(s.Text)...)
			for _, g := range s.Gold {
				want[fmt.Sprintf("long %d %d %s", off+g.Start, off+g.End, g.Label)] = true
				last = max(last, off+g.End)
			}
		}
	}
	if len(text) < 200_000 {
		t.Fatalf("document of %d characters, want 200,000 or more", len(text))
	}
	store, root := localStore(t)
	put(t, store, blob.Join(root, "corpus", "long.jsonl"), jsonl([2]string{"long", string(text)}))
	cfg, _, _ := llmJob(t, root, "politics", url, activities.LLMConfig{})
	cfg.Corpus, cfg.Reader = blob.Join(root, "corpus")+"/", activities.Reader{}
	h := newHarnessOpts(t, store, wire.Options{APIKey: "sk-zeroner-test-secret"})
	sum := h.run(t, workflows.CorpusState{Config: cfg})
	if sum.Docs != 1 || sum.Failures != 0 {
		t.Fatalf("summary %+v: want one document, no failures", sum)
	}
	got := predicted(t, store, sum)
	missed, spurious := compare(t, "long", got, want, nil)
	tail := false
	for k := range got {
		if strings.Fields(k)[2] == fmt.Sprint(last) {
			tail = true
		}
	}
	if !tail {
		t.Errorf("no mention ends where the document's last gold mention does (%d)", last)
	}
	t.Logf("%d characters, %d gold mentions (last ends at %d), %d missed, %d spurious", len(text), len(want), last, missed, spurious)

	// The worker's API key is in neither run.json nor the workflow history.
	data, err := blob.ReadAll(context.Background(), store, sum.Outputs.Summary)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "sk-zeroner-test-secret") {
		t.Error("run.json holds the API key")
	}
	iter := h.client.GetWorkflowHistory(context.Background(), workflows.WorkflowID(cfg.Job), "", false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ev.String(), "sk-zeroner-test-secret") {
			t.Fatalf("history event %d holds the API key", ev.GetEventId())
		}
	}
}

// The LLM backend with the corpus, the output and the response cache on
// fake-gcs-server: the answers are cached as gs:// objects, a new run of the
// job asks nothing, and a schema's gazetteer votes in discovery.
func TestLLMOnGCS(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t)})
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "nlp"})
	ctx := context.Background()
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: gcs.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	path := dataset.Path(t, "crossner", "politics", "dev.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][2]string
	want := map[string]bool{}
	var pinned string // a politician of the gold, for the gazetteer
	err = corpus.ReadBIO(f, "x", corpus.Options{}, func(d corpus.Doc) error {
		if len(docs) < 40 {
			id := fmt.Sprintf("d%02d", len(docs))
			docs = append(docs, [2]string{id, d.Text})
			for _, g := range d.Gold {
				want[fmt.Sprintf("%s %d %d %s", id, g.Start, g.End, g.Label)] = true
				if g.Label == "politician" && pinned == "" {
					pinned = string([]rune(d.Text)[g.Start:g.End])
				}
			}
		}
		return nil
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	put(t, store, "gs://nlp/corpus/part-1.jsonl", jsonl(docs...))
	// Pin a politician of the corpus in the schema's gazetteer.
	schema := strings.Replace(string(schemaFile(t)), "  - name: politician\n", fmt.Sprintf("  - name: politician\n    gazetteer: [%q]\n", pinned), 1)
	if pinned == "" || !strings.Contains(schema, "gazetteer") {
		t.Fatal("could not add a gazetteer to the politics schema")
	}
	put(t, store, "gs://nlp/schemas/politics.yaml", []byte(schema))

	h := newHarness(t, store, nil)
	cfg := activities.Config{
		Job: "gcs-llm", Corpus: "gs://nlp/corpus/", Schema: "gs://nlp/schemas/politics.yaml", Output: "gs://nlp/out",
		Backend: activities.BackendSpec{Name: "sam", Cache: "gs://nlp/out/cache/llm",
			LLM: activities.LLMConfig{BaseURL: url, Model: "llmsim"}},
		ShardSize: 10, Window: 4,
	}
	first := h.run(t, workflows.CorpusState{Config: cfg})
	compare(t, "gcs", predicted(t, store, first), want, nil)
	cached, err := store.List(ctx, "gs://nlp/out/cache/llm/")
	if err != nil {
		t.Fatal(err)
	}
	if len(cached) == 0 || int64(len(cached)) > first.Usage.Requests {
		t.Errorf("%d cached answers for %d requests", len(cached), first.Usage.Requests)
	}
	var voted bool
	for _, m := range mentions(t, store, first.Outputs.Mentions) {
		if m.Text == pinned && slices.Contains(m.Extractors, "gazetteer") {
			voted = true
		}
	}
	if !voted {
		t.Errorf("the gazetteer did not vote for %q", pinned)
	}

	asked := srv.Stats().Requests
	cfg.Job = "gcs-llm-again"
	again := h.run(t, workflows.CorpusState{Config: cfg})
	if n := srv.Stats().Requests - asked; n != 0 || again.Usage.CacheHits == 0 {
		t.Errorf("new run: %d requests, %d cache hits; want none and some", n, again.Usage.CacheHits)
	}
}

// A token ceiling stops the job cleanly at a shard boundary, leaving the run
// open; the same job with a higher ceiling resumes it, and between them the
// two ask the model exactly what an uninterrupted run asks.
func TestLLMTokenCeiling(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t)})
	store, root := localStore(t)
	h := newHarness(t, store, nil)

	ref, _, _ := llmJob(t, blob.Join(root, "ref"), "politics", url, activities.LLMConfig{})
	ref.ShardSize, ref.Window = 20, 2
	full := h.run(t, workflows.CorpusState{Config: ref})
	uninterrupted := srv.Stats().Requests

	cfg, _, _ := llmJob(t, blob.Join(root, "budget"), "politics", url, activities.LLMConfig{})
	cfg.ShardSize, cfg.Window = 20, 2
	cfg.MaxTokens = (full.Usage.PromptTokens + full.Usage.CompletionTokens) / 5
	stopped := h.run(t, workflows.CorpusState{Config: cfg})
	if stopped.Stopped == "" || stopped.Docs == 0 || stopped.Docs >= full.Docs {
		t.Fatalf("with a ceiling of %d tokens: %+v; want a stop part way", cfg.MaxTokens, stopped)
	}
	if used := stopped.Usage.PromptTokens + stopped.Usage.CompletionTokens; used < cfg.MaxTokens {
		t.Errorf("stopped after %d tokens, below the ceiling of %d", used, cfg.MaxTokens)
	}
	runJSON := strings.TrimSuffix(full.Outputs.Summary, "run.json")
	runJSON = strings.Replace(runJSON, "/ref/", "/budget/", 1) + "run.json"
	if _, err := store.Stat(context.Background(), runJSON); !blob.IsNotExist(err) {
		t.Errorf("the stopped run has a run.json (%v): it should stay open", err)
	}
	t.Logf("stopped: %s", stopped.Stopped)

	cfg.MaxTokens = 0
	resumed := h.run(t, workflows.CorpusState{Config: cfg})
	if resumed.Stopped != "" || resumed.Docs != full.Docs || resumed.Mentions != full.Mentions || resumed.RunID != stopped.RunID {
		t.Fatalf("resumed: %+v; want run %s finished like the uninterrupted one (%d documents, %d mentions)",
			resumed, stopped.RunID, full.Docs, full.Mentions)
	}
	if n := srv.Stats().Requests - uninterrupted; n != uninterrupted {
		t.Errorf("stopped and resumed runs sent %d requests, an uninterrupted run %d", n, uninterrupted)
	}
}

// Against 30% 429s, 5% 500s, 2% timeouts and 5% malformed answers, with
// retries kept short so that some chunks fail for good, the job completes and
// run.json lists the failed chunks; a re-run with RetryFailed asks again only
// for those and ends with the gold annotations.
func TestLLMRetryFailedChunks(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t), Seed: 11, RetryAfter: 10 * time.Millisecond, Hang: 2 * time.Second,
		Faults: llmsim.Faults{RateLimit: 0.30, ServerError: 0.05, Timeout: 0.02, Malformed: 0.05}})
	store, root := localStore(t)
	h := newHarness(t, store, nil)
	cfg, uri, path := llmJob(t, root, "science", url, activities.LLMConfig{TimeoutSeconds: 0.5, MaxRetries: 2, MaxReasks: -1})
	cfg.ShardSize = 50
	first := h.run(t, workflows.CorpusState{Config: cfg})
	if first.Failures == 0 {
		t.Fatal("no chunk failed: the test does not exercise a retry")
	}
	var run struct {
		FailuresList []table.Reject `json:"failures_list"`
	}
	data, err := blob.ReadAll(context.Background(), store, first.Outputs.Summary)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	// A failed document may have failed in several chunks or voters: at
	// least one row each.
	if int64(len(run.FailuresList)) < min(first.Failures, 1000) || run.FailuresList[0].Reason == "" {
		t.Fatalf("run.json lists %d failures with reasons, the run counts %d", len(run.FailuresList), first.Failures)
	}
	asked := srv.Stats().Requests

	cfg.RetryFailed = true
	cfg.Backend.LLM.MaxRetries, cfg.Backend.LLM.MaxReasks = 8, 3
	second := h.run(t, workflows.CorpusState{Config: cfg})
	again := srv.Stats().Requests - asked
	gold, _ := goldSpans(t, uri, path)
	missed, spurious := compare(t, "retried", predicted(t, store, second), gold, nil)
	t.Logf("first run: %d requests, %d failed documents; retry: %d requests, %d failures left, %d missed, %d spurious",
		asked, first.Failures, again, second.Failures, missed, spurious)
	if second.RunID != first.RunID || second.Failures != 0 {
		t.Errorf("retry: run %s with %d failures; want run %s with none", second.RunID, second.Failures, first.RunID)
	}
	// Only the failed chunks' requests are asked again (with their
	// faults and retries): far fewer than the first run's.
	if again == 0 || again >= asked/2 {
		t.Errorf("retry sent %d requests; the first run sent %d", again, asked)
	}
}
