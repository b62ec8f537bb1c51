package annotate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
)

// genShards generates shards of documents with mentions of a few dozen
// names, so that entities recur across shards and sentences pair them.
func genShards(seed uint64, shards, docs int) ([][]table.Document, [][]table.Mention) {
	r := rand.New(rand.NewPCG(seed, 7))
	names := []struct{ text, label string }{
		{"Ada Lovelace", "person"}, {"Lovelace", "person"}, {"Charles Babbage", "person"}, {"The Beatles", "band"},
		{"the Beatles", "band"}, {"Beatles", "band"}, {"O’Brien", "person"}, {"O'Brien", "person"},
		{"Paris", "location"}, {"Paris", "person"}, {"Labour Party", "organisation"}, {"(Labour Party)", "organisation"},
		{"C++", "language"}, {"C#", "language"}, {"Café Müller", "location"}, {"U.S.", "country"},
	}
	for i := range 40 {
		names = append(names, struct{ text, label string }{fmt.Sprintf("Name%d Surname%d", i, i%7), []string{"person", "organisation"}[i%2]})
	}
	archs := []pipeline.Archetype{"person", "organization", "location", "misc"}
	allDocs := make([][]table.Document, shards)
	allMs := make([][]table.Mention, shards)
	for s := range shards {
		for d := range r.IntN(docs + 1) {
			id := fmt.Sprintf("obj-%d.jsonl#L%d", r.IntN(5), s*1000+d)
			var text strings.Builder
			var ms []table.Mention
			for range 1 + r.IntN(4) { // sentences
				for k := range r.IntN(4) {
					n := names[r.IntN(len(names))]
					if k > 0 {
						text.WriteString(" and ")
					}
					start := text.Len()
					text.WriteString(n.text)
					ms = append(ms, table.Mention{RunID: "r1", DocID: id, Start: int64(start), End: int64(text.Len()), Text: n.text,
						Archetype: string(archs[r.IntN(len(archs))]), Label: n.label, Score: 1})
				}
				text.WriteString(" met here. ")
			}
			allDocs[s] = append(allDocs[s], table.Document{DocID: id, Text: text.String(), Source: id[:strings.Index(id, "#")]})
			allMs[s] = append(allMs[s], ms...)
		}
	}
	return allDocs, allMs
}

// finalizeRun runs finalize's part and graph activities as the workflow
// does.
func finalizeRun(ctx context.Context, t *testing.T, a *Activities, in activities.FinalizeInput) activities.GraphStats {
	t.Helper()
	parts, err := a.PlanFinalize(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if _, err := a.FinalizePart(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var g activities.GraphStats
	for _, tb := range []struct {
		name string
		n    *int64
	}{{activities.GraphLinks, &g.Mentions}, {activities.GraphEdges, &g.Edges}, {activities.GraphEntities, &g.Entities}} {
		if *tb.n, err = a.MergeGraph(ctx, activities.MergeGraph{Run: in.Plan.Run, Table: tb.name}); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// want is what finalize wrote before it streamed: the mentions table cut
// into parts of size rows, and the graph built in memory by kg.Build, each
// written in one go.
func want(t *testing.T, run activities.Run, docs [][]table.Document, ms [][]table.Mention, failed map[int]bool, size int) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	write := func(uri string, f func(io.Writer) error) {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		out[uri] = b.Bytes()
	}
	var rows, all []table.Mention
	var pdocs []pipeline.Document
	for s := range docs {
		if failed[s] {
			continue
		}
		for _, d := range docs[s] {
			pdocs = append(pdocs, pipeline.Document{ID: d.DocID, Text: d.Text, Source: d.Source})
		}
		all = append(all, ms[s]...)
		rows = append(rows, ms[s]...)
		if len(rows) >= size {
			write(runs.Dir(run).Mentions(len(out)), runs.Rows(table.NewMentionWriter, rows))
			rows = nil
		}
	}
	if len(rows) > 0 || len(out) == 0 {
		write(runs.Dir(run).Mentions(len(out)), runs.Rows(table.NewMentionWriter, rows))
	}
	g := kg.Build(pdocs, runs.ToMentions(all))
	var links []table.MentionEntity
	for _, l := range g.Links {
		links = append(links, linkRow(run.ID, l))
	}
	var edges []table.Edge
	for _, e := range g.Edges {
		edges = append(edges, table.Edge{RunID: run.ID, Source: e.Source, Target: e.Target, Count: int64(e.Count), Examples: e.Examples})
	}
	var ents []table.Entity
	for _, e := range g.Entities {
		ents = append(ents, table.Entity{RunID: run.ID, EntityID: e.ID, Name: e.Name, Label: e.Label, Archetype: string(e.Archetype),
			Mentions: int64(e.Mentions), Documents: int64(e.Documents)})
	}
	write(runs.Dir(run).MentionEntities(), runs.Rows(table.NewMentionEntityWriter, links))
	write(runs.Dir(run).Edges(), runs.Rows(table.NewEdgeWriter, edges))
	write(runs.Dir(run).Entities(), runs.Rows(table.NewEntityWriter, ents))
	return out
}

// TestFinalizeGraphSameBytes checks that finalize in parts, with the graph
// merged from spilled runs, writes the same bytes as building everything in
// memory: with one part, and with limits so small that there are many
// parts, merge rounds and sorted runs.
func TestFinalizeGraphSameBytes(t *testing.T) {
	tests := []struct {
		name         string
		shards, docs int
		failed       []int
		lim          limits
	}{
		{"one part", 4, 30, nil, limits{partRows: partRows, graphRows: graphRows, fanIn: fanIn, sortRows: sortRows}},
		{"many parts, rounds, spills", 30, 25, []int{3, 17}, limits{partRows: 40, graphRows: 15, fanIn: 3, sortRows: 16}},
		{"fan-in two, sort one row", 9, 12, []int{0}, limits{partRows: 25, graphRows: 1, fanIn: 2, sortRows: 1}},
		{"graph runs larger than parts", 12, 20, nil, limits{partRows: 10, graphRows: 1000, fanIn: 4, sortRows: 50}},
		{"no mentions", 2, 0, nil, limits{partRows: 40, graphRows: 15, fanIn: 3, sortRows: 16}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			uri, err := blob.Normalize(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			store := blob.NewFile()
			run := activities.Run{ID: "r1", URI: uri}
			docs, ms := genShards(uint64(i), tt.shards, tt.docs)
			for s := range tt.shards {
				if err := store.Create(ctx, runs.Dir(run).Documents(s), runs.Rows(table.NewDocumentWriter, docs[s])); err != nil {
					t.Fatal(err)
				}
				if err := store.Create(ctx, runs.Dir(run).Stage(activities.StageCalibrate, s), runs.Rows(table.NewMentionWriter, ms[s])); err != nil {
					t.Fatal(err)
				}
			}
			in := activities.FinalizeInput{Plan: activities.Plan{Run: run}, Sharding: activities.Sharding{Shards: tt.shards}}
			failed := make(map[int]bool)
			for _, s := range tt.failed {
				failed[s] = true
				in.Failed = append(in.Failed, activities.ShardFailure{Shard: s, Reason: "test"})
			}
			a := New(wire.New(store, nil, wire.Options{}))
			a.limits = tt.lim
			g := finalizeRun(ctx, t, a, in)

			exp := want(t, run, docs, ms, failed, int(tt.lim.partRows))
			for uri, b := range exp {
				got, err := blob.ReadAll(ctx, store, uri)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, b) {
					t.Errorf("%s: %d bytes differ from the in-memory build's %d", uri, len(got), len(b))
				}
			}
			parts, err := runs.Store{Store: store}.Parts(ctx, runs.Dir(run).MentionsDir())
			if err != nil {
				t.Fatal(err)
			}
			if got, n := len(parts), len(exp)-3; got != n {
				t.Errorf("%d mentions parts, want %d", got, n)
			}
			if tt.docs > 0 && (g.Mentions == 0 || g.Entities == 0 || g.Edges == 0) {
				t.Errorf("graph %+v: want links, entities and edges", g)
			}
			spilled, err := runs.Store{Store: store}.Parts(ctx, runs.Dir(run).FinalizeDir())
			if err != nil || len(spilled) > 0 {
				t.Errorf("spilled runs left after the graph is done: %v %v", spilled, err)
			}

			// Done: again, nothing is rewritten and the counts are the same.
			before, _ := store.Stat(ctx, runs.Dir(run).Entities())
			if again := finalizeRun(ctx, t, a, in); again != g {
				t.Errorf("second finalize: %+v, want %+v", again, g)
			}
			after, _ := store.Stat(ctx, runs.Dir(run).Entities())
			if !after.ModTime.Equal(before.ModTime) {
				t.Error("second finalize rewrote the entities table")
			}
		})
	}
}

func TestMergeGraphNotFinalized(t *testing.T) {
	ctx := context.Background()
	uri, err := blob.Normalize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := New(wire.New(blob.NewFile(), nil, wire.Options{}))
	run := activities.Run{ID: "r1", URI: uri}
	for _, tb := range []string{activities.GraphLinks, activities.GraphEntities, "nodes"} {
		if _, err := a.MergeGraph(ctx, activities.MergeGraph{Run: run, Table: tb}); err == nil {
			t.Errorf("MergeGraph %s of a run with no parts: no error", tb)
		}
	}
}
