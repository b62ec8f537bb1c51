package index

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"

	"github.com/zeroner/zeroner/internal/wire"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
)

// indexSchema labels the synthetic run's mentions.
const indexSchema = `name: synthetic
labels:
  - name: team
    description: A sports team or club that plays matches in a league.
  - name: city
    description: A city, town or other settlement where people live.
  - name: person
    description: A person, named by first and last name.
`

// syntheticRun writes a finished run of n documents, each mentioning
// entities of the schema's labels in a few sentence templates, and returns
// it with each document's labels.
func syntheticRun(t *testing.T, ctx context.Context, store blob.Store, n int) (activities.Run, map[string]map[string]bool) {
	t.Helper()
	root, err := blob.Normalize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := activities.Run{ID: "synth-1", URI: blob.Join(root, "runs", "synth-1")}
	teams := []string{"Falcons", "Rovers", "Harriers", "Wanderers", "Athletic", "Rangers", "Dynamo", "Spartans"}
	cities := []string{"Lyon", "Porto", "Leeds", "Bremen", "Turin", "Ghent", "Malmo", "Cork"}
	first := []string{"Ada", "Alan", "Grace", "Kurt", "Emmy", "John", "Marie", "Niels"}
	last := []string{"Lovelace", "Turing", "Hopper", "Godel", "Noether", "Neumann", "Curie", "Bohr"}
	type span struct {
		text, label string
	}
	templates := []func(i int) []any{
		func(i int) []any {
			return []any{"The ", span{teams[i%8], "team"}, " beat the ", span{teams[(i+3)%8], "team"}, " in the league match on Sunday."}
		},
		func(i int) []any {
			return []any{"Last year she moved from ", span{cities[i%8], "city"}, " to ", span{cities[(i+5)%8], "city"}, " for work."}
		},
		func(i int) []any {
			return []any{span{first[i%8] + " " + last[(i/8)%8], "person"}, " said the report was late."}
		},
		func(i int) []any {
			return []any{span{first[(i+2)%8] + " " + last[(i+1)%8], "person"}, " flew to ", span{cities[(i+1)%8], "city"},
				" to watch the ", span{teams[(i+6)%8], "team"}, "."}
		},
	}
	labels := make(map[string]map[string]bool)
	var docs []table.Document
	var ms []table.Mention
	for i := range n {
		id := fmt.Sprintf("doc-%03d", i)
		labels[id] = make(map[string]bool)
		var sb strings.Builder
		pos := 0
		for _, piece := range templates[i%len(templates)](i) {
			switch p := piece.(type) {
			case string:
				sb.WriteString(p)
				pos += len([]rune(p))
			case span:
				end := pos + len([]rune(p.text))
				ms = append(ms, table.Mention{RunID: run.ID, DocID: id, Start: int64(pos), End: int64(end), Text: p.text,
					Label: p.label, Score: 1, Extractors: []string{"rules"}})
				labels[id][p.label] = true
				sb.WriteString(p.text)
				pos = end
			}
		}
		docs = append(docs, table.Document{DocID: id, Text: sb.String(), Source: "synthetic"})
	}
	// Two documents shards and two mentions parts, as a run cuts them.
	half := len(docs) / 2
	for i, part := range [][]table.Document{docs[:half], docs[half:]} {
		if err := store.Create(ctx, runs.Dir(run).Documents(i), runs.Rows(table.NewDocumentWriter, part)); err != nil {
			t.Fatal(err)
		}
	}
	mhalf := len(ms) / 2
	for i, part := range [][]table.Mention{ms[:mhalf], ms[mhalf:]} {
		if err := store.Create(ctx, runs.Dir(run).Mentions(i), runs.Rows(table.NewMentionWriter, part)); err != nil {
			t.Fatal(err)
		}
	}
	for uri, data := range map[string]string{runs.Dir(run).Schema(): indexSchema, runs.Dir(run).Summary(): `{"run_id": "synth-1"}`,
		runs.Dir(run).DocumentIndex(): `{"shards": 2}`} {
		if err := store.Create(ctx, uri, blob.WriteBytes([]byte(data))); err != nil {
			t.Fatal(err)
		}
	}
	return run, labels
}

// smallIndex builds the index of a synthetic run of n documents with a
// small head and no approximate index.
func smallIndex(t *testing.T, ctx context.Context, store blob.Store, n int) (*Activities, activities.IndexConfig) {
	t.Helper()
	run, _ := syntheticRun(t, ctx, store, n)
	a := New(wire.New(store, nil, wire.Options{}))
	cfg := activities.IndexConfig{Run: run, Index: runs.DefaultIndexURI(run), Encoder: activities.EncoderSpec{Kind: "local", Dim: 128},
		Head: activities.HeadSpec{Hidden: 32, Out: 32, Seed: 2}, Approx: activities.ApproxSpec{Min: -1}}
	buildIndex(t, ctx, a, cfg)
	return a, cfg
}

// buildIndex runs every step of an index build as the workflow does.
func buildIndex(t *testing.T, ctx context.Context, a *Activities, cfg activities.IndexConfig) activities.IndexSummary {
	t.Helper()
	p, err := a.PlanIndex(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for shard := range p.Shards {
		if _, err := a.EncodeIndexShard(ctx, activities.IndexShardTask{Index: cfg.Index, Shard: shard}); err != nil {
			t.Fatal(err)
		}
	}
	if !cfg.Head.Skip {
		if _, err := a.TrainIndexHead(ctx, cfg.Index); err != nil {
			t.Fatal(err)
		}
		for shard := range p.Shards {
			if _, err := a.ProjectIndexShard(ctx, activities.IndexShardTask{Index: cfg.Index, Shard: shard}); err != nil {
				t.Fatal(err)
			}
		}
	}
	sum, err := a.FinalizeIndex(ctx, activities.FinalizeIndexInput{Index: cfg.Index})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// precisionAt is the share of the first k documents of r that mention an
// entity of label.
func precisionAt(r search.SearchResult, labels map[string]map[string]bool, label string, k int) float64 {
	hits := 0
	for _, d := range r.Docs[:min(k, len(r.Docs))] {
		if labels[d.DocID][label] {
			hits++
		}
	}
	return float64(hits) / float64(k)
}

func TestIndexBuildAndSearch(t *testing.T) {
	ctx := context.Background()
	store := blob.NewFile()
	run, labels := syntheticRun(t, ctx, store, 120)
	a := New(wire.New(store, nil, wire.Options{}))
	cfg := activities.IndexConfig{
		Run:       run,
		Index:     runs.DefaultIndexURI(run),
		Encoder:   activities.EncoderSpec{Kind: "local", Dim: 256},
		Head:      activities.HeadSpec{Hidden: 64, Out: 32, Seed: 1},
		Approx:    activities.ApproxSpec{Min: 1},
		ShardRows: 40,
	}
	if want := strings.TrimSuffix(run.URI, "/runs/synth-1") + "/indexes/synth-1"; cfg.Index != want {
		t.Fatalf("DefaultIndexURI = %s, want %s", cfg.Index, want)
	}
	sum := buildIndex(t, ctx, a, cfg)
	total := 0
	for _, l := range labels {
		total += len(l)
	}
	if sum.Mentions < int64(total) || sum.Shards < 3 || sum.Dim != 32 || sum.HeadStats == nil || sum.Approx == nil {
		t.Fatalf("summary %+v: want every mention in 3 or more shards of 32 dimensions, a head and an approximate index", sum)
	}
	if hs := sum.HeadStats; hs.Triplets == 0 || !(hs.LossEnd < hs.LossStart) {
		t.Errorf("head stats %+v: want the loss to fall", hs)
	}
	if r := sum.Approx.RecallAt10; r < 0.9 || r > 1 {
		t.Errorf("approximate recall@10 %v, want at least 0.9", r)
	}
	m, err := runs.Store{Store: store}.IndexManifest(ctx, cfg.Index)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Name, "local/") || !strings.Contains(m.Name, "+head/") || m.Head != runs.HeadFile {
		t.Errorf("manifest names %q with head %q", m.Name, m.Head)
	}
	var rows int64
	for _, sh := range m.Shards {
		rows += sh.Rows
		if len(sh.Docs) == 0 {
			t.Errorf("shard %s lists no documents shard", sh.File)
		}
	}
	if rows != m.Mentions {
		t.Errorf("shards hold %d rows, manifest says %d mentions", rows, m.Mentions)
	}

	descs := []string{"sports team", "A city, town or other settlement where people live.", "person"}
	want := []string{"team", "city", "person"}
	var exact []search.SearchResult
	for _, approx := range []bool{false, true} {
		s, err := search.OpenIndex(ctx, store, cfg.Index, search.SearchOptions{Exact: !approx})
		if err != nil {
			t.Fatal(err)
		}
		if s.Approximate() != approx {
			t.Fatalf("Approximate() = %v, want %v", s.Approximate(), approx)
		}
		res, err := s.Search(ctx, descs, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if len(r.Docs) != 10 {
				t.Fatalf("%q: %d documents, want 10", r.Query, len(r.Docs))
			}
			if p := precisionAt(r, labels, want[i], 10); p < 0.8 {
				t.Errorf("approx %v, %q: precision@10 %.2f, want at least 0.8 of documents with a %s", approx, r.Query, p, want[i])
			}
			seen := map[string]bool{}
			for rank, d := range r.Docs {
				if seen[d.DocID] || d.Rank != rank+1 || d.Text == "" || len(d.Mentions) == 0 {
					t.Fatalf("%q rank %d: %+v: want distinct documents with text and mentions", r.Query, rank+1, d)
				}
				seen[d.DocID] = true
				if rank > 0 && d.Score > r.Docs[rank-1].Score {
					t.Errorf("%q: rank %d scores %v, above rank %d's %v", r.Query, rank+1, d.Score, rank, r.Docs[rank-1].Score)
				}
				for _, mh := range d.Mentions {
					if got := string([]rune(d.Text)[mh.Start:mh.End]); got != mh.Text {
						t.Errorf("mention [%d, %d) of %s is %q in the text, %q in the index", mh.Start, mh.End, d.DocID, got, mh.Text)
					}
				}
			}
		}
		if !approx {
			exact = res
			continue
		}
		// The approximate index returns exact scores; on 300 vectors it
		// rescores them all, so it finds what exact search finds.
		for i := range res {
			if res[i].Docs[0].DocID != exact[i].Docs[0].DocID || math.Abs(float64(res[i].Docs[0].Score-exact[i].Docs[0].Score)) > 1e-5 {
				t.Errorf("%q: approximate top %s (%v), exact %s (%v)", descs[i], res[i].Docs[0].DocID, res[i].Docs[0].Score,
					exact[i].Docs[0].DocID, exact[i].Docs[0].Score)
			}
		}
	}

	// A negative worker count searches with one worker rather than none.
	s, err := search.OpenIndex(ctx, store, cfg.Index, search.SearchOptions{Exact: true, Workers: -1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []search.SearchResult, 1)
	go func() {
		res, err := s.Search(ctx, descs[:1], 10)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case res := <-done:
		if len(res) != 1 || len(res[0].Docs) == 0 || res[0].Docs[0].DocID != exact[0].Docs[0].DocID {
			t.Errorf("search with Workers -1: %+v, want exact search's top %s", res, exact[0].Docs[0].DocID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("search with Workers -1 hangs")
	}

	// Done: every step returns at once, and another configuration is
	// refused rather than mixed in.
	before, err := store.Stat(ctx, runs.IndexDir(cfg.Index).Shard(0))
	if err != nil {
		t.Fatal(err)
	}
	if again := buildIndex(t, ctx, a, cfg); again.Mentions != sum.Mentions || again.Name != sum.Name {
		t.Errorf("rebuild: %+v, want %+v", again, sum)
	}
	if after, _ := store.Stat(ctx, runs.IndexDir(cfg.Index).Shard(0)); !after.ModTime.Equal(before.ModTime) {
		t.Error("a rebuild rewrote a shard")
	}
	other := cfg
	other.Encoder.Dim = 128
	if _, err := a.PlanIndex(ctx, other); err == nil || !strings.Contains(err.Error(), "another configuration") {
		t.Errorf("plan with another encoder into the same folder: %v, want a refusal", err)
	}
}

func TestIndexWithoutHead(t *testing.T) {
	ctx := context.Background()
	store := blob.NewFile()
	run, _ := syntheticRun(t, ctx, store, 40)
	a := New(wire.New(store, nil, wire.Options{}))
	cfg := activities.IndexConfig{Run: run, Index: runs.DefaultIndexURI(run) + "-raw", Encoder: activities.EncoderSpec{Kind: "local", Dim: 128},
		Head: activities.HeadSpec{Skip: true}, Approx: activities.ApproxSpec{Min: -1}}
	sum := buildIndex(t, ctx, a, cfg)
	if sum.HeadStats != nil || sum.Approx != nil || sum.Dim != 128 || sum.Shards != 2 {
		t.Fatalf("summary %+v: want 2 shards of raw 128-wide vectors, no head, no approximate index", sum)
	}
	if _, err := store.Stat(ctx, runs.IndexDir(cfg.Index).Raw(0)); !blob.IsNotExist(err) {
		t.Errorf("raw shard written without a head: %v", err)
	}
	s, err := search.OpenIndex(ctx, store, cfg.Index, search.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The local encoder's bag of words meets "city" in no context here,
	// but a mention's own words: a name query finds its documents.
	res, err := s.Search(ctx, []string{"Lovelace"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Docs) == 0 || !strings.Contains(res[0].Docs[0].Text, "Lovelace") {
		t.Errorf("raw index, query Lovelace: %+v", res[0].Docs)
	}
}

func TestPlanIndexRefuses(t *testing.T) {
	ctx := context.Background()
	store := blob.NewFile()
	run, _ := syntheticRun(t, ctx, store, 8)
	a := New(wire.New(store, nil, wire.Options{}))
	unfinished := run
	unfinished.ID, unfinished.URI = "nope", blob.Join(run.URI, "..", "nope")
	tests := []struct {
		name string
		cfg  activities.IndexConfig
		want string
	}{
		{"unfinished run", activities.IndexConfig{Run: unfinished, Index: runs.DefaultIndexURI(unfinished)}, "not finished"},
		{"unknown encoder", activities.IndexConfig{Run: run, Index: runs.DefaultIndexURI(run), Encoder: activities.EncoderSpec{Kind: "magic"}}, "unknown encoder"},
		{"embeddings without a model", activities.IndexConfig{Run: run, Index: runs.DefaultIndexURI(run), Encoder: activities.EncoderSpec{Kind: "embeddings", URL: "http://127.0.0.1:1"}}, "model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.PlanIndex(ctx, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PlanIndex: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestSearchBatchActivities(t *testing.T) {
	ctx := context.Background()
	store := blob.NewFile()
	a, cfg := smallIndex(t, ctx, store, 60)
	dir, err := runs.BatchDir(cfg.Index, "b1")
	if err != nil {
		t.Fatal(err)
	}
	queries := "# types\nsports team\n\nA city, town or other settlement where people live.\nperson\n"
	if err := store.Create(ctx, runs.BatchQueries(dir), blob.WriteBytes([]byte(queries))); err != nil {
		t.Fatal(err)
	}
	in := activities.SearchBatchInput{Index: cfg.Index, Batch: "b1", K: 5, Chunk: 2}
	p, err := a.PlanSearchBatch(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Queries != 3 || p.Chunks != 2 {
		t.Fatalf("plan %+v: want 3 descriptions in 2 chunks", p)
	}
	for c := range p.Chunks {
		if _, err := a.SearchChunk(ctx, activities.SearchChunkTask{Batch: in, Chunk: c}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := a.MergeSearchBatch(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := blob.ReadAll(ctx, store, sum.Results)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"query":"sports team"`) || !strings.Contains(lines[2], `"query":"person"`) {
		t.Fatalf("results.jsonl:\n%s", data)
	}
	if _, err := runs.BatchDir(cfg.Index, "../up"); err == nil {
		t.Error("a batch name with .. was accepted")
	}
	if _, err := a.PlanSearchBatch(ctx, activities.SearchBatchInput{Index: cfg.Index, Batch: "missing", K: 5}); err == nil {
		t.Error("a batch with no queries file: no error")
	}
}

func TestParseQueries(t *testing.T) {
	long := strings.Repeat("very long description ", 60_000) // over a megabyte
	tests := []struct {
		name, in string
		want     []string
	}{
		{"lines", "sports team\n  city \n", []string{"sports team", "city"}},
		{"blank and comments", "\n# a comment\nperson\n\n#another\n", []string{"person"}},
		{"CRLF, no final newline", "a\r\nb", []string{"a", "b"}},
		{"a line over a megabyte", long + "\nperson\n", []string{strings.TrimSpace(long), "person"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runs.ParseQueries([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("%d queries, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("query %d is %.40q, want %.40q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
