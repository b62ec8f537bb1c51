package activities

import "fmt"

// Students: what learns from the sample a distill run's backend (the
// teacher) annotated, and tags every other shard.
const (
	// StudentPerceptron is pipeline/student: an averaged perceptron
	// sequence tagger over hashed features and the rules backend's
	// lexicons, stored as student/model.bin.
	StudentPerceptron = "perceptron"
	// StudentMap is SAE-NER's feature -> type map (pipeline/sae), stored
	// as sae/map.parquet.
	StudentMap = "map"
)

// Students lists the students, the default first.
func Students() []string { return []string{StudentPerceptron, StudentMap} }

// Sample says which shards of a distill run the configured backend annotates
// (every Every-th from Start on: a systematic sample, which gives each
// stretch of the corpus, and so each object, its share), which of those are
// held out from training to measure agreement (every HoldoutEvery-th
// sampled shard; 0: none), and which student learns from the others.
type Sample struct {
	Shards       int `json:"shards"`
	Every        int `json:"every"`
	Start        int `json:"start,omitempty"` // below Every
	HoldoutEvery int `json:"holdout_every"`
	// Student is StudentPerceptron or StudentMap; "" is the map, as in
	// distill runs from before there was a choice.
	Student string `json:"student,omitempty"`
}

// Sampled reports whether shard is annotated by the configured backend.
func (s Sample) Sampled(shard int) bool {
	return s.Every > 0 && shard >= s.Start && (shard-s.Start)%s.Every == 0
}

// Holdout reports whether a sampled shard is held out from training.
func (s Sample) Holdout(shard int) bool {
	return s.Sampled(shard) && s.HoldoutEvery > 0 && ((shard-s.Start)/s.Every)%s.HoldoutEvery == s.HoldoutEvery-1
}

// StudentName returns the sample's student, StudentMap for "".
func (s Sample) StudentName() string { return studentName(s.Student) }

func studentName(s string) string {
	if s == "" {
		return StudentMap
	}
	return s
}

// CheckStudent returns an error for a student that is not one of Students.
func CheckStudent(name string) error {
	for _, s := range Students() {
		if name == s {
			return nil
		}
	}
	return fmt.Errorf("unknown student %q (want perceptron or map)", name)
}

// TagTask is a shard for the distill run's student to tag.
type TagTask struct {
	ShardTask
	Student string `json:"student,omitempty"` // as Sample.Student
}

// StudentName returns the task's student, StudentMap for "".
func (t TagTask) StudentName() string { return studentName(t.Student) }

// EstimateStats describes a trained student.
type EstimateStats struct {
	Student string `json:"student,omitempty"`
	Docs    int    `json:"docs"`    // sample documents it learnt from
	Entries int    `json:"entries"` // the map: rows of the feature -> type table
	// The perceptron: its non-zero weights and its artefact's size.
	Weights int `json:"weights,omitempty"`
	Bytes   int `json:"bytes,omitempty"`
}

// Agreement is how the student agrees with the configured backend on the
// held-out sample: F1 in percent, the backend's mentions taken as gold.
type Agreement struct {
	Docs     int     `json:"docs"`
	StrictF1 float64 `json:"strict_f1"`
	SpanF1   float64 `json:"span_f1"`
	// StrictCI and SpanCI are 95% confidence intervals of the F1s, by a
	// seeded bootstrap over the held-out documents (pipeline/eval's
	// BootstrapF1). They take documents as independent, which those of a
	// few shards are not quite: read them as a lower bound of the
	// uncertainty.
	StrictCI *Interval `json:"strict_f1_ci,omitempty"`
	SpanCI   *Interval `json:"span_f1_ci,omitempty"`
}

// Interval is a confidence interval of a score, in percent.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}
