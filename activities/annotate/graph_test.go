package annotate

import (
	"context"
	"reflect"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
)

func TestGraph(t *testing.T) {
	ctx := context.Background()
	uri, err := blob.Normalize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := blob.NewFile()
	run := activities.Run{ID: "r1", URI: uri}
	shards := [][]table.Document{
		{{DocID: "d1", Text: "Lovelace met Babbage. Babbage built engines."}},
		{{DocID: "d2", Text: "Lovelace wrote about the engine of Babbage."}, {DocID: "d3", Text: "Nothing here."}},
	}
	ms := []table.Mention{
		{RunID: "r1", DocID: "d1", Start: 0, End: 8, Text: "Lovelace", Archetype: "person", Label: "person", Score: 1, Extractors: []string{"rules"}},
		{RunID: "r1", DocID: "d1", Start: 13, End: 20, Text: "Babbage", Archetype: "person", Label: "person", Score: 1},
		{RunID: "r1", DocID: "d1", Start: 22, End: 29, Text: "Babbage", Archetype: "person", Label: "person", Score: 1},
		{RunID: "r1", DocID: "d2", Start: 0, End: 8, Text: "Lovelace", Archetype: "person", Label: "person", Score: 1},
		{RunID: "r1", DocID: "d2", Start: 35, End: 42, Text: "Babbage", Archetype: "person", Label: "person", Score: 1},
		{RunID: "r1", DocID: "gone", Start: 0, End: 3, Text: "Ada", Archetype: "person", Label: "person", Score: 1},
	}
	for i, docs := range shards {
		if err := store.Create(ctx, runs.Dir(run).Documents(i), runs.Rows(table.NewDocumentWriter, docs)); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Create(ctx, runs.Dir(run).DocumentIndex(), blob.WriteBytes([]byte("{}"))); err != nil {
		t.Fatal(err)
	}
	a := New(wire.New(store, nil, wire.Options{}))
	if _, err := a.Graph(ctx, run); err == nil {
		t.Fatal("Graph of a run with no mentions table: no error")
	}
	// Two parts, as Finalize cuts a large table.
	for i, part := range [][]table.Mention{ms[:4], ms[4:]} {
		if err := store.Create(ctx, runs.Dir(run).Mentions(i), runs.Rows(table.NewMentionWriter, part)); err != nil {
			t.Fatal(err)
		}
	}

	st, err := a.Graph(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	var docs []pipeline.Document
	for _, s := range shards {
		for _, d := range s {
			docs = append(docs, pipeline.Document{ID: d.DocID, Text: d.Text, Source: d.Source})
		}
	}
	want := kg.Build(docs, runs.ToMentions(ms))
	if st != (activities.GraphStats{Entities: int64(len(want.Entities)), Edges: int64(len(want.Edges)), Mentions: int64(len(ms))}) {
		t.Errorf("stats %+v; graph has %d entities, %d edges", st, len(want.Entities), len(want.Edges))
	}
	ents, err := runs.ReadTable(ctx, store, runs.Dir(run).Entities(), table.ReadEntities)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range want.Entities {
		got := ents[i]
		if got.RunID != "r1" || got.EntityID != e.ID || got.Name != e.Name || got.Label != e.Label ||
			got.Archetype != string(e.Archetype) || got.Mentions != int64(e.Mentions) || got.Documents != int64(e.Documents) {
			t.Errorf("entity %d: %+v, want %+v", i, got, e)
		}
	}
	edges, err := runs.ReadTable(ctx, store, runs.Dir(run).Edges(), table.ReadEdges)
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 1 || edges[0].Count != 2 || !reflect.DeepEqual(edges[0].Examples, []string{"d1", "d2"}) {
		// Lovelace and Babbage in d1's first sentence and in d2.
		t.Errorf("edges %+v, want one, counted twice, in d1 and d2", edges)
	}
	links, err := runs.ReadTable(ctx, store, runs.Dir(run).MentionEntities(), table.ReadMentionEntities)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != len(ms) {
		t.Fatalf("%d mention links, want %d", len(links), len(ms))
	}
	for _, l := range links {
		if l.DocID == "d2" && l.Start == 0 && l.EntityID != kg.ID("person", "lovelace") {
			t.Errorf("link %+v: want Lovelace", l)
		}
	}

	// Done: a second call reads the counts and writes nothing.
	before, err := store.Stat(ctx, runs.Dir(run).Entities())
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Graph(ctx, run)
	if err != nil || again != st {
		t.Errorf("second Graph: %+v, %v; want %+v", again, err, st)
	}
	after, _ := store.Stat(ctx, runs.Dir(run).Entities())
	if !after.ModTime.Equal(before.ModTime) {
		t.Error("second Graph rewrote the entities table")
	}
}
