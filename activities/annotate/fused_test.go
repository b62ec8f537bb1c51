package annotate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/annotate"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// The Annotate activity (a shard's three stages in one) writes the same
// calibrated table, failures and usage as the three stage activities, and
// no discover or mediate table; a retry finds its output. With the rules
// backend it takes the one-pass path, with a wrapped backend the stages in
// turn.
func TestAnnotateEqualsStages(t *testing.T) {
	sents := devSentences(t, 120)
	var docs bytes.Buffer
	for i := 0; i < len(sents); i += 3 {
		json.NewEncoder(&docs).Encode(map[string]string{"id": fmt.Sprintf("d%04d", i), "text": strings.Join(sents[i:min(i+3, len(sents))], " ")})
	}
	for _, tt := range []struct {
		name    string
		backend func(*pipeline.Schema) pipeline.Backend
	}{
		{"rules", func(s *pipeline.Schema) pipeline.Backend { return rules.New(s) }},
		{"billed", func(s *pipeline.Schema) pipeline.Backend { return billed{rules.New(s)} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			factory := func(_ activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
				return tt.backend(s), nil
			}
			apart, apartStats := shardRun(t, docs.Bytes(), factory, false)
			one, oneStats := shardRun(t, docs.Bytes(), factory, true)
			if fmt.Sprint(apartStats) != fmt.Sprint(oneStats) {
				t.Errorf("stats: one activity %+v, three %+v", oneStats, apartStats)
			}
			for name, want := range apart {
				if strings.HasPrefix(name, "discover/shard-") || strings.HasPrefix(name, "mediate/shard-") {
					if _, ok := one[name]; ok {
						t.Errorf("one activity wrote %s", name)
					}
					continue
				}
				if got, ok := one[name]; !ok || !bytes.Equal(got, want) {
					t.Errorf("%s: written %v, same bytes %v", name, ok, bytes.Equal(got, want))
				}
			}
			if len(one) == 0 || tt.name == "billed" && len(one) <= 2 {
				t.Errorf("one activity wrote %d files", len(one))
			}
		})
	}
}

// devSentences are the first n sentences of CrossNER politics dev.
func devSentences(t testing.TB, n int) []string {
	data, err := os.ReadFile(filepath.Join("..", "..", "data", "crossner", "politics", "dev.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var words []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			words = append(words, f[0])
			continue
		}
		if len(words) > 0 {
			out = append(out, strings.Join(words, " "))
			words = nil
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// shardRun shards corpus into a fresh run and annotates each shard with the
// Annotate activity (one) or the three stage activities, then once more to
// check a retry. It returns the stage folder's files by name and the stats.
func shardRun(t *testing.T, corpus []byte, factory wire.BackendFactory, one bool) (map[string][]byte, []activities.StageStats) {
	r := newRun(t, corpus, factory, 15)
	fns := []any{r.a.Discover, r.a.Mediate, r.a.Calibrate}
	if one {
		fns = []any{r.a.Annotate}
	}
	var stats []activities.StageStats
	for range 2 { // the second time, a retry that finds the outputs
		for shard := range r.shards {
			var sum activities.StageStats
			for _, fn := range fns {
				var s activities.StageStats
				if err := execute(r.env, &s, fn, activities.ShardTask{Run: r.run, Shard: shard}); err != nil {
					t.Fatal(err)
				}
				sum.Docs, sum.Mentions = s.Docs, s.Mentions
				sum.Failures += s.Failures
				sum.Usage.Add(s.Usage)
			}
			stats = append(stats, sum)
		}
	}
	files := make(map[string][]byte)
	root := filepath.Join(r.dir, "out", "runs", "job-1", "stages")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, stats
}

// shardedRun is a run whose corpus is sharded, ready for its stages.
type shardedRun struct {
	a      *annotate.Activities
	env    *testsuite.TestActivityEnvironment
	store  blob.Store
	run    activities.Run
	shards int
	dir    string
}

// newRun writes corpus (JSONL) and a run's manifest and schema into a
// temporary folder and shards it.
func newRun(t testing.TB, corpus []byte, factory wire.BackendFactory, shardSize int) shardedRun {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "corpus.jsonl"), corpus, 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := blob.New(ctx, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := blob.Normalize(filepath.Join(dir, "corpus.jsonl"))
	out, _ := blob.Normalize(filepath.Join(dir, "out"))
	run := activities.Run{ID: "job-1", URI: blob.Join(out, "runs", "job-1")}
	obj, err := store.Stat(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join("..", "..", "schemas", "crossner-politics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := json.Marshal(activities.Manifest{Corpus: uri, Objects: []activities.ManifestItem{{URI: obj.URI, Size: obj.Size, ModTime: obj.ModTime}}})
	for u, data := range map[string][]byte{runs.Dir(run).Manifest(): manifest, runs.Dir(run).Schema(): schema} {
		if err := store.Create(ctx, u, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			t.Fatal(err)
		}
	}
	a := annotate.New(wire.New(store, slog.New(slog.DiscardHandler), wire.Options{Factory: factory}))
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	var sh activities.Sharding
	if err := execute(env, &sh, a.Shard, activities.Config{ShardSize: shardSize}, activities.Plan{Run: run}); err != nil {
		t.Fatal(err)
	}
	return shardedRun{a: a, env: env, store: store, run: run, shards: sh.Shards, dir: dir}
}

// BenchmarkAnnotateShard is the Annotate activity on one shard of 1,000
// documents of three to six politics dev sentences (about the benchmark
// corpus's), called as a plain function (no Temporal): reading the shard,
// the backend, the checks and writing the calibrated table. "backend" is
// the backend alone on the same documents, in memory.
func BenchmarkAnnotateShard(b *testing.B) {
	sents := devSentences(b, 1000)
	rnd := rand.New(rand.NewPCG(1, 2))
	var corpus bytes.Buffer
	var docs []pipeline.Document
	for i := range 1000 {
		parts := make([]string, 3+rnd.IntN(4))
		for j := range parts {
			parts[j] = sents[rnd.IntN(len(sents))]
		}
		d := pipeline.Document{ID: fmt.Sprintf("doc-%07d", i), Text: strings.Join(parts, " ")}
		docs = append(docs, d)
		json.NewEncoder(&corpus).Encode(map[string]string{"id": d.ID, "text": d.Text})
	}
	s, err := pipeline.ParseSchema(politicsYAML(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("backend", func(b *testing.B) {
		be := rules.New(s)
		for b.Loop() {
			if _, err := pipeline.RunStages(ctx, be, docs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("activity", func(b *testing.B) {
		r := newRun(b, corpus.Bytes(), nil, 1000)
		task := activities.ShardTask{Run: r.run, Shard: 0}
		out := runs.Dir(r.run).Stage(activities.StageCalibrate, 0)
		for b.Loop() {
			if err := r.store.Delete(ctx, out); err != nil && !blob.IsNotExist(err) {
				b.Fatal(err)
			}
			if _, err := r.a.Annotate(ctx, task); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

func politicsYAML(t testing.TB) []byte {
	data, err := os.ReadFile(filepath.Join("..", "..", "schemas", "crossner-politics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
