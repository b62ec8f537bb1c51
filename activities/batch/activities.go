// Package batch holds the activities that get a batch round's requests
// answered by a batch provider: the OpenAI Batch API, or a file exchange
// that someone (or something) answers.
package batch

import "github.com/zeroner/zeroner/internal/wire"

// Activities are the package's activities; register them with a worker.
type Activities struct{ deps *wire.Deps }

// New returns the activities over the shared dependencies.
func New(d *wire.Deps) *Activities { return &Activities{deps: d} }
