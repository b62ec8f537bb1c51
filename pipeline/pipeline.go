// Package pipeline holds zeroner's NER method as plain Go: the types that flow
// between stages and the three SAM-NER stages (discover, mediate, calibrate)
// as interfaces a backend implements. It knows nothing of Temporal or storage.
package pipeline

import "context"

// Document is one unit of text to annotate.
type Document struct {
	ID     string
	Text   string
	Source string // URI of the object it was read from
}

// Mention is a span of a document's text and what the stages learned about it.
// Start and End are Unicode code point offsets, half-open [Start, End), as
// Python's str slicing counts them.
type Mention struct {
	DocID      string
	Start, End int
	Text       string
	Archetype  Archetype // set by mediation
	Label      string    // set by calibration
	Score      float64   // confidence of Label in [0, 1]
	Extractors []string  // names of the extractors that proposed the span, sorted
}

// Failure records a piece of work a stage could not do (a document, or a chunk
// of one) and why. Failures are data, not errors: the run goes on.
type Failure struct {
	DocID  string
	Stage  string
	Reason string
}

// Result is what a stage returns for a batch of documents.
type Result struct {
	Mentions []Mention
	Failures []Failure
	// Usage is the stage's model usage per document ID (the token ledger);
	// a request that served several documents is shared among them in
	// proportion to their text. Empty for backends that use no model.
	Usage map[string]Usage
}

// Discoverer proposes entity spans (entity discovery). The returned mentions
// carry DocID, Start, End, Text and Extractors.
type Discoverer interface {
	Discover(ctx context.Context, docs []Document) (Result, error)
}

// Mediator assigns each mention one of the universal archetypes.
type Mediator interface {
	Mediate(ctx context.Context, docs []Document, ms []Mention) (Result, error)
}

// Calibrator resolves each mention's archetype into a label of the target
// schema, using the labels' definitions.
type Calibrator interface {
	Calibrate(ctx context.Context, docs []Document, ms []Mention) (Result, error)
}

// Backend is one implementation of the three stages for one schema.
type Backend interface {
	Name() string
	Discoverer
	Mediator
	Calibrator
}
