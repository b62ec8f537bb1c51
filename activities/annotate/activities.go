// Package annotate holds the activities of the annotation job: plan a run,
// shard the corpus into Parquet batches, run the three stages of a shard
// (online, or from the answers of batch rounds), finalize the run and the
// job's dataset, and build the knowledge-graph tables. Every output path is
// derived from (run, stage, shard) and every write is atomic, so a retried or
// repeated activity finds its output and returns at once.
package annotate

import "github.com/zeroner/zeroner/internal/wire"

// Activities are the package's activities; register them with a worker.
type Activities struct {
	deps   *wire.Deps
	limits limits
}

// limits bound finalize's memory (see parts.go and graph.go); tests shrink
// them to exercise parts, rounds and spills on small inputs.
type limits struct {
	partRows  int64 // mentions per part of the mentions table
	graphRows int   // mentions per spilled run of a part's graph
	fanIn     int   // runs merged at once
	sortRows  int   // rows an external sort holds
}

// New returns the activities over the shared dependencies.
func New(d *wire.Deps) *Activities {
	return &Activities{deps: d, limits: limits{partRows: partRows, graphRows: graphRows, fanIn: fanIn, sortRows: sortRows}}
}
