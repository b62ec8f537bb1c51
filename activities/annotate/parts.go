package annotate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/kg"
)

// partRows bounds the rows of one part of the final mentions table: a part
// takes consecutive shards until it has this many. It is also the unit of
// finalize's memory: a part's graph is built in memory, then spilled.
const partRows = 500_000

// footerReads bounds the shards' footers read at once while planning.
const footerReads = 16

// PlanFinalize cuts the run's finished shards into the parts of its
// mentions table, from the row counts in the shards' footers.
func (a *Activities) PlanFinalize(ctx context.Context, in activities.FinalizeInput) ([]activities.FinalizePart, error) {
	run := in.Plan.Run
	shards := finishedShards(in)
	counts := make([]int64, len(shards))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(footerReads)
	for i, shard := range shards {
		g.Go(func() error {
			n, err := a.deps.Store.CountRows(gctx, runs.Dir(run).Stage(activities.StageCalibrate, shard))
			counts[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return cutParts(run, shards, counts, a.limits.partRows), nil
}

// cutParts groups shards, in order, into parts of at least size mentions;
// the last part takes the rest. A run with no mentions has one empty part,
// so that the table exists.
func cutParts(run activities.Run, shards []int, counts []int64, size int64) []activities.FinalizePart {
	var (
		parts []activities.FinalizePart
		cur   []int
		rows  int64
	)
	for i, shard := range shards {
		cur = append(cur, shard)
		rows += counts[i]
		if rows >= size {
			parts = append(parts, activities.FinalizePart{Run: run, Part: len(parts), Shards: cur})
			cur, rows = nil, 0
		}
	}
	if rows > 0 || len(parts) == 0 {
		parts = append(parts, activities.FinalizePart{Run: run, Part: len(parts), Shards: cur})
	}
	return parts
}

// FinalizePart writes one part of the run's mentions table and spills the
// part's knowledge graph: its links, edges and entity counts, each sorted
// by key, for MergeGraph. The part's stats are written last and mark it
// done.
func (a *Activities) FinalizePart(ctx context.Context, p activities.FinalizePart) (activities.PartStats, error) {
	dir := runs.Dir(p.Run)
	var done activities.PartStats
	if err := a.deps.Store.ReadJSON(ctx, dir.PartStats(p.Part), &done); err == nil && slices.Equal(done.Shards, p.Shards) {
		return done, nil
	} else if err != nil && !blob.IsNotExist(err) {
		return activities.PartStats{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()

	st := activities.PartStats{Shards: p.Shards, Labels: make(map[string]int64)}
	g := partGraph{a: a, part: p, b: kg.NewBuilder(), size: a.limits.graphRows}
	err := a.deps.Store.Replace(ctx, dir.Mentions(p.Part), func(w io.Writer) error {
		tw := table.NewMentionWriter(w)
		for _, shard := range p.Shards {
			if err := a.addShard(ctx, p.Run, shard, tw, g.b, &st); err != nil {
				return err
			}
			if err := g.spillFull(ctx); err != nil {
				return err
			}
		}
		return tw.Close()
	})
	if err != nil {
		return activities.PartStats{}, err
	}
	if err := g.spillRest(ctx); err != nil {
		return activities.PartStats{}, err
	}
	return st, a.deps.Store.WriteJSON(ctx, dir.PartStats(p.Part), st)
}

// partGraph spills a part's graph in runs of about size mentions, so that
// a part's graph never needs to be held whole.
type partGraph struct {
	a    *Activities
	part activities.FinalizePart
	b    *kg.Builder
	size int
	runs int // runs spilled so far
}

// spillFull spills the graph built so far once it has size mentions.
func (g *partGraph) spillFull(ctx context.Context) error {
	if g.b.Len() < max(g.size, 1) {
		return nil
	}
	return g.spill(ctx)
}

// spillRest spills what is left; a part with no mentions still spills one
// (empty) run, so that MergeGraph finds the part.
func (g *partGraph) spillRest(ctx context.Context) error {
	if g.b.Len() == 0 && g.runs > 0 {
		return nil
	}
	return g.spill(ctx)
}

func (g *partGraph) spill(ctx context.Context) error {
	name := fmt.Sprintf("part-%05d-%03d", g.part.Part, g.runs)
	g.runs++
	return g.a.spillRuns(ctx, g.part.Run, name, g.b.Part())
}

// addShard writes a shard's calibrated mentions to the part, counts them,
// and adds its documents to the part's graph.
func (a *Activities) addShard(ctx context.Context, run activities.Run, shard int, tw *table.Writer[table.Mention], b *kg.Builder, st *activities.PartStats) error {
	rows, err := a.deps.Store.Mentions(ctx, runs.Dir(run).Stage(activities.StageCalibrate, shard))
	if err != nil {
		return err
	}
	if err := tw.Write(rows); err != nil {
		return err
	}
	st.Mentions += int64(len(rows))
	for _, m := range rows {
		st.Labels[m.Label]++
	}
	if len(rows) == 0 {
		return nil
	}
	docs, err := a.deps.Store.Documents(ctx, runs.Dir(run).Documents(shard))
	if err != nil {
		return err
	}
	b.AddAll(runs.ToDocuments(docs), runs.ToMentions(rows))
	return nil
}
