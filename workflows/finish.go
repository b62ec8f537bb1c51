package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zeroner/zeroner/activities"
)

// finish finalizes a run as activities that fan out: the parts of its
// mentions table, each with its share of the knowledge graph, a quarter of
// the job's window at a time (at least one: a part gathers about twenty
// shards' mentions and holds about 150 MB while it works); then the ledger and run.json; then the graph's tables,
// the links and edges at once and the entities, which mark the graph done,
// last. A run finished before (Plan.Finished) has its parts: Finalize
// returns its summary and MergeGraph finds its tables or finishes them.
func finish(ctx workflow.Context, in activities.FinalizeInput) (activities.Summary, activities.GraphStats, error) {
	actx := withOptions(ctx, 2*time.Hour, time.Minute)
	if !in.Plan.Finished {
		var parts []activities.FinalizePart
		if err := workflow.ExecuteActivity(actx, activities.PlanFinalizeActivity, in).Get(ctx, &parts); err != nil {
			return activities.Summary{}, activities.GraphStats{}, fmt.Errorf("finalize: %w", err)
		}
		var failed error
		next := 0
		all := func(int) bool { return true }
		stop := func() bool { return failed != nil }
		slide(ctx, &next, len(parts), max(in.Config.Window/4, 1), all, stop, func(i int) workflow.Future {
			return workflow.ExecuteActivity(actx, activities.FinalizePartActivity, parts[i])
		}, func(i int, f workflow.Future) {
			if err := f.Get(ctx, nil); err != nil && failed == nil {
				failed = fmt.Errorf("finalize part %d: %w", i, err)
			}
		})
		if failed != nil {
			return activities.Summary{}, activities.GraphStats{}, failed
		}
	}
	var sum activities.Summary
	if err := workflow.ExecuteActivity(actx, activities.FinalizeActivity, in).Get(ctx, &sum); err != nil {
		return activities.Summary{}, activities.GraphStats{}, fmt.Errorf("finalize: %w", err)
	}
	g, err := mergeGraph(ctx, in.Plan.Run)
	if err != nil {
		return activities.Summary{}, activities.GraphStats{}, fmt.Errorf("graph: %w", err)
	}
	return sum, g, nil
}

// mergeGraph writes the run's knowledge graph tables from its parts.
func mergeGraph(ctx workflow.Context, run activities.Run) (activities.GraphStats, error) {
	actx := withOptions(ctx, 2*time.Hour, time.Minute)
	merge := func(table string) workflow.Future {
		return workflow.ExecuteActivity(actx, activities.MergeGraphActivity, activities.MergeGraph{Run: run, Table: table})
	}
	links, edges := merge(activities.GraphLinks), merge(activities.GraphEdges)
	var g activities.GraphStats
	if err := links.Get(ctx, &g.Mentions); err != nil {
		return g, err
	}
	if err := edges.Get(ctx, &g.Edges); err != nil {
		return g, err
	}
	err := merge(activities.GraphEntities).Get(ctx, &g.Entities)
	return g, err
}
