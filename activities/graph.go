package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
)

// Graph builds the run's knowledge graph (see pipeline/kg) from its
// mentions table and documents, and writes the entities, edges and
// mention_entities tables. The entities table is written last and marks the
// graph done: if it exists, Graph only counts the tables' rows.
func (a *Activities) Graph(ctx context.Context, run Run) (GraphStats, error) {
	if st, err := a.graphStats(ctx, run); err == nil {
		return st, nil
	} else if !blob.IsNotExist(err) {
		return GraphStats{}, err
	}
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()

	byDoc := make(map[string][]pipeline.Mention)
	parts, err := a.parquetParts(ctx, run.MentionsDir())
	if err != nil {
		return GraphStats{}, err
	}
	if len(parts) == 0 {
		// Finalize writes at least one part: the run is not finalized, and
		// an empty graph written now would stand for good.
		return GraphStats{}, badInput(fmt.Errorf("graph of run %s: no mentions table at %s", run.ID, run.MentionsDir()))
	}
	for _, uri := range parts {
		rows, err := a.readMentions(ctx, uri)
		if err != nil {
			return GraphStats{}, err
		}
		ms := toMentions(rows)
		// Room first: a document may have millions of mentions, and a
		// slice grown one append at a time is copied over and over.
		count := make(map[string]int)
		for _, m := range ms {
			count[m.DocID]++
		}
		for id, n := range count {
			byDoc[id] = slices.Grow(byDoc[id], n)
		}
		for _, m := range ms {
			byDoc[m.DocID] = append(byDoc[m.DocID], m)
		}
	}
	// One shard of documents at a time: the texts need not all fit in
	// memory, only the graph.
	b := kg.NewBuilder()
	shards, err := a.parquetParts(ctx, run.DocumentsDir())
	if err != nil {
		return GraphStats{}, err
	}
	for _, uri := range shards {
		docs, err := a.readDocuments(ctx, uri)
		if err != nil {
			return GraphStats{}, err
		}
		for _, d := range docs {
			if ms, ok := byDoc[d.DocID]; ok {
				b.Add(pipeline.Document{ID: d.DocID, Text: d.Text, Source: d.Source}, ms)
				delete(byDoc, d.DocID)
			}
		}
	}
	for id, ms := range byDoc { // no document: entities, but no edges
		b.Add(pipeline.Document{ID: id}, ms)
	}
	g := b.Graph()

	links := make([]table.MentionEntity, len(g.Links))
	for i, l := range g.Links {
		links[i] = table.MentionEntity{RunID: run.ID, DocID: l.DocID, Start: int64(l.Start), End: int64(l.End), EntityID: l.Entity}
	}
	edges := make([]table.Edge, len(g.Edges))
	for i, e := range g.Edges {
		edges[i] = table.Edge{RunID: run.ID, Source: e.Source, Target: e.Target, Count: int64(e.Count), Examples: e.Examples}
	}
	ents := make([]table.Entity, len(g.Entities))
	for i, e := range g.Entities {
		ents[i] = table.Entity{RunID: run.ID, EntityID: e.ID, Name: e.Name, Label: e.Label, Archetype: string(e.Archetype),
			Mentions: int64(e.Mentions), Documents: int64(e.Documents)}
	}
	if err := a.store.Replace(ctx, run.MentionEntities(), rowsTo(table.NewMentionEntityWriter, links)); err != nil {
		return GraphStats{}, err
	}
	if err := a.store.Replace(ctx, run.Edges(), rowsTo(table.NewEdgeWriter, edges)); err != nil {
		return GraphStats{}, err
	}
	if err := a.store.Replace(ctx, run.Entities(), rowsTo(table.NewEntityWriter, ents)); err != nil {
		return GraphStats{}, err
	}
	st := GraphStats{Entities: int64(len(ents)), Edges: int64(len(edges)), Mentions: int64(len(links))}
	a.log.Info("built knowledge graph", "run", run.ID, "entities", st.Entities, "edges", st.Edges)
	return st, nil
}

// graphStats counts the rows of a finished graph's tables from their
// footers; it fails with a not-exist error while the graph is not done.
func (a *Activities) graphStats(ctx context.Context, run Run) (GraphStats, error) {
	var n [3]int64
	for i, uri := range []string{run.Entities(), run.Edges(), run.MentionEntities()} {
		rows, err := readTable(ctx, a.store, uri, func(r blob.ReaderAt) ([]int64, error) {
			n, err := table.NumRows(r)
			return []int64{n}, err
		})
		if err != nil {
			return GraphStats{}, err
		}
		n[i] = rows[0]
	}
	return GraphStats{Entities: n[0], Edges: n[1], Mentions: n[2]}, nil
}

// parquetParts lists the Parquet files of a table folder, in order.
func (a *Activities) parquetParts(ctx context.Context, dir string) ([]string, error) {
	objs, err := a.store.List(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, o := range objs {
		if strings.HasSuffix(o.URI, ".parquet") {
			out = append(out, o.URI)
		}
	}
	return out, nil
}
