package annotate

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/kg"
)

// The knowledge graph is built as an external merge sort (see pipeline/kg,
// "Parts"): each part of the mentions table spills its links, edges and
// entity counts sorted by key (FinalizePart); MergeGraph merges a table's
// spilled runs, adding up the rows of one key, and sorts the result into
// the table's order with at most sortRows rows in memory. Memory depends on
// these settings and partRows, not on the corpus.
const (
	// graphRows is the mentions of a spilled run of a part's graph.
	graphRows = 100_000
	// fanIn bounds the runs merged at once; more are merged in rounds.
	fanIn = 64
	// sortRows bounds the rows an external sort holds before it spills a
	// sorted run (an edge row is about 250 bytes in memory).
	sortRows = 200_000
)

// spillRuns spills a partial graph, as the runs called name, for
// MergeGraph.
func (a *Activities) spillRuns(ctx context.Context, run activities.Run, name string, g kg.Part) error {
	dir := runs.Dir(run)
	err := a.deps.Store.Replace(ctx, dir.Spill(activities.GraphLinks, name), writeRows(table.NewMentionEntityWriter, g.Links,
		func(l kg.Link) table.MentionEntity { return linkRow(run.ID, l) }))
	if err != nil {
		return err
	}
	err = a.deps.Store.Replace(ctx, dir.Spill(activities.GraphEdges, name), writeRows(table.NewEdgeWriter, g.Edges,
		func(e kg.Edge) table.Edge { return edgeRow(run.ID, e) }))
	if err != nil {
		return err
	}
	return a.deps.Store.Replace(ctx, dir.Spill(activities.GraphEntities, name), writeRows(table.NewEntityPartWriter, g.Entities, entityPartRow))
}

// writeRows returns a write function that writes xs as rows, converting
// one at a time.
func writeRows[X, T any](newWriter func(io.Writer) *table.Writer[T], xs []X, row func(X) T) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := newWriter(w)
		for _, x := range xs {
			if err := tw.WriteRow(row(x)); err != nil {
				return err
			}
		}
		return tw.Close()
	}
}

// MergeGraph writes one table of the run's knowledge graph from the parts'
// spilled runs, and returns its rows. A table that exists is done. The
// entities table is asked for last: it marks the graph done, and once it
// is written the spilled runs are deleted.
func (a *Activities) MergeGraph(ctx context.Context, in activities.MergeGraph) (int64, error) {
	dir := runs.Dir(in.Run)
	out, ok := map[string]string{activities.GraphLinks: dir.MentionEntities(), activities.GraphEdges: dir.Edges(),
		activities.GraphEntities: dir.Entities()}[in.Table]
	if !ok {
		return 0, activities.BadInput(fmt.Errorf("graph of run %s: no table %q", in.Run.ID, in.Table))
	}
	if n, err := a.deps.Store.CountRows(ctx, out); err == nil || !blob.IsNotExist(err) {
		return n, err
	}
	parts, err := a.spilledParts(ctx, in)
	if err != nil {
		return 0, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	m := graphMerge{a: a, run: in.Run, out: out}
	var n int64
	switch in.Table {
	case activities.GraphLinks:
		n, err = m.links(ctx, parts)
	case activities.GraphEdges:
		n, err = m.edges(ctx, parts)
	default:
		if n, err = m.entities(ctx, parts); err == nil {
			err = a.deleteSpills(ctx, in.Run)
		}
	}
	if err != nil {
		return 0, err
	}
	a.deps.Log.Info("merged graph table", "run", in.Run.ID, "table", in.Table, "rows", n, "parts", len(parts))
	return n, nil
}

// spilledParts lists the parts' own spilled runs of a table.
func (a *Activities) spilledParts(ctx context.Context, in activities.MergeGraph) ([]string, error) {
	all, err := a.deps.Store.Parts(ctx, runs.Dir(in.Run).SpillDir(in.Table))
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, uri := range all {
		if strings.HasPrefix(uri[strings.LastIndex(uri, "/")+1:], "part-") {
			parts = append(parts, uri)
		}
	}
	if len(parts) == 0 {
		// FinalizePart spills at least one part: the run is not finalized,
		// and an empty graph written now would stand for good.
		return nil, activities.BadInput(fmt.Errorf("graph of run %s: no parts at %s", in.Run.ID, runs.Dir(in.Run).SpillDir(in.Table)))
	}
	return parts, nil
}

// deleteSpills deletes the graph's spilled runs once the graph is done;
// the parts' stats stay.
func (a *Activities) deleteSpills(ctx context.Context, run activities.Run) error {
	objs, err := a.deps.Store.Parts(ctx, runs.Dir(run).FinalizeDir())
	if err != nil {
		return err
	}
	for _, uri := range objs {
		if err := a.deps.Store.Delete(ctx, uri); err != nil {
			return err
		}
	}
	return nil
}

// graphMerge merges one graph table of a run into out.
type graphMerge struct {
	a   *Activities
	run activities.Run
	out string
}

// links merges the parts' links, already in the table's order.
func (m graphMerge) links(ctx context.Context, parts []string) (int64, error) {
	f := spills(m, activities.GraphLinks, table.NewMentionEntityWriter, table.NewMentionEntityScanner, compareLinkRows)
	return writeMerged(ctx, m.a.deps.Store, m.out, table.NewMentionEntityWriter, func(emit func(table.MentionEntity) error) error {
		return f.merge(ctx, parts, "merged", nil, emit)
	})
}

// edges adds up each edge's counts and examples over the parts, then sorts
// the edges into the table's order.
func (m graphMerge) edges(ctx context.Context, parts []string) (int64, error) {
	byPair := spills(m, activities.GraphEdges, table.NewEdgeWriter, table.NewEdgeScanner, comparePairRows)
	byCount := spills(m, activities.GraphEdges, table.NewEdgeWriter, table.NewEdgeScanner, compareEdgeRows)
	byCount.own = ownEdge(m.run.ID)
	return sortInto(ctx, m.a.deps.Store, m.out, byCount, func(emit func(table.Edge) error) error {
		return byPair.merge(ctx, parts, "merged", addEdgeRows, emit)
	})
}

// entities adds up each entity's counts over the parts, then sorts the
// entities into the table's order.
func (m graphMerge) entities(ctx context.Context, parts []string) (int64, error) {
	byID := spills(m, activities.GraphEntities, table.NewEntityPartWriter, table.NewEntityPartScanner,
		func(x, y table.EntityPart) int { return strings.Compare(x.EntityID, y.EntityID) })
	byCount := spills(m, "entities-sorted", table.NewEntityWriter, table.NewEntityScanner, compareEntityRows)
	byCount.own = ownEntity(m.run.ID)
	return sortInto(ctx, m.a.deps.Store, m.out, byCount, func(emit func(table.Entity) error) error {
		return byID.merge(ctx, parts, "merged", addEntityParts, func(p table.EntityPart) error {
			e := entityPart(p).Entity()
			return emit(table.Entity{RunID: m.run.ID, EntityID: e.ID, Name: e.Name, Label: e.Label,
				Archetype: string(e.Archetype), Mentions: int64(e.Mentions), Documents: int64(e.Documents)})
		})
	})
}

// spills describes the spilled runs of one row type in the run's folder
// table, sorted by cmp.
func spills[T any](m graphMerge, folder string, write func(io.Writer) *table.Writer[T], scan func(blob.ReaderAt) (*table.Scanner[T], error), cmp func(x, y T) int) spillFiles[T] {
	return spillFiles[T]{store: m.a.deps.Store, dir: runs.Dir(m.run), folder: folder, write: write, scan: scan, cmp: cmp,
		limits: m.a.limits}
}
