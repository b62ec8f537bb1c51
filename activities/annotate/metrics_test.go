package annotate_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/annotate"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/metrics/prom"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// TestMetricsAndLogs shards a small corpus and runs the stages on every
// shard with a worker's registry, then scrapes it: each counter has the
// value the activities returned, a retry that finds its output counts
// nothing again, and every log line of a stage names its run, stage and
// shard.
func TestMetricsAndLogs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var docs bytes.Buffer
	for i := range 5 {
		json.NewEncoder(&docs).Encode(map[string]string{"id": "d" + strconv.Itoa(i), "text": "Angela Merkel met Emmanuel Macron in Paris."})
	}
	docs.WriteString("not json\n") // a reject
	if err := os.WriteFile(filepath.Join(dir, "corpus.jsonl"), docs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := blob.New(ctx, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := blob.Normalize(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := blob.Normalize(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	run := activities.Run{ID: "job-1", URI: blob.Join(out, "runs", "job-1")}
	obj, err := store.Stat(ctx, corpus)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join("..", "..", "schemas", "crossner-politics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := json.Marshal(activities.Manifest{Corpus: corpus, Objects: []activities.ManifestItem{{URI: obj.URI, Size: obj.Size, ModTime: obj.ModTime}}})
	for uri, data := range map[string][]byte{runs.Dir(run).Manifest(): manifest, runs.Dir(run).Schema(): schema} {
		if err := store.Create(ctx, uri, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			t.Fatal(err)
		}
	}

	reg := prom.New()
	srv, err := reg.Serve(ctx, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := annotate.New(wire.New(store, log, wire.Options{Metrics: reg, Factory: func(_ activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
		return billed{rules.New(s)}, nil
	}}))

	// The activities run as Temporal runs them, in an activity context.
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	var sh activities.Sharding
	if err := execute(env, &sh, a.Shard, activities.Config{ShardSize: 2}, activities.Plan{Run: run}); err != nil {
		t.Fatal(err)
	}
	if sh.Shards != 3 || sh.Docs != 5 || sh.Rejects != 1 {
		t.Fatalf("sharding %+v, want 3 shards, 5 documents, 1 reject", sh)
	}
	// Calibrate before mediate: its input is missing, an error to count.
	if err := execute(env, nil, a.Calibrate, activities.ShardTask{Run: run, Shard: 0}); err == nil {
		t.Fatal("calibrate before mediate: no error")
	}
	want := map[string]float64{
		"zeroner_shards_total":                          3,
		`zeroner_documents_total{stage="shard"}`:        5,
		"zeroner_rejects_total":                         1,
		`zeroner_stage_errors_total{stage="calibrate"}`: 1,
	}
	stages := []struct {
		name string
		run  any
	}{{"discover", a.Discover}, {"mediate", a.Mediate}, {"calibrate", a.Calibrate}}
	for _, st := range stages {
		var sum activities.StageStats
		for shard := range sh.Shards {
			var s activities.StageStats
			if err := execute(env, &s, st.run, activities.ShardTask{Run: run, Shard: shard}); err != nil {
				t.Fatalf("%s shard %d: %v", st.name, shard, err)
			}
			sum.Docs += s.Docs
			sum.Mentions += s.Mentions
			sum.Usage.Add(s.Usage)
		}
		if sum.Mentions == 0 {
			t.Fatalf("%s found no mentions", st.name)
		}
		// A retried attempt finds the output: no new work, nothing counted.
		if err := execute(env, nil, st.run, activities.ShardTask{Run: run, Shard: 0}); err != nil {
			t.Fatal(err)
		}
		want[`zeroner_documents_total{stage="`+st.name+`"}`] = float64(sum.Docs)
		want[`zeroner_mentions_total{stage="`+st.name+`"}`] = float64(sum.Mentions)
		want[`zeroner_stage_failures_total{stage="`+st.name+`"}`] = 0
		if st.name == "discover" {
			want[`zeroner_llm_requests_total{stage="discover"}`] = 5
			want[`zeroner_llm_cache_hits_total{stage="discover"}`] = 0
			want[`zeroner_llm_prompt_tokens_total{stage="discover"}`] = 500
			want[`zeroner_llm_completion_tokens_total{stage="discover"}`] = 50
			want[`zeroner_llm_cached_tokens_total{stage="discover"}`] = 200
		}
	}

	got := scrape(t, "http://"+srv.Addr()+"/metrics")
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got[`zeroner_llm_requests_total{stage="mediate"}`]; ok {
		t.Error("LLM counters for a stage that used no model")
	}

	// Every line of a stage or of sharding locates its work.
	text := logs.String()
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["run"] != run.ID || rec["stage"] == nil {
			t.Errorf("log line without run or stage: %s", sc.Text())
		}
		if rec["workflow_id"] == nil || rec["stage"] != "shard" && rec["shard"] == nil {
			t.Errorf("log line without workflow or shard: %s", sc.Text())
		}
		n++
	}
	if n == 0 {
		t.Error("no log lines")
	}
	if !strings.Contains(text, `"msg":"stage failed"`) {
		t.Errorf("the failed calibrate attempt was not logged:\n%s", text)
	}
}

// execute runs the activity fn in env and decodes its result into res
// unless nil.
func execute(env *testsuite.TestActivityEnvironment, res any, fn any, args ...any) error {
	v, err := env.ExecuteActivity(fn, args...)
	if err != nil || res == nil {
		return err
	}
	return v.Get(res)
}

// billed is the rules backend with a model's bill for discovery: per
// document one request, 100 prompt tokens (40 cached), 10 completion tokens.
type billed struct{ pipeline.Backend }

func (b billed) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	res, err := b.Backend.Discover(ctx, docs)
	res.Usage = make(map[string]pipeline.Usage)
	for _, d := range docs {
		res.Usage[d.ID] = pipeline.Usage{Requests: 1, PromptTokens: 100, CompletionTokens: 10, CachedTokens: 40}
	}
	return res, err
}

// scrape returns the samples at url by series ("name{labels}").
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got[line[:i]] = v
	}
	return got
}
