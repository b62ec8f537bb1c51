package workflows

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/search"

	"github.com/zeroner/zeroner/activities/index"
	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"

	"github.com/stretchr/testify/mock"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/retriever"
)

func newTestEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	return s.NewTestWorkflowEnvironment()
}

func TestBuildIndex(t *testing.T) {
	tests := []struct {
		name      string
		skipHead  bool
		badShard  int // -1: none
		wantSteps []string
		wantErr   string
	}{
		{name: "with a head", badShard: -1,
			wantSteps: []string{"plan", "encode", "encode", "encode", "train", "project", "project", "project", "finalize"}},
		{name: "without a head", skipHead: true, badShard: -1,
			wantSteps: []string{"plan", "encode", "encode", "encode", "finalize"}},
		{name: "a failed shard fails the build", badShard: 1, wantErr: "shard 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv()
			a := index.New(wire.New(nil, nil, wire.Options{}))
			env.RegisterActivity(a)
			var (
				mu    sync.Mutex
				steps []string
			)
			step := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				steps = append(steps, s)
			}
			env.OnActivity(a.PlanIndex, mock.Anything, mock.Anything).Return(
				func(_ context.Context, cfg activities.IndexConfig) (activities.IndexPlan, error) {
					step("plan")
					return activities.IndexPlan{Shards: 3, Mentions: 30, Encoder: "local/v1/64", Dim: 64}, nil
				})
			env.OnActivity(a.EncodeIndexShard, mock.Anything, mock.Anything).Return(
				func(_ context.Context, task activities.IndexShardTask) (activities.IndexShardStats, error) {
					if task.Shard == tt.badShard {
						return activities.IndexShardStats{}, temporal.NewNonRetryableApplicationError("corrupt", activities.ErrBadInput, nil)
					}
					step("encode")
					return activities.IndexShardStats{Rows: 10}, nil
				})
			env.OnActivity(a.TrainIndexHead, mock.Anything, mock.Anything).Return(
				func(_ context.Context, index string) (activities.HeadStats, error) {
					step("train")
					return activities.HeadStats{Triplets: 5}, nil
				})
			env.OnActivity(a.ProjectIndexShard, mock.Anything, mock.Anything).Return(
				func(_ context.Context, task activities.IndexShardTask) (activities.IndexShardStats, error) {
					step("project")
					return activities.IndexShardStats{Rows: 10}, nil
				})
			env.OnActivity(a.FinalizeIndex, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.FinalizeIndexInput) (activities.IndexSummary, error) {
					step("finalize")
					if in.Timings.Started.IsZero() || in.Timings.Projected.Before(in.Timings.Started) {
						t.Errorf("finalize timings %+v", in.Timings)
					}
					return activities.IndexSummary{Index: in.Index, Mentions: 30, Shards: 3}, nil
				})
			env.ExecuteWorkflow(BuildIndex, activities.IndexConfig{Index: "file:///out/indexes/r", Window: 2,
				Head: activities.HeadSpec{Skip: tt.skipHead}})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				if slices.Contains(steps, "finalize") {
					t.Error("a build with a failed shard was finalized")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var sum activities.IndexSummary
			if err := env.GetWorkflowResult(&sum); err != nil || sum.Mentions != 30 {
				t.Errorf("result %+v, %v", sum, err)
			}
			if !slices.Equal(steps, tt.wantSteps) {
				t.Errorf("steps %v, want %v", steps, tt.wantSteps)
			}
			v, err := env.QueryWorkflow(QueryIndexProgress)
			if err != nil {
				t.Fatal(err)
			}
			var p IndexProgress
			if err := v.Get(&p); err != nil {
				t.Fatal(err)
			}
			wantProjected := 3
			if tt.skipHead {
				wantProjected = 0
			}
			if p.Phase != "done" || p.Shards != 3 || p.Encoded != 3 || p.Projected != wantProjected {
				t.Errorf("progress %+v", p)
			}
		})
	}
}

// End to end on real data: the rules backend annotates a slice of CrossNER
// politics test through AnnotateCorpus, BuildIndex indexes the run with the
// local encoder and a head trained on its silver labels, and a search for
// "politician" returns documents that mention a politician.
func TestRunIndexSearchCrossNER(t *testing.T) {
	dir, err := dataset.Dir()
	if err != nil {
		t.Skipf("no benchmark data: %v", err)
	}
	src := filepath.Join(dir, "crossner", "politics", "test.txt")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("no CrossNER politics: %v", err)
	}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "corpus", "politics-test.txt")
	gold := firstSentences(t, src, data, 300)

	store := blob.NewFile()
	deps := wire.New(store, nil, wire.Options{})
	env := newTestEnv()
	env.RegisterWorkflow(AnnotateShard)
	registry.Register(env, deps)
	uri := func(p string) string {
		u, err := blob.Normalize(p)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	cfg := activities.Config{Job: "politics", Corpus: uri(filepath.Dir(data)) + "/", Output: uri(filepath.Join(tmp, "out")),
		Schema:  uri(filepath.Join("..", "schemas", "crossner-politics.yaml")),
		Backend: activities.BackendSpec{Name: "rules"}, Reader: activities.Reader{Format: corpus.FormatBIO, SentencesPerDoc: 1},
		ShardSize: 100, Window: 2}
	env.ExecuteWorkflow(AnnotateCorpus, CorpusState{Config: cfg})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var sum activities.Summary
	if err := env.GetWorkflowResult(&sum); err != nil {
		t.Fatal(err)
	}
	if sum.Docs != int64(len(gold)) || sum.Labels["politician"] == 0 {
		t.Fatalf("run: %d documents (want %d), labels %v", sum.Docs, len(gold), sum.Labels)
	}

	run := activities.Run{ID: sum.RunID, URI: blob.Join(cfg.Output, "runs", sum.RunID)}
	icfg := activities.IndexConfig{Run: run, Index: runs.DefaultIndexURI(run), Encoder: activities.EncoderSpec{Kind: "local"},
		Head: activities.HeadSpec{Seed: 1}, Approx: activities.ApproxSpec{Min: 1}, ShardRows: 400, Window: 2}
	isum := buildIndexEnv(t, deps, icfg)
	if isum.Mentions != sum.Mentions || isum.Shards < 2 || isum.HeadStats == nil || isum.Approx == nil {
		t.Fatalf("index summary %+v: want the run's %d mentions in several shards, a head and an approximate index", isum, sum.Mentions)
	}

	s, err := search.OpenIndex(context.Background(), store, icfg.Index, search.SearchOptions{Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(context.Background(), []string{"politician"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	docs := res[0].Docs
	if len(docs) != 10 {
		t.Fatalf("%d documents, want 10", len(docs))
	}
	// The documents come through mentions the run labelled politician.
	for _, d := range docs {
		if !slices.ContainsFunc(d.Mentions, func(m search.MentionHit) bool { return m.Label == "politician" }) {
			t.Errorf("%s: no mention labelled politician among %+v", d.DocID, d.Mentions)
		}
	}
	// Over the slice, each label queried by a short description finds the
	// sentences holding a gold entity of it (R-Precision, R their number)
	// far more often than chance; politician less so than the others, as
	// the rules backend also labels places politician and the head learns
	// its labels. (The head's training sample does not depend on where the
	// corpus lives, so these figures do not change with the temporary
	// folder: 0.41, 0.87, 0.93.)
	for _, tc := range []struct {
		label, query string
		times        float64
	}{
		{"politician", "politician", 1.1},
		{"politicalparty", "political party", 2},
		{"election", "an election", 2},
	} {
		relevant := make(map[string]bool)
		r := 0
		for id, labels := range gold {
			if labels[tc.label] {
				relevant[id] = true
				r++
			}
		}
		res, err := s.Search(context.Background(), []string{tc.query}, r)
		if err != nil {
			t.Fatal(err)
		}
		var ranked []string
		for _, d := range res[0].Docs {
			ranked = append(ranked, d.DocID)
		}
		rp, chance := retriever.RPrecision(ranked, relevant), float64(r)/float64(len(gold))
		t.Logf("%q: R-Precision %.3f (R = %d of %d sentences; chance %.3f)", tc.query, rp, r, len(gold), chance)
		if rp < tc.times*chance {
			t.Errorf("%q: R-Precision %.3f, want at least %.1f times chance (%.3f)", tc.query, rp, tc.times, chance)
		}
	}
}

// The remote encoders through the same workflow, against the LLM test
// server's /v1/embeddings and /v1/hidden_states (a test double: its vectors
// carry no type, so only the plumbing is checked): every mention gets a
// vector of the server's width, the index records the encoder, and a search
// embeds the query through the same endpoint and returns documents.
func TestBuildIndexRemoteEncoders(t *testing.T) {
	sim, err := llmsim.New(llmsim.Options{EmbedDim: 64})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); hs.Close() })

	store := blob.NewFile()
	root, err := blob.Normalize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	deps := wire.New(store, nil, wire.Options{})
	run := activities.Run{ID: "r1", URI: blob.Join(root, "runs", "r1")}
	docs, n := writeTinyRun(t, store, run)
	for _, enc := range []activities.EncoderSpec{
		{Kind: "embeddings", URL: hs.URL + "/v1", Model: "llmsim"},
		{Kind: "hidden", URL: hs.URL, Model: "llmsim", Layer: 17},
	} {
		t.Run(enc.Kind, func(t *testing.T) {
			icfg := activities.IndexConfig{Run: run, Index: blob.Join(root, "idx-"+enc.Kind), Encoder: enc,
				Head: activities.HeadSpec{Skip: true}, Approx: activities.ApproxSpec{Min: -1}, ShardRows: 2, Window: 2}
			isum := buildIndexEnv(t, deps, icfg)
			if isum.Mentions != int64(n) || isum.Dim != 64 {
				t.Fatalf("summary %+v: want %d mentions of width 64", isum, n)
			}
			s, err := search.OpenIndex(context.Background(), store, icfg.Index, search.SearchOptions{Exact: true})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Search(context.Background(), []string{"political party"}, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(res[0].Docs) != 2 || !docs[res[0].Docs[0].DocID] {
				t.Errorf("search: %+v", res[0].Docs)
			}
		})
	}
}

// firstSentences copies the first n sentences of a CrossNER BIO file to dst
// and returns each sentence's gold labels by the document id the BIO reader
// gives it.
func firstSentences(t *testing.T, src, dst string, n int) map[string]map[string]bool {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for k := 0; sc.Scan() && k < n; {
		line := sc.Text()
		b.WriteString(line + "\n")
		if strings.TrimSpace(line) == "" {
			k++
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	gold := make(map[string]map[string]bool)
	uri, _ := blob.Normalize(dst)
	err = corpus.ReadBIO(strings.NewReader(b.String()), uri, corpus.Options{Format: corpus.FormatBIO, SentencesPerDoc: 1},
		func(d corpus.Doc) error {
			gold[d.ID] = make(map[string]bool)
			for _, g := range d.Gold {
				gold[d.ID][g.Label] = true
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return gold
}

// buildIndexEnv runs BuildIndex over the activities of deps in the test
// environment and returns its summary.
func buildIndexEnv(t *testing.T, deps *wire.Deps, cfg activities.IndexConfig) activities.IndexSummary {
	t.Helper()
	env := newTestEnv()
	env.SetTestTimeout(time.Minute) // training a head takes seconds
	registry.Register(env, deps)
	env.ExecuteWorkflow(BuildIndex, cfg)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var sum activities.IndexSummary
	if err := env.GetWorkflowResult(&sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// writeTinyRun writes a finished run of four documents and their mentions
// under run, and returns the document ids and the mention count.
func writeTinyRun(t *testing.T, store blob.Store, run activities.Run) (map[string]bool, int) {
	t.Helper()
	ctx := context.Background()
	texts := []string{
		"The Labour Party won the election in Leeds.",
		"Angela Merkel led the Christian Democratic Union.",
		"The Green Party campaigned in Bremen.",
		"Voters in Porto backed the Socialist Party.",
	}
	spans := [][]string{{"Labour Party", "Leeds"}, {"Angela Merkel", "Christian Democratic Union"}, {"Green Party", "Bremen"}, {"Porto", "Socialist Party"}}
	docs := make(map[string]bool)
	var drows []table.Document
	var mrows []table.Mention
	for i, text := range texts {
		id := fmt.Sprintf("d%d", i)
		docs[id] = true
		drows = append(drows, table.Document{DocID: id, Text: text, Source: "tiny"})
		for _, sp := range spans[i] {
			start := len([]rune(text[:strings.Index(text, sp)]))
			mrows = append(mrows, table.Mention{RunID: run.ID, DocID: id, Start: int64(start), End: int64(start + len([]rune(sp))),
				Text: sp, Label: "politicalparty", Score: 1})
		}
	}
	write := func(uri string, fn func(w io.Writer) error) {
		if err := store.Create(ctx, uri, fn); err != nil {
			t.Fatal(err)
		}
	}
	write(runs.Dir(run).Documents(0), func(w io.Writer) error {
		tw := table.NewDocumentWriter(w)
		if err := tw.Write(drows); err != nil {
			return err
		}
		return tw.Close()
	})
	write(runs.Dir(run).Mentions(0), func(w io.Writer) error {
		tw := table.NewMentionWriter(w)
		if err := tw.Write(mrows); err != nil {
			return err
		}
		return tw.Close()
	})
	schema, err := os.ReadFile(filepath.Join("..", "schemas", "crossner-politics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for uri, data := range map[string][]byte{runs.Dir(run).Schema(): schema, runs.Dir(run).Summary(): []byte(`{"run_id":"r1"}`), runs.Dir(run).DocumentIndex(): []byte(`{"shards":1}`)} {
		write(uri, blob.WriteBytes(data))
	}
	return docs, len(mrows)
}
