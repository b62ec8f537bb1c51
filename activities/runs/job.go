package runs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
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
	activities.ManifestItem
	Run      string `json:"run"`
	Settings string `json:"settings,omitempty"` // Settings.Hash
}

// PendingObject is an object a run read but did not annotate, and why.
type PendingObject struct {
	activities.ManifestItem
	Run      string `json:"run"`
	Settings string `json:"settings,omitempty"`
	// Rejected says no document of the object could be read: running the
	// same run again cannot help, only a changed object or reader.
	Rejected bool   `json:"rejected,omitempty"`
	Reason   string `json:"reason"`
}

// JobStateURI is where the dataset of job lives under the output prefix.
func JobStateURI(output, job string) (string, error) {
	u, err := blob.JoinUnder(output, "jobs", job+".json")
	if err != nil {
		return "", fmt.Errorf("job %q: %w", job, err)
	}
	return u, nil
}

// Settings are what of a job's configuration decides its annotations: the
// code's and prompts' versions, the backend and its models and decoding, the
// schema's labels and definitions, and how the corpus is read. An object
// annotated under other settings is not up to date. Shard size, window and
// concurrency change how fast, not what, so they are not here.
type Settings struct {
	Hash    string `json:"hash"`
	Version string `json:"version"`
	Backend string `json:"backend"`
	Models  string `json:"models,omitempty"`
	Schema  string `json:"schema"`
	Reader  string `json:"reader"`
	Distill string `json:"distill,omitempty"` // a distill job's sample and student
}

// Same reports whether two listings are of the same version of an object.
func Same(x, y activities.ManifestItem) bool {
	return x.Size == y.Size && x.ModTime.Equal(y.ModTime) && x.Generation == y.Generation
}

// Changed reports whether o differs from the version the job annotated.
func (st JobState) Changed(o activities.ManifestItem) bool {
	prev, ok := st.Objects[o.URI]
	return !ok || !Same(prev.ManifestItem, o)
}

// Run returns the job's run with the given id.
func (st JobState) Run(id string) (JobRun, bool) {
	i := slices.IndexFunc(st.Runs, func(r JobRun) bool { return r.ID == id })
	if i < 0 {
		return JobRun{}, false
	}
	return st.Runs[i], true
}

// Change says how earlier settings differ from the run's (s), in words:
// "backend rules; this run uses sam". It names the first difference a user
// would recognise; other differences (decoding, extractors) are "other
// model settings".
func (s Settings) Change(earlier Settings) string {
	switch {
	case earlier.Hash == "":
		return "settings not recorded (annotated before zeroner recorded them)"
	case earlier.Backend != s.Backend:
		return fmt.Sprintf("backend %s; this run uses %s", earlier.Backend, s.Backend)
	case earlier.Models != s.Models:
		return fmt.Sprintf("model %s; this run uses %s", earlier.Models, s.Models)
	case earlier.Version != s.Version:
		return fmt.Sprintf("zeroner annotation version %s; this run uses %s", earlier.Version, s.Version)
	case earlier.Schema != s.Schema:
		return fmt.Sprintf("schema %s; this run's labels or definitions differ (%s)", earlier.Schema, s.Schema)
	case earlier.Reader != s.Reader:
		was, now := differing(earlier.Reader, s.Reader)
		return fmt.Sprintf("reader settings %s; this run uses %s", was, now)
	case earlier.Distill != s.Distill:
		return fmt.Sprintf("distill settings %q; this run uses %q", earlier.Distill, s.Distill)
	}
	return "other model settings (decoding, extractors or voting)"
}

// differing returns the words of x and of y that the other lacks.
func differing(x, y string) (string, string) {
	xs, ys := strings.Fields(x), strings.Fields(y)
	var dx, dy []string
	for _, w := range xs {
		if !slices.Contains(ys, w) {
			dx = append(dx, w)
		}
	}
	for _, w := range ys {
		if !slices.Contains(xs, w) {
			dy = append(dy, w)
		}
	}
	return strings.Join(dx, " "), strings.Join(dy, " ")
}
