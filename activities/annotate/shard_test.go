package annotate

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
)

// A document whose id was seen before, in the same object or an earlier
// one, is a reject that names the id and the object it was first in; the
// first one is kept, and so is every other document.
func TestShardRejectsDuplicateIDs(t *testing.T) {
	ctx := context.Background()
	root, store, put := tempStore(t)
	doc := func(id, text string) string {
		if id == "" {
			return `{"text":"` + text + `"}`
		}
		return `{"id":"` + id + `","text":"` + text + `"}`
	}
	corpus := blob.Join(root, "corpus")
	a, b, c := blob.Join(corpus, "a.jsonl"), blob.Join(corpus, "b.jsonl"), blob.Join(corpus, "c.jsonl")
	put(a, []byte(strings.Join([]string{
		doc("d1", "Angela Merkel spoke ."), doc("d2", "Macron replied ."), doc("d1", "A second d1 ."),
		doc("", "No id : derived from the object and line ."),
	}, "\n")+"\n"))
	put(b, []byte(strings.Join([]string{
		doc("d2", "Another d2 ."), doc("d3", "Berlin is a city ."),
		doc(a+"#L4", "The derived id of a's fourth line, written out ."),
	}, "\n")+"\n"))
	put(c, []byte(doc("d3", "Berlin again .")+"\n"))
	put(blob.Join(root, "schema.yaml"), politicsSchema(t))
	act := New(wire.New(store, slog.New(slog.DiscardHandler), wire.Options{}))
	cfg := activities.Config{Job: "dups", Corpus: corpus + "/", Output: blob.Join(root, "out"),
		Schema: blob.Join(root, "schema.yaml"), Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 2}

	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(act)
	v, err := env.ExecuteActivity(act.Plan, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var p activities.Plan
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	if v, err = env.ExecuteActivity(act.Shard, cfg, p); err != nil {
		t.Fatal(err)
	}
	var sh activities.Sharding
	if err := v.Get(&sh); err != nil {
		t.Fatal(err)
	}

	rs := runs.Store{Store: store}
	var ids []string
	for i := range sh.Shards {
		docs, err := rs.Documents(ctx, runs.Dir(p.Run).Documents(i))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			ids = append(ids, d.DocID+" "+d.Text)
		}
	}
	want := []string{
		"d1 Angela Merkel spoke .", "d2 Macron replied .", a + "#L4 No id : derived from the object and line .",
		"d3 Berlin is a city .",
	}
	if !slices.Equal(ids, want) {
		t.Errorf("documents:\n got %q\nwant %q", ids, want)
	}
	if sh.Docs != int64(len(want)) || sh.Rejects != 4 {
		t.Errorf("sharding %+v, want %d documents and 4 rejects", sh, len(want))
	}

	rejects, err := rs.Rejects(ctx, runs.Dir(p.Run).Rejects())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rejects {
		got = append(got, strings.TrimPrefix(r.Object, corpus+"/")+" "+r.Reason)
	}
	wantRej := []string{
		`a.jsonl duplicate document id "d1" (first in ` + a + `)`,
		`b.jsonl duplicate document id "d2" (first in ` + a + `)`,
		`b.jsonl duplicate document id "` + a + `#L4" (first in ` + a + `)`,
		`c.jsonl duplicate document id "d3" (first in ` + b + `)`,
	}
	if !slices.Equal(got, wantRej) {
		t.Errorf("rejects:\n got %q\nwant %q", got, wantRej)
	}
}
