package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zeroner/zeroner/activities/runs"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

// The whole job with the corpus and the output on fake-gcs-server: the
// mentions read back equal, row for row, what the pipeline gives in process.
func TestAnnotateCorpusOnGCS(t *testing.T) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	for _, b := range []string{"corpus", "annotations"} {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	ctx := context.Background()
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	docs := []pipeline.Document{
		{ID: "d1", Text: "Barack Obama met Angela Merkel in Berlin before the 2009 German federal election ."},
		{ID: "d2", Text: "The Democratic Party of Japan lost to the Liberal Democratic Party ."},
		{ID: "d3", Text: "Zoë Ström of the Green Party of Canada spoke in Zürich , not in 東京 ."},
	}
	put(t, store, "gs://corpus/news/part-1.jsonl", jsonl([2]string{docs[0].ID, docs[0].Text}, [2]string{docs[1].ID, docs[1].Text}))
	put(t, store, "gs://corpus/news/part-2.jsonl", jsonl([2]string{docs[2].ID, docs[2].Text}))
	schema := schemaFile(t)
	put(t, store, "gs://corpus/schemas/politics.yaml", schema)

	h := newHarness(t, store, nil)
	sum := h.run(t, workflows.CorpusState{Config: activities.Config{
		Job: "gcs", Corpus: "gs://corpus/news/", Schema: "gs://corpus/schemas/politics.yaml",
		Output: "gs://annotations/politics", Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 2, Window: 2,
	}})
	if sum.Docs != 3 || sum.Shards != 2 || sum.Rejects != 0 {
		t.Fatalf("summary %+v: want 3 documents in 2 shards, no rejects", sum)
	}
	if !strings.HasPrefix(sum.Outputs.Mentions, "gs://annotations/politics/runs/gcs-") {
		t.Fatalf("mentions at %s, want under gs://annotations/politics/runs/", sum.Outputs.Mentions)
	}
	for i := range docs {
		docs[i].Source = []string{"gs://corpus/news/part-1.jsonl", "gs://corpus/news/part-1.jsonl", "gs://corpus/news/part-2.jsonl"}[i]
	}
	got := mentions(t, store, sum.Outputs.Mentions)
	diffMentions(t, got, expected(t, sum.RunID, schema, docs))

	// Independently of the backend: offsets are code points into the text.
	byID := map[string][]rune{}
	for _, d := range docs {
		byID[d.ID] = []rune(d.Text)
	}
	found := map[string]bool{}
	for _, m := range got {
		if string(byID[m.DocID][m.Start:m.End]) != m.Text {
			t.Errorf("mention %q at [%d, %d) of %s is %q in the text", m.Text, m.Start, m.End, m.DocID, string(byID[m.DocID][m.Start:m.End]))
		}
		found[m.Text] = true
	}
	for _, want := range []string{"Barack Obama", "Angela Merkel", "Berlin", "Zürich"} {
		if !found[want] {
			t.Errorf("no mention %q in %v", want, found)
		}
	}
	var run struct {
		activities.Summary
		Config activities.Config `json:"config"`
	}
	data, err := blob.ReadAll(ctx, store, sum.Outputs.Summary)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	if run.Mentions != int64(len(got)) || run.Config.Corpus != "gs://corpus/news/" {
		t.Errorf("run.json: mentions %d, corpus %q; want %d and gs://corpus/news/", run.Mentions, run.Config.Corpus, len(got))
	}
}

// A corpus with an invalid UTF-8 file, an empty file, a truncated .gz and a
// line that is not JSON completes: every good document is annotated, and
// every rejected object or line is listed with its reason.
func TestBadInputIsRejectedNotFatal(t *testing.T) {
	ctx := context.Background()
	store, root := localStore(t)
	corpus := blob.Join(root, "corpus") + "/"
	put(t, store, corpus+"a-good.jsonl", []byte(
		`{"id": "g1", "text": "Angela Merkel led the Christian Democratic Union ."}`+"\n"+
			`{"id": "g2", "text": oops not json}`+"\n"+
			`{"id": "g3", "text": "The Labour Party won in Wales ."}`+"\n"))
	put(t, store, corpus+"b-latin1.txt", []byte("Caf\xe9 in Paris"))
	put(t, store, corpus+"c-empty.txt", nil)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"id": "z1", "text": "Boris Johnson spoke in London ."}` + "\n" + `{"id": "z2", "text": "Emmanuel Macron spoke in Paris ."}` + "\n"))
	zw.Flush() // everything so far is decodable; what follows is cut off
	cut := gz.Len() + 4
	zw.Write([]byte(`{"id": "z3", "text": "Olaf Scholz spoke in Bonn ."}` + "\n"))
	zw.Close()
	put(t, store, corpus+"d-cut.jsonl.gz", gz.Bytes()[:cut])
	schema := blob.Join(root, "politics.yaml")
	put(t, store, schema, schemaFile(t))

	h := newHarness(t, store, nil)
	sum := h.run(t, workflows.CorpusState{Config: activities.Config{
		Job: "bad", Corpus: corpus, Schema: schema, Output: blob.Join(root, "out"), Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 10, Window: 2,
	}})
	if sum.Docs != 4 {
		t.Errorf("annotated %d documents, want the 4 good ones (g1, g3, z1, z2)", sum.Docs)
	}
	wantRejects := map[string]string{ // object -> a word of the reason
		corpus + "a-good.jsonl":   "json",
		corpus + "b-latin1.txt":   "utf-8",
		corpus + "c-empty.txt":    "empty",
		corpus + "d-cut.jsonl.gz": "",
	}
	r, err := store.OpenAt(ctx, sum.Outputs.Rejects)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := table.ReadRejects(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(wantRejects) {
		t.Errorf("rejects %+v, want one for each of %v", rows, wantRejects)
	}
	for _, row := range rows {
		word, ok := wantRejects[row.Object]
		if !ok || !strings.Contains(strings.ToLower(row.Reason), word) || row.Reason == "" {
			t.Errorf("reject %+v: want an object of %v with a reason that says %q", row, wantRejects, word)
		}
		if row.Object == corpus+"a-good.jsonl" && row.Line != 2 {
			t.Errorf("reject %+v: want line 2", row)
		}
	}
	var run struct {
		Rejects     int64          `json:"rejects"`
		RejectsList []table.Reject `json:"rejects_list"`
	}
	data, err := blob.ReadAll(ctx, store, sum.Outputs.Summary)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	if run.Rejects != int64(len(rows)) || len(run.RejectsList) != len(rows) {
		t.Errorf("run.json lists %d of %d rejects, want %d", len(run.RejectsList), run.Rejects, len(rows))
	}
	docs := map[string]bool{}
	for _, m := range mentions(t, store, sum.Outputs.Mentions) {
		docs[m.DocID] = true
	}
	for _, id := range []string{"g1", "g3", "z1", "z2"} {
		if !docs[id] {
			t.Errorf("good document %s has no mentions", id)
		}
	}
}

// A second run of a finished job asks the backend for nothing, and a job
// that continues as new (here every two shards) still annotates every shard
// once.
func TestRerunRedoesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	store, err := blob.New(ctx, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := blob.Normalize(dir)
	var docs [][2]string
	for i := range 9 {
		docs = append(docs, [2]string{string(rune('a'+i)) + "-doc", "Angela Merkel met Emmanuel Macron in Paris on day " + string(rune('1'+i)) + " ."})
	}
	put(t, store, blob.Join(root, "corpus", "c.jsonl"), jsonl(docs...))
	put(t, store, blob.Join(root, "s.yaml"), schemaFile(t))

	var calls atomic.Int64
	h := newHarness(t, store, counting(&calls))
	st := workflows.CorpusState{Config: activities.Config{
		Job: "again", Corpus: blob.Join(root, "corpus") + "/", Schema: blob.Join(root, "s.yaml"),
		Output: blob.Join(root, "out"), Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 2, Window: 3,
	}, ShardsPerRun: 2}
	first := h.run(t, st)
	if first.Shards != 5 || first.Docs != 9 || first.Mentions == 0 {
		t.Fatalf("first run %+v: want 9 documents in 5 shards, with mentions", first)
	}
	if got := calls.Load(); got != 3*9 {
		t.Fatalf("first run: backend saw %d documents, want 27 (9 per stage)", got)
	}
	second := h.run(t, st)
	if got := calls.Load(); got != 3*9 {
		t.Errorf("second run: backend saw %d more documents, want none", got-27)
	}
	if !second.UpToDate || second.RunID != first.RunID {
		t.Errorf("second run %+v: want up to date, pointing at the first run %s", second, first.RunID)
	}
	m := mentions(t, store, first.Outputs.Mentions)
	if int64(len(m)) != first.Mentions {
		t.Errorf("mentions table has %d rows, run.json says %d", len(m), first.Mentions)
	}
	_ = filepath.Join
}

// An incremental run after adding 10 documents to a 1,000-document corpus
// annotates exactly those 10, and adds its run to the job's dataset; --full
// annotates all 1,010.
func TestIncrementalRun(t *testing.T) {
	ctx := context.Background()
	store, root := localStore(t)
	docs := func(from, n int) []byte {
		var d [][2]string
		for i := from; i < from+n; i++ {
			d = append(d, [2]string{fmt.Sprintf("doc-%04d", i), fmt.Sprintf("Angela Merkel met Emmanuel Macron in Paris on day %d .", i)})
		}
		return jsonl(d...)
	}
	corpus := blob.Join(root, "corpus") + "/"
	for f := range 10 {
		put(t, store, fmt.Sprintf("%spart-%02d.jsonl", corpus, f), docs(100*f, 100))
	}
	put(t, store, blob.Join(root, "s.yaml"), schemaFile(t))
	var calls atomic.Int64
	h := newHarness(t, store, counting(&calls))
	cfg := activities.Config{Job: "inc", Corpus: corpus, Schema: blob.Join(root, "s.yaml"),
		Output: blob.Join(root, "out"), Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 250, Window: 4}

	first := h.run(t, workflows.CorpusState{Config: cfg})
	if first.Docs != 1000 {
		t.Fatalf("first run annotated %d documents, want 1000", first.Docs)
	}
	put(t, store, corpus+"part-10.jsonl", docs(1000, 10))
	before := calls.Load()
	second := h.run(t, workflows.CorpusState{Config: cfg})
	if second.Docs != 10 || second.RunID == first.RunID {
		t.Fatalf("incremental run %+v: want a new run of exactly the 10 new documents", second)
	}
	if n := calls.Load() - before; n != 3*10 {
		t.Errorf("incremental run: the backend saw %d documents, want 30 (10 per stage)", n)
	}
	got := map[string]bool{}
	for _, m := range mentions(t, store, second.Outputs.Mentions) {
		got[m.DocID] = true
	}
	if len(got) != 10 || !got["doc-1000"] || !got["doc-1009"] {
		t.Errorf("incremental run has mentions for %d documents (%v), want doc-1000 to doc-1009", len(got), got)
	}
	var state runs.JobState
	data, err := blob.ReadAll(ctx, store, blob.Join(root, "out", "jobs", "inc.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	if len(state.Runs) != 2 || len(state.Objects) != 11 || state.Objects[corpus+"part-10.jsonl"].Run != second.RunID {
		t.Errorf("job state: %d runs, %d objects; want 2 and 11, part-10 in the second run", len(state.Runs), len(state.Objects))
	}
	if up := h.run(t, workflows.CorpusState{Config: cfg}); !up.UpToDate {
		t.Errorf("third run %+v: want up to date", up)
	}

	cfg.Full = true
	full := h.run(t, workflows.CorpusState{Config: cfg})
	if full.Docs != 1010 {
		t.Errorf("--full run annotated %d documents, want 1010", full.Docs)
	}
}

// A backfill over a date-partitioned layout is one job over several
// prefixes: each object once, and a re-run picks up only a new day.
func TestBackfillOverPrefixes(t *testing.T) {
	store, root := localStore(t)
	day := func(d string, n int) string {
		prefix := blob.Join(root, "news", "dt="+d) + "/"
		var docs [][2]string
		for i := range n {
			docs = append(docs, [2]string{fmt.Sprintf("%s-%d", d, i), "Angela Merkel spoke in Berlin ."})
		}
		put(t, store, prefix+"part-0.jsonl", jsonl(docs...))
		return prefix
	}
	p1, p2 := day("2026-01-01", 3), day("2026-01-02", 4)
	day("2026-01-03", 5) // outside the backfill
	put(t, store, blob.Join(root, "s.yaml"), schemaFile(t))
	h := newHarness(t, store, nil)
	cfg := activities.Config{Job: "backfill", Corpus: p1, Prefixes: []string{p1, p2, p1}, Schema: blob.Join(root, "s.yaml"),
		Output: blob.Join(root, "out"), Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 2, Window: 2}
	sum := h.run(t, workflows.CorpusState{Config: cfg})
	if sum.Docs != 7 {
		t.Fatalf("backfill annotated %d documents, want 7 (days 1 and 2, each once)", sum.Docs)
	}
	cfg.Prefixes = append(cfg.Prefixes, blob.Join(root, "news", "dt=2026-01-03")+"/")
	if next := h.run(t, workflows.CorpusState{Config: cfg}); next.Docs != 5 {
		t.Errorf("extended backfill annotated %d documents, want the new day's 5", next.Docs)
	}
}
