package annotate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// flaky is the rules backend with faults a test switches on: while down,
// Discover fails (an endpoint that is down); docs in failDocs fail as
// chunks; shards holding a doc of failShard fail whole.
type flaky struct {
	pipeline.Backend
	mu        sync.Mutex
	down      bool
	failDocs  map[string]bool
	failShard map[string]bool
	calls     int // Discover calls that reached the model
}

func (f *flaky) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return pipeline.Result{}, errors.New("post http://127.0.0.1:1/v1/chat/completions: connection refused")
	}
	for _, d := range docs {
		if f.failShard[d.ID] {
			return pipeline.Result{}, errors.New("model answered 500 for the whole shard")
		}
	}
	f.calls++
	res, err := f.Backend.Discover(ctx, docs)
	for _, d := range docs {
		if f.failDocs[d.ID] {
			res.Failures = append(res.Failures, pipeline.Failure{DocID: d.ID, Stage: "discover", Reason: "answer not JSON after 3 re-asks"})
			res.Mentions = slices.DeleteFunc(res.Mentions, func(m pipeline.Mention) bool { return m.DocID == d.ID })
		}
	}
	return res, err
}

// accountFixture is a local corpus of three JSONL objects of four documents
// each, the politics schema, and activities over them.
type accountFixture struct {
	store  blob.Store
	a      *Activities
	b      *flaky
	cfg    activities.Config
	corpus string
}

func newAccountFixture(t *testing.T) *accountFixture {
	t.Helper()
	root, store, put := tempStore(t)
	for _, obj := range []string{"a", "b", "c"} {
		var lines []string
		for i := range 4 {
			lines = append(lines, fmt.Sprintf(`{"id":"%s%d","text":"Angela Merkel met Emmanuel Macron in Berlin on day %d ."}`, obj, i, i))
		}
		put(blob.Join(root, "corpus", obj+".jsonl"), []byte(strings.Join(lines, "\n")+"\n"))
	}
	put(blob.Join(root, "schema.yaml"), politicsSchema(t))
	f := &accountFixture{store: store, corpus: blob.Join(root, "corpus") + "/"}
	f.b = &flaky{failDocs: map[string]bool{}, failShard: map[string]bool{}}
	factory := func(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
		switch spec.Name {
		case "", "rules":
			f.b.Backend = rules.New(s)
			return f.b, nil
		case "other":
			return rules.New(s), nil
		}
		return nil, fmt.Errorf("unknown backend %q", spec.Name)
	}
	f.a = New(wire.New(store, slog.New(slog.DiscardHandler), wire.Options{Factory: factory}))
	f.cfg = activities.Config{Job: "acct", Corpus: f.corpus, Output: blob.Join(root, "out"), Schema: blob.Join(root, "schema.yaml"),
		Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 3, Window: 2}
	return f
}

// run does what the AnnotateCorpus workflow does, in process: plan, shard,
// the stages of every shard (a stage's error fails its shard), finalize,
// and plan again while the plan says there is more. It returns the last
// run's summary with the earlier ones in Earlier.
func (f *accountFixture) run(t *testing.T, cfg activities.Config) activities.Summary {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(f.a)
	call := func(out any, fn any, args ...any) error {
		v, err := env.ExecuteActivity(fn, args...)
		if err != nil {
			return err
		}
		return v.Get(out)
	}
	var earlier []activities.Summary
	for {
		plan := f.a.Plan
		if cfg.RetryFailed {
			plan = f.a.Reopen
		}
		var p activities.Plan
		if err := call(&p, plan, cfg); err != nil {
			t.Fatal(err)
		}
		if p.UpToDate {
			sum := activities.Summary{UpToDate: true, Problems: p.Pending, Earlier: earlier}
			for _, pr := range p.Pending {
				sum.Pending += pr.Count
			}
			return sum
		}
		var sh activities.Sharding
		if err := call(&sh, f.a.Shard, cfg, p); err != nil {
			t.Fatal(err)
		}
		if p.Finished {
			sh = activities.Sharding{}
		}
		var failed []activities.ShardFailure
		for shard := range sh.Shards {
			task := activities.ShardTask{Run: p.Run, Shard: shard, Backend: cfg.Backend}
			for _, stage := range []any{f.a.Discover, f.a.Mediate, f.a.Calibrate} {
				var st activities.StageStats
				if err := call(&st, stage, task); err != nil {
					// As the workflow does: the activity's own message.
					var app *temporal.ApplicationError
					if errors.As(err, &app) {
						err = errors.New(app.Message())
					}
					failed = append(failed, activities.ShardFailure{Shard: shard, Reason: err.Error()})
					break
				}
			}
		}
		in := activities.FinalizeInput{Config: cfg, Plan: p, Sharding: sh, Failed: failed}
		if !p.Finished {
			var parts []activities.FinalizePart
			if err := call(&parts, f.a.PlanFinalize, in); err != nil {
				t.Fatal(err)
			}
			for _, part := range parts {
				if err := call(&activities.PartStats{}, f.a.FinalizePart, part); err != nil {
					t.Fatal(err)
				}
			}
		}
		var sum activities.Summary
		if err := call(&sum, f.a.Finalize, in); err != nil {
			t.Fatal(err)
		}
		if !p.More {
			sum.Earlier = earlier
			return sum
		}
		cfg.Tried = append(cfg.Tried, p.Run.ID)
		earlier = append(earlier, sum)
	}
}

func (f *accountFixture) state(t *testing.T) runs.JobState {
	t.Helper()
	st, err := f.a.readJobState(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func names(uris []string) []string {
	out := make([]string, len(uris))
	for i, u := range uris {
		out[i] = strings.TrimSuffix(filepath.Base(u), ".jsonl")
	}
	slices.Sort(out)
	return out
}

func (f *accountFixture) annotated(t *testing.T) []string {
	var uris []string
	for u := range f.state(t).Objects {
		uris = append(uris, u)
	}
	return names(uris)
}

// An endpoint that is down fails every shard: no object is recorded as
// annotated, and the next plain run resumes the same run and annotates them
// all, redoing nothing that succeeded; the run after that is up to date.
func TestAccountingEndpointDownThenBack(t *testing.T) {
	f := newAccountFixture(t)
	f.b.down = true
	first := f.run(t, f.cfg)
	if first.Pending != 3 || len(first.Problems) != 1 || !strings.Contains(first.Problems[0].Cause, "connection refused") {
		t.Fatalf("endpoint down: pending %d, problems %+v; want 3 objects pending for the refused connection", first.Pending, first.Problems)
	}
	if got := f.annotated(t); len(got) != 0 {
		t.Fatalf("endpoint down: objects recorded as annotated: %v", got)
	}
	if st := f.state(t); len(st.Pending) != 3 {
		t.Fatalf("job state has %d pending objects, want 3", len(st.Pending))
	}

	f.b.down = false
	second := f.run(t, f.cfg)
	if !second.Resumed || second.RunID != first.RunID || second.Pending != 0 || second.Docs != 12 || second.Mentions == 0 {
		t.Fatalf("endpoint back: %+v; want the same run resumed, 12 documents annotated, none pending", second)
	}
	if got := f.annotated(t); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("annotated objects %v, want a b c", got)
	}
	if st := f.state(t); len(st.Pending) != 0 {
		t.Fatalf("pending after the second run: %v", st.Pending)
	}
	third := f.run(t, f.cfg)
	if !third.UpToDate || third.Pending != 0 {
		t.Fatalf("third run: %+v, want up to date", third)
	}
	if c := f.state(t).Checks; c.Count != 1 || c.Last.IsZero() {
		t.Fatalf("up-to-date checks recorded: %+v, want 1", c)
	}
}

// A shard that fails once among many leaves only the objects with documents
// in it pending; the next run re-runs only that shard.
func TestAccountingOneShardFails(t *testing.T) {
	f := newAccountFixture(t)
	// Shards of 3 documents: a0-a2 | a3 b0 b1 | b2 b3 c0 | c1-c3. A fault
	// in shard 1 touches objects a and b.
	f.b.failShard["b0"] = true
	first := f.run(t, f.cfg)
	if first.Pending != 2 || len(first.FailedShards) != 1 || first.FailedShards[0].Shard != 1 {
		t.Fatalf("first run: pending %d, failed shards %+v; want objects a and b pending, shard 1 failed", first.Pending, first.FailedShards)
	}
	if got := f.annotated(t); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("annotated after a failed shard: %v, want only c", got)
	}
	if got := names(first.Problems[0].Objects); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("problem objects %v, want a b", got)
	}
	delete(f.b.failShard, "b0")
	f.b.calls = 0
	second := f.run(t, f.cfg)
	if second.Pending != 0 || !second.Resumed || f.b.calls != 1 {
		t.Fatalf("second run: pending %d resumed %v, %d discover calls; want all annotated by re-running 1 shard", second.Pending, second.Resumed, f.b.calls)
	}
	if got := f.annotated(t); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("annotated objects %v, want a b c", got)
	}
}

// A failed chunk leaves its object pending, and --retry-failed or a plain
// run re-asks it.
func TestAccountingFailedChunk(t *testing.T) {
	for _, retry := range []bool{false, true} {
		t.Run(fmt.Sprintf("retry-failed=%v", retry), func(t *testing.T) {
			f := newAccountFixture(t)
			f.b.failDocs["c2"] = true
			first := f.run(t, f.cfg)
			if first.Pending != 1 || first.Failures != 1 || !strings.Contains(first.Problems[0].Cause, "failed chunk") {
				t.Fatalf("first run: %+v; want object c pending for a failed chunk", first)
			}
			if got := f.annotated(t); !slices.Equal(got, []string{"a", "b"}) {
				t.Fatalf("annotated: %v, want a b", got)
			}
			delete(f.b.failDocs, "c2")
			cfg := f.cfg
			cfg.RetryFailed = retry
			second := f.run(t, cfg)
			if second.Pending != 0 || second.Failures != 0 {
				t.Fatalf("second run: %+v, want nothing pending", second)
			}
			if got := f.annotated(t); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("annotated: %v, want a b c", got)
			}
		})
	}
}

// Objects rejected whole (a wrong format) stay pending and are reported by
// every run until the reader is right; then they are annotated.
func TestAccountingWrongFormatThenRight(t *testing.T) {
	f := newAccountFixture(t)
	wrong := f.cfg
	wrong.Reader = activities.Reader{Format: "bio"}
	first := f.run(t, wrong)
	if first.Pending != 3 || first.Docs != 0 || !strings.Contains(first.Problems[0].Cause, "rejected whole") {
		t.Fatalf("wrong format: %+v; want 3 objects rejected whole", first)
	}
	again := f.run(t, wrong)
	if !again.UpToDate || again.Pending != 3 {
		t.Fatalf("same wrong format again: %+v; want nothing new but 3 objects still pending", again)
	}
	right := f.run(t, f.cfg)
	if right.Pending != 0 || right.Docs != 12 {
		t.Fatalf("right format: %+v; want 12 documents, none pending", right)
	}
	if got := f.annotated(t); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("annotated: %v, want a b c", got)
	}
}

// Settings that change the annotations make the objects not up to date, and
// the plan says why; settings that do not (shard size, window) do not.
func TestAccountingSettings(t *testing.T) {
	f := newAccountFixture(t)
	f.run(t, f.cfg)
	same := f.cfg
	same.ShardSize, same.Window = 7, 1
	if s := f.run(t, same); !s.UpToDate {
		t.Fatalf("shard size and window changed: %+v, want up to date", s)
	}
	for _, tt := range []struct {
		name   string
		change func(*activities.Config)
		want   string
	}{
		{"backend", func(c *activities.Config) { c.Backend.Name = "other" }, "3 objects were annotated with backend rules; this run uses other"},
		{"reader", func(c *activities.Config) { c.Reader.TextField = "text"; c.Reader.IDField = "id" }, "3 objects were annotated with reader settings"},
		{"distill", func(c *activities.Config) { c.Distill = "every=4 holdout=0 student=perceptron" }, `3 objects were annotated with distill settings ""`},
	} {
		cfg := f.cfg
		tt.change(&cfg)
		p, err := f.a.Plan(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if p.UpToDate || p.Objects != 3 || len(p.Reannotated) != 1 || !strings.HasPrefix(p.Reannotated[0], tt.want) {
			t.Errorf("%s changed: plan %+v, want 3 objects with reason %q", tt.name, p, tt.want)
		}
	}
}

func TestSettingsChange(t *testing.T) {
	base := runs.Settings{Hash: "h1", Version: "1", Backend: "rules", Schema: "s1", Reader: "r1"}
	tests := []struct {
		earlier runs.Settings
		want    string
	}{
		{runs.Settings{}, "settings not recorded"},
		{runs.Settings{Hash: "h0", Version: "1", Backend: "sam", Models: "m", Schema: "s1", Reader: "r1"}, "backend sam; this run uses rules"},
		{runs.Settings{Hash: "h0", Version: "1", Backend: "rules", Schema: "s0", Reader: "r1"}, "schema s0"},
		{runs.Settings{Hash: "h0", Version: "0", Backend: "rules", Schema: "s1", Reader: "r1"}, "zeroner annotation version 0"},
		{runs.Settings{Hash: "h0", Version: "1", Backend: "rules", Schema: "s1", Reader: "r0"}, "reader settings r0"},
		{runs.Settings{Hash: "h0", Version: "1", Backend: "rules", Schema: "s1", Reader: "r1", Distill: "student=map"}, `distill settings "student=map"; this run uses ""`},
		{runs.Settings{Hash: "h0", Version: "1", Backend: "rules", Schema: "s1", Reader: "r1"}, "other model settings"},
	}
	for _, tt := range tests {
		if got := base.Change(tt.earlier); !strings.HasPrefix(got, tt.want) {
			t.Errorf("change(%+v) = %q, want prefix %q", tt.earlier, got, tt.want)
		}
	}
}

// A run sharded before the object index existed gets it rebuilt from its
// tables, with the same content.
func TestObjectIndexRebuilt(t *testing.T) {
	f := newAccountFixture(t)
	f.b.failShard["b0"] = true
	sum := f.run(t, f.cfg)
	ctx := context.Background()
	run := activities.Run{ID: sum.RunID, URI: blob.Join(f.cfg.Output, "runs", sum.RunID)}
	want, err := f.a.objectIndex(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Delete(ctx, runs.Dir(run).ObjectIndex()); err != nil {
		t.Fatal(err)
	}
	got, err := f.a.objectIndex(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !slices.Equal(got, want) {
		t.Fatalf("rebuilt object index\n%+v\nwant\n%+v", got, want)
	}
}

func TestLowerCaseWarning(t *testing.T) {
	rules, sam := activities.BackendSpec{Name: "rules"}, activities.BackendSpec{Name: "sam"}
	tests := []struct {
		name     string
		b        activities.BackendSpec
		sh       activities.Sharding
		mentions int64
		warn     bool
	}{
		{"lower-case queries, nothing found", rules, activities.Sharding{Docs: 1521, Words: 14000, Capitalised: 3}, 0, true},
		{"prose with names", rules, activities.Sharding{Docs: 271, Words: 9000, Capitalised: 1500}, 3722, false},
		{"lower-case but found plenty", rules, activities.Sharding{Docs: 100, Words: 2000, Capitalised: 10}, 90, false},
		{"the LLM backend", sam, activities.Sharding{Docs: 1521, Words: 14000, Capitalised: 3}, 0, false},
		{"nothing read", rules, activities.Sharding{}, 0, false},
	}
	for _, tt := range tests {
		got := lowerCaseWarning(tt.b, tt.sh, tt.mentions)
		if (got != "") != tt.warn || (tt.warn && !strings.Contains(got, "--llm-base-url")) {
			t.Errorf("%s: warning %q, want one: %v", tt.name, got, tt.warn)
		}
	}
	if w, c := countWords("any italian places nearby? Olive Garden, O'Brien's"); w != 9 || c != 4 {
		t.Errorf("countWords = %d words, %d capitalised; want 9, 4", w, c)
	}
}

// tempStore is a store over a temporary folder: the folder's URI, the
// store, and a function that writes an object or fails the test.
func tempStore(t *testing.T) (string, blob.Store, func(uri string, data []byte)) {
	t.Helper()
	root, err := blob.Normalize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store, err := blob.New(context.Background(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(uri string, data []byte) {
		if err := store.Replace(context.Background(), uri, blob.WriteBytes(data)); err != nil {
			t.Fatal(err)
		}
	}
	return root, store, put
}

// politicsSchema is the shipped CrossNER politics schema.
func politicsSchema(t *testing.T) []byte {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join("..", "..", "schemas", "crossner-politics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return schema
}
