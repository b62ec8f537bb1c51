package annotate

import (
	"context"
	"slices"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
)

// jobStateURI is where the job's state lives; a job name cannot place it
// outside the output prefix.
func jobStateURI(cfg activities.Config) (string, error) {
	u, err := runs.JobStateURI(cfg.Output, cfg.Job)
	if err != nil {
		return "", activities.BadInput(err)
	}
	return u, nil
}

// readJobState returns the job's state, or an empty one for a new job.
func (a *Activities) readJobState(ctx context.Context, cfg activities.Config) (runs.JobState, error) {
	st := runs.JobState{Job: cfg.Job}
	uri, err := jobStateURI(cfg)
	if err != nil {
		return runs.JobState{}, err
	}
	err = a.deps.Store.ReadJSON(ctx, uri, &st)
	if err != nil && !blob.IsNotExist(err) {
		return runs.JobState{}, err
	}
	if st.Objects == nil {
		st.Objects = map[string]runs.JobObject{}
	}
	if st.Pending == nil {
		st.Pending = map[string]runs.PendingObject{}
	}
	return st, nil
}

// objectOutcome is what a run did with one object of its manifest.
type objectOutcome struct {
	done     bool
	rejected bool
	reason   string
}

// addRun records a finalized run: the objects it annotated, and those it
// left pending. A run finalized again (after a crash, or reopened to finish
// what failed) replaces its earlier record, so adding it twice changes
// nothing.
func (a *Activities) addRun(ctx context.Context, cfg activities.Config, r runs.JobRun, m activities.Manifest, out map[string]objectOutcome) error {
	st, err := a.readJobState(ctx, cfg)
	if err != nil {
		return err
	}
	for _, o := range m.Objects {
		res := out[o.URI]
		if res.done {
			st.Objects[o.URI] = runs.JobObject{ManifestItem: o, Run: r.ID, Settings: r.Settings.Hash}
			if p, ok := st.Pending[o.URI]; ok && (p.Run == r.ID || runs.Same(p.ManifestItem, o)) {
				delete(st.Pending, o.URI)
			}
			continue
		}
		r.Pending++
		st.Pending[o.URI] = runs.PendingObject{ManifestItem: o, Run: r.ID, Settings: r.Settings.Hash,
			Rejected: res.rejected, Reason: res.reason}
	}
	st.Checks = runs.Checks{}
	if i := slices.IndexFunc(st.Runs, func(x runs.JobRun) bool { return x.ID == r.ID }); i >= 0 {
		st.Runs = slices.Delete(st.Runs, i, i+1)
	}
	st.Runs = append(st.Runs, r)
	uri, err := jobStateURI(cfg)
	if err != nil {
		return err
	}
	return a.deps.Store.WriteJSON(ctx, uri, st)
}

// addCheck records a run that found the job up to date.
func (a *Activities) addCheck(ctx context.Context, cfg activities.Config, st runs.JobState) error {
	st.Checks.Count++
	st.Checks.Last = time.Now().UTC()
	uri, err := jobStateURI(cfg)
	if err != nil {
		return err
	}
	return a.deps.Store.WriteJSON(ctx, uri, st)
}
