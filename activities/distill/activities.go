// Package distill holds the activities of distillation: train a student
// (pipeline/student's perceptron, or SAE-NER's feature map) on the sample
// the teacher annotated, tag the rest of the corpus with it, and measure
// its agreement with the teacher on held-out shards.
package distill

import "github.com/zeroner/zeroner/internal/wire"

// Activities are the package's activities; register them with a worker.
type Activities struct{ deps *wire.Deps }

// New returns the activities over the shared dependencies.
func New(d *wire.Deps) *Activities { return &Activities{deps: d} }
