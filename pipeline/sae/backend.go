package sae

import (
	"context"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Extractor is the name the tagger puts in Mention.Extractors.
const Extractor = "sae"

// Backend adapts a Tagger to pipeline.Backend, so the annotation job can run
// it: Discover tags and labels spans at once, with the schema's archetypes;
// Mediate and Calibrate keep them. It is safe for concurrent use if its
// source is.
type Backend struct {
	pipeline.Tagged
	t *Tagger
}

// NewBackend returns the "sae" backend; schema (may be nil) gives the
// labels' archetypes.
func NewBackend(t *Tagger, schema *pipeline.Schema) *Backend {
	return &Backend{Tagged: pipeline.Tagged{Schema: schema, Extractor: Extractor}, t: t}
}

// Name implements pipeline.Backend.
func (b *Backend) Name() string { return Extractor }

// Discover implements pipeline.Discoverer: the tagged spans, labelled.
func (b *Backend) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.Text
	}
	spans, scores, err := b.t.Tag(ctx, texts)
	if err != nil {
		return pipeline.Result{}, err
	}
	var res pipeline.Result
	for i, d := range docs {
		if len(spans[i]) == 0 {
			continue
		}
		offs := text.NewRuneOffsets(d.Text)
		for j, s := range spans[i] {
			res.Mentions = append(res.Mentions, b.Mention(d, offs, s.Start, s.End, s.Label, scores[i][j]))
		}
	}
	return res, nil
}

var _ pipeline.Backend = (*Backend)(nil)
