// Package distill holds the activities of distillation: estimate the SAE-NER
// feature map from the annotated sample, tag the rest of the corpus with it,
// and measure its agreement with the teacher on held-out shards.
package distill

import "github.com/zeroner/zeroner/internal/wire"

// Activities are the package's activities; register them with a worker.
type Activities struct{ deps *wire.Deps }

// New returns the activities over the shared dependencies.
func New(d *wire.Deps) *Activities { return &Activities{deps: d} }
