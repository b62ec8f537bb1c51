// Package metrics is what zeroner's activities count, as an interface: the
// worker serves it to Prometheus (package metrics/prom), tests and tools leave
// it out. It imports no metrics library, so the activities do not either.
package metrics

import "github.com/zeroner/zeroner/pipeline"

// Recorder counts what the activities did. Its methods are called from
// concurrent activities.
type Recorder interface {
	// Sharded counts a corpus cut into shards: shards and documents
	// written, objects or lines rejected.
	Sharded(shards int, docs, rejects int64)
	// Stage counts a stage's work on one shard: documents annotated,
	// mentions written, documents or chunks that failed, model usage.
	Stage(stage string, docs, mentions, failures int, u pipeline.Usage)
	// StageError counts a stage attempt that returned an error (Temporal
	// retries it).
	StageError(stage string)
}

// Nop records nothing.
type Nop struct{}

func (Nop) Sharded(int, int64, int64)                   {}
func (Nop) Stage(string, int, int, int, pipeline.Usage) {}
func (Nop) StageError(string)                           {}

// OrNop returns r, or Nop if r is nil.
func OrNop(r Recorder) Recorder {
	if r == nil {
		return Nop{}
	}
	return r
}
