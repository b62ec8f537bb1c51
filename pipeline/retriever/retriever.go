// Package retriever is NER Retriever (METHODS.md §2): documents are found by
// the entity types they mention, with no schema fixed in advance. Every
// mention of a run becomes a vector that carries its type; a free-text type
// description becomes a vector of the same space; retrieval is nearest
// neighbours between the two. An encoder makes the raw vectors, a small
// projection head trained on a run's own silver labels makes them
// type-aware, and package vecindex searches them.
//
// This package holds the method's core, all plain Go: Mark, the template
// that shows an embeddings endpoint where a mention is; Local, a built-in
// encoder of hashed features that needs no model; Head, the projection
// head, with Triplets to sample its training data from silver labels;
// DistinctDocs, which turns mention hits into documents; and, to evaluate,
// the BM25 baseline, RPrecision and MacroAverage.
package retriever

import "context"

// Mention is an entity mention in its text, as an encoder sees it. Start and
// End are code point offsets into Text, half-open, as in pipeline.Mention.
type Mention struct {
	Text       string
	Start, End int
}

// Encoder turns mentions in their context, and type descriptions, into
// vectors of one space. Implementations are safe for concurrent use.
type Encoder interface {
	// Name identifies the encoder and every setting that changes its
	// vectors; an index records it, so a search can refuse a mismatch.
	Name() string
	// Dim is the length of every vector.
	Dim() int
	// Mentions returns one vector per mention, in order.
	Mentions(ctx context.Context, ms []Mention) ([][]float32, error)
	// Queries returns one vector per type description, in order.
	Queries(ctx context.Context, descs []string) ([][]float32, error)
}
