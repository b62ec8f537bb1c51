package activities

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zeroner/zeroner/io/blob"
)

// JobState is a job's dataset: its runs, and for every corpus object the
// version annotated, the run that holds its annotations and the settings it
// was annotated with. An object is recorded as annotated only when all of
// its documents were; until then it is pending, and the next run annotates
// it. It lives at <output>/jobs/<job>.json.
type JobState struct {
	Job     string                   `json:"job"`
	Runs    []JobRun                 `json:"runs"`
	Objects map[string]JobObject     `json:"objects"`           // annotated, by URI
	Pending map[string]PendingObject `json:"pending,omitempty"` // not annotated, by URI
	// Checks counts the runs that found nothing to do since the last run
	// that did work, for status.
	Checks Checks `json:"checks,omitzero"`
}

// Checks are the up-to-date checks since a job's last run.
type Checks struct {
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// JobRun is one finalized run of a job.
type JobRun struct {
	ID       string    `json:"id"`
	URI      string    `json:"uri"`
	Objects  int       `json:"objects"`
	Docs     int64     `json:"documents"`
	Finished time.Time `json:"finished"`
	Settings Settings  `json:"settings"`
	// Pending counts the run's objects that it did not annotate.
	Pending int `json:"pending,omitempty"`
}

// JobObject is the version of an object that a run annotated.
type JobObject struct {
	ManifestItem
	Run      string `json:"run"`
	Settings string `json:"settings,omitempty"` // Settings.Hash
}

// PendingObject is an object a run read but did not annotate, and why.
type PendingObject struct {
	ManifestItem
	Run      string `json:"run"`
	Settings string `json:"settings,omitempty"`
	// Rejected says no document of the object could be read: running the
	// same run again cannot help, only a changed object or reader.
	Rejected bool   `json:"rejected,omitempty"`
	Reason   string `json:"reason"`
}

// jobStateURI is where the job's state lives; a job name cannot place it
// outside the output prefix.
func jobStateURI(cfg Config) (string, error) {
	u, err := JobStateURI(cfg.Output, cfg.Job)
	if err != nil {
		return "", badInput(err)
	}
	return u, nil
}

// JobStateURI is where the dataset of job lives under the output prefix.
func JobStateURI(output, job string) (string, error) {
	u, err := blob.JoinUnder(output, "jobs", job+".json")
	if err != nil {
		return "", fmt.Errorf("job %q: %w", job, err)
	}
	return u, nil
}

// readJobState returns the job's state, or an empty one for a new job.
func (a *Activities) readJobState(ctx context.Context, cfg Config) (JobState, error) {
	st := JobState{Job: cfg.Job}
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
	if st.Pending == nil {
		st.Pending = map[string]PendingObject{}
	}
	return st, nil
}

// same reports whether two listings are of the same version of an object.
func same(x, y ManifestItem) bool {
	return x.Size == y.Size && x.ModTime.Equal(y.ModTime) && x.Generation == y.Generation
}

// changed reports whether o differs from the version the job annotated.
func (st JobState) changed(o ManifestItem) bool {
	prev, ok := st.Objects[o.URI]
	return !ok || !same(prev.ManifestItem, o)
}

// run returns the job's run with the given id.
func (st JobState) run(id string) (JobRun, bool) {
	i := slices.IndexFunc(st.Runs, func(r JobRun) bool { return r.ID == id })
	if i < 0 {
		return JobRun{}, false
	}
	return st.Runs[i], true
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
func (a *Activities) addRun(ctx context.Context, cfg Config, r JobRun, m Manifest, out map[string]objectOutcome) error {
	st, err := a.readJobState(ctx, cfg)
	if err != nil {
		return err
	}
	for _, o := range m.Objects {
		res := out[o.URI]
		if res.done {
			st.Objects[o.URI] = JobObject{ManifestItem: o, Run: r.ID, Settings: r.Settings.Hash}
			if p, ok := st.Pending[o.URI]; ok && (p.Run == r.ID || same(p.ManifestItem, o)) {
				delete(st.Pending, o.URI)
			}
			continue
		}
		r.Pending++
		st.Pending[o.URI] = PendingObject{ManifestItem: o, Run: r.ID, Settings: r.Settings.Hash,
			Rejected: res.rejected, Reason: res.reason}
	}
	st.Checks = Checks{}
	if i := slices.IndexFunc(st.Runs, func(x JobRun) bool { return x.ID == r.ID }); i >= 0 {
		st.Runs = slices.Delete(st.Runs, i, i+1)
	}
	st.Runs = append(st.Runs, r)
	uri, err := jobStateURI(cfg)
	if err != nil {
		return err
	}
	return a.writeJSON(ctx, uri, st)
}

// addCheck records a run that found the job up to date.
func (a *Activities) addCheck(ctx context.Context, cfg Config, st JobState) error {
	st.Checks.Count++
	st.Checks.Last = time.Now().UTC()
	uri, err := jobStateURI(cfg)
	if err != nil {
		return err
	}
	return a.writeJSON(ctx, uri, st)
}
