package annotate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
)

// Graph builds the run's knowledge graph (see pipeline/kg) from its
// mentions table and documents, and writes the entities, edges and
// mention_entities tables. The entities table is written last and marks the
// graph done: if it exists, Graph only counts the tables' rows.
func (a *Activities) Graph(ctx context.Context, run activities.Run) (activities.GraphStats, error) {
	if st, err := a.graphStats(ctx, run); err == nil {
		return st, nil
	} else if !blob.IsNotExist(err) {
		return activities.GraphStats{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()

	byDoc, err := a.mentionsByDoc(ctx, run)
	if err != nil {
		return activities.GraphStats{}, err
	}
	// One shard of documents at a time: the texts need not all fit in
	// memory, only the graph.
	b := kg.NewBuilder()
	shards, err := a.deps.Store.Parts(ctx, runs.Dir(run).DocumentsDir())
	if err != nil {
		return activities.GraphStats{}, err
	}
	for _, uri := range shards {
		docs, err := a.deps.Store.Documents(ctx, uri)
		if err != nil {
			return activities.GraphStats{}, err
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
	st, err := a.writeGraph(ctx, run, b.Graph())
	if err != nil {
		return activities.GraphStats{}, err
	}
	a.deps.Log.Info("built knowledge graph", "run", run.ID, "entities", st.Entities, "edges", st.Edges)
	return st, nil
}

// mentionsByDoc reads the run's mentions table, grouped by document.
func (a *Activities) mentionsByDoc(ctx context.Context, run activities.Run) (map[string][]pipeline.Mention, error) {
	parts, err := a.deps.Store.Parts(ctx, runs.Dir(run).MentionsDir())
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		// Finalize writes at least one part: the run is not finalized, and
		// an empty graph written now would stand for good.
		return nil, activities.BadInput(fmt.Errorf("graph of run %s: no mentions table at %s", run.ID, runs.Dir(run).MentionsDir()))
	}
	byDoc := make(map[string][]pipeline.Mention)
	for _, uri := range parts {
		rows, err := a.deps.Store.Mentions(ctx, uri)
		if err != nil {
			return nil, err
		}
		ms := runs.ToMentions(rows)
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
	return byDoc, nil
}

// writeGraph writes the graph's tables, the entities table last since it
// marks the graph done.
func (a *Activities) writeGraph(ctx context.Context, run activities.Run, g kg.Graph) (activities.GraphStats, error) {
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
	if err := a.deps.Store.Replace(ctx, runs.Dir(run).MentionEntities(), runs.Rows(table.NewMentionEntityWriter, links)); err != nil {
		return activities.GraphStats{}, err
	}
	if err := a.deps.Store.Replace(ctx, runs.Dir(run).Edges(), runs.Rows(table.NewEdgeWriter, edges)); err != nil {
		return activities.GraphStats{}, err
	}
	if err := a.deps.Store.Replace(ctx, runs.Dir(run).Entities(), runs.Rows(table.NewEntityWriter, ents)); err != nil {
		return activities.GraphStats{}, err
	}
	return activities.GraphStats{Entities: int64(len(ents)), Edges: int64(len(edges)), Mentions: int64(len(links))}, nil
}

// graphStats counts the rows of a finished graph's tables from their
// footers; it fails with a not-exist error while the graph is not done.
func (a *Activities) graphStats(ctx context.Context, run activities.Run) (activities.GraphStats, error) {
	var n [3]int64
	for i, uri := range []string{runs.Dir(run).Entities(), runs.Dir(run).Edges(), runs.Dir(run).MentionEntities()} {
		rows, err := a.deps.Store.CountRows(ctx, uri)
		if err != nil {
			return activities.GraphStats{}, err
		}
		n[i] = rows
	}
	return activities.GraphStats{Entities: n[0], Edges: n[1], Mentions: n[2]}, nil
}
