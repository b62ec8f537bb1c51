package activities

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zeroner/zeroner/io/blob"
)

// JobState is a job's dataset: the runs that completed, and for every corpus
// object the version annotated and the run that holds its annotations. An
// incremental run annotates only the objects that are new or changed since;
// Finalize adds each completed run here. It lives at <output>/jobs/<job>.json.
type JobState struct {
	Job     string               `json:"job"`
	Runs    []JobRun             `json:"runs"`
	Objects map[string]JobObject `json:"objects"` // by URI
}

// JobRun is one completed run of a job.
type JobRun struct {
	ID       string    `json:"id"`
	URI      string    `json:"uri"`
	Objects  int       `json:"objects"`
	Docs     int64     `json:"documents"`
	Finished time.Time `json:"finished"`
}

// JobObject is the version of an object that a run annotated.
type JobObject struct {
	ManifestItem
	Run string `json:"run"`
}

// jobStateURI is where the job's state lives; a job name cannot place it
// outside the output prefix.
func jobStateURI(cfg Config) (string, error) {
	u, err := blob.JoinUnder(cfg.Output, "jobs", cfg.Job+".json")
	if err != nil {
		return "", badInput(fmt.Errorf("job %q: %w", cfg.Job, err))
	}
	return u, nil
}

// readJobState returns the job's state, or an empty one for a new job.
func (a *Activities) readJobState(ctx context.Context, cfg Config) (JobState, error) {
	st := JobState{Job: cfg.Job, Objects: map[string]JobObject{}}
	uri, err := jobStateURI(cfg)
	if err != nil {
		return JobState{}, err
	}
	err = a.readJSON(ctx, uri, &st)
	if err != nil && !blob.IsNotExist(err) {
		return JobState{}, err
	}
	if st.Objects == nil {
		st.Objects = map[string]JobObject{}
	}
	return st, nil
}

// changed reports whether o differs from the version the job annotated.
func (st JobState) changed(o ManifestItem) bool {
	prev, ok := st.Objects[o.URI]
	return !ok || prev.Size != o.Size || !prev.ModTime.Equal(o.ModTime) || prev.Generation != o.Generation
}

// addRun records a completed run and the objects of its manifest. Adding a
// run twice changes nothing, so Finalize may run again after a crash.
func (a *Activities) addRun(ctx context.Context, cfg Config, r JobRun, m Manifest) error {
	st, err := a.readJobState(ctx, cfg)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(st.Runs, func(x JobRun) bool { return x.ID == r.ID }) {
		return nil
	}
	st.Runs = append(st.Runs, r)
	for _, o := range m.Objects {
		st.Objects[o.URI] = JobObject{ManifestItem: o, Run: r.ID}
	}
	uri, err := jobStateURI(cfg)
	if err != nil {
		return err
	}
	return a.writeJSON(ctx, uri, st)
}
