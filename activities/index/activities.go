// Package index holds NER Retriever's activities: build a run's index (plan,
// encode, train the projection head, project, finalize with the approximate
// index) and answer a batch of searches against it.
package index

import "github.com/zeroner/zeroner/internal/wire"

// Activities are the package's activities; register them with a worker.
type Activities struct{ deps *wire.Deps }

// New returns the activities over the shared dependencies.
func New(d *wire.Deps) *Activities { return &Activities{deps: d} }
