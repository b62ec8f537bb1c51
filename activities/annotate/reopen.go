package annotate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
)

// Reopen prepares a re-run of what failed in the job's last run (with
// --retry-failed): failed chunks and failed shards, and nothing new. A run
// without failures is returned as finished.
func (a *Activities) Reopen(ctx context.Context, cfg activities.Config) (activities.Plan, error) {
	state, err := a.readJobState(ctx, cfg)
	if err != nil {
		return activities.Plan{}, err
	}
	if len(state.Runs) == 0 {
		return activities.Plan{}, activities.BadInput(fmt.Errorf("job %s has no finished run to retry", cfg.Job))
	}
	last := state.Runs[len(state.Runs)-1]
	run := activities.Run{ID: last.ID, URI: last.URI}
	reopened, err := a.reopen(ctx, run)
	if err != nil {
		return activities.Plan{}, err
	}
	if reopened == 0 {
		a.deps.Log.Info("nothing to retry", "run", run.ID)
	}
	return withOutputs(activities.Plan{Run: run, Objects: last.Objects, Finished: reopened == 0, Resumed: reopened > 0}), nil
}

// reopen opens a finalized run's failures again so that the run is
// annotated and finalized again: for every shard where a stage recorded
// failed chunks, it removes that stage's output and the later stages';
// a shard with no calibrated output (it failed whole) is open already.
// If any shard is open, it removes the run's merged tables and run.json.
// What succeeded costs nothing the second time: its stage outputs stay,
// and its model answers are in the response cache. It returns how many
// shards are open.
func (a *Activities) reopen(ctx context.Context, run activities.Run) (int, error) {
	var idx activities.Sharding
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).DocumentIndex(), &idx); err != nil {
		return 0, err
	}
	stages := activities.Stages()
	reopened := 0
	for shard := range idx.Shards {
		first := -1
		for i, stage := range stages {
			if _, err := a.deps.Store.Stat(ctx, runs.Dir(run).Failures(stage, shard)); err == nil {
				first = i
				break
			} else if !blob.IsNotExist(err) {
				return 0, err
			}
		}
		if first < 0 {
			_, err := a.deps.Store.Stat(ctx, runs.Dir(run).Stage(activities.StageCalibrate, shard))
			if err == nil {
				continue
			}
			if !blob.IsNotExist(err) {
				return 0, err
			}
			reopened++ // failed whole: the workflow runs what is missing
			continue
		}
		reopened++
		// The output last: it is what marks a stage done.
		for _, stage := range slices.Backward(stages[first:]) {
			for _, uri := range []string{runs.Dir(run).Failures(stage, shard), runs.Dir(run).Usage(stage, shard), runs.Dir(run).Stage(stage, shard)} {
				if err := a.deps.Store.Delete(ctx, uri); err != nil {
					return 0, err
				}
			}
		}
	}
	if reopened == 0 {
		return 0, nil
	}
	// run.json first, so that an interrupted reopen still leaves the run
	// open; then the merged tables, which finalize and graph rewrite.
	if err := a.deps.Store.Delete(ctx, runs.Dir(run).Summary()); err != nil {
		return 0, err
	}
	for _, dir := range []string{runs.Dir(run).MentionsDir(), runs.Dir(run).Folder("usage"), runs.Dir(run).Folder("entities"),
		runs.Dir(run).Folder("edges"), runs.Dir(run).Folder("mention_entities"), runs.Dir(run).FinalizeDir()} {
		objs, err := a.deps.Store.List(ctx, dir)
		if err != nil {
			return 0, err
		}
		for _, o := range objs {
			if err := a.deps.Store.Delete(ctx, o.URI); err != nil {
				return 0, errors.Join(fmt.Errorf("reopen %s", run.ID), err)
			}
		}
	}
	a.deps.Log.Info("reopened run", "run", run.ID, "shards", reopened)
	return reopened, nil
}
