package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/zeroner/zeroner/io/blob"
)

// Reopen prepares a re-run of the failed chunks of the job's last completed
// run: for every shard where a stage recorded failures, it removes that
// stage's output and the later stages', and then the run's merged tables and
// run.json, so the run is annotated and finalized again. The shards and
// chunks that succeeded cost nothing the second time: their stage outputs
// stay, and their model answers are in the response cache. A run without
// failures is returned as finished.
func (a *Activities) Reopen(ctx context.Context, cfg Config) (Plan, error) {
	state, err := a.readJobState(ctx, cfg)
	if err != nil {
		return Plan{}, err
	}
	if len(state.Runs) == 0 {
		return Plan{}, badInput(fmt.Errorf("job %s has no completed run to retry", cfg.Job))
	}
	last := state.Runs[len(state.Runs)-1]
	run := Run{ID: last.ID, URI: last.URI}
	var idx Sharding
	if err := a.readJSON(ctx, run.DocumentIndex(), &idx); err != nil {
		return Plan{}, err
	}
	stages := []string{StageDiscover, StageMediate, StageCalibrate}
	reopened := 0
	for shard := range idx.Shards {
		first := -1
		for i, stage := range stages {
			if _, err := a.store.Stat(ctx, run.Failures(stage, shard)); err == nil {
				first = i
				break
			} else if !blob.IsNotExist(err) {
				return Plan{}, err
			}
		}
		if first < 0 {
			continue
		}
		reopened++
		// The output last: it is what marks a stage done.
		for _, stage := range slices.Backward(stages[first:]) {
			for _, uri := range []string{run.Failures(stage, shard), run.Usage(stage, shard), run.Stage(stage, shard)} {
				if err := a.store.Delete(ctx, uri); err != nil {
					return Plan{}, err
				}
			}
		}
	}
	plan := Plan{Run: run, Objects: last.Objects, Finished: reopened == 0}
	if reopened == 0 {
		a.log.Info("nothing to retry", "run", run.ID)
		return plan, nil
	}
	// run.json first, so that an interrupted reopen still leaves the run
	// open; then the merged tables, which finalize and graph rewrite.
	if err := a.store.Delete(ctx, run.Summary()); err != nil {
		return Plan{}, err
	}
	for _, dir := range []string{run.MentionsDir(), run.path("usage") + "/", run.path("entities") + "/",
		run.path("edges") + "/", run.path("mention_entities") + "/"} {
		objs, err := a.store.List(ctx, dir)
		if err != nil {
			return Plan{}, err
		}
		for _, o := range objs {
			if err := a.store.Delete(ctx, o.URI); err != nil {
				return Plan{}, errors.Join(fmt.Errorf("reopen %s", run.ID), err)
			}
		}
	}
	a.log.Info("reopened run", "run", run.ID, "shards", reopened)
	return plan, nil
}
