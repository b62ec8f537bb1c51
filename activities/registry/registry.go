// Package registry registers every activity of zeroner with a Temporal
// worker: those of the annotation job, batch providers, distillation and
// NER Retriever's index, over one set of shared dependencies.
package registry

import (
	"github.com/zeroner/zeroner/activities/annotate"
	"github.com/zeroner/zeroner/activities/batch"
	"github.com/zeroner/zeroner/activities/distill"
	"github.com/zeroner/zeroner/activities/index"
	"github.com/zeroner/zeroner/internal/wire"
)

// Registry is where activities are registered: a worker, or a test
// environment.
type Registry interface {
	RegisterActivity(a any)
}

// Register registers every activity over d.
func Register(r Registry, d *wire.Deps) {
	r.RegisterActivity(annotate.New(d))
	r.RegisterActivity(batch.New(d))
	r.RegisterActivity(distill.New(d))
	r.RegisterActivity(index.New(d))
}
