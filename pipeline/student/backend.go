package student

import (
	"context"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Extractor is the name the student puts in Mention.Extractors.
const Extractor = "student"

// Backend adapts a model to pipeline.Backend, so that the annotation job
// can run it: Discover tags and labels spans at once, with the schema's
// archetypes; Mediate and Calibrate keep them. It is safe for concurrent
// use.
type Backend struct {
	pipeline.Tagged
	m *Model
}

// NewBackend returns the "student" backend of m; schema (may be nil) gives
// the labels' archetypes.
func NewBackend(m *Model, schema *pipeline.Schema) *Backend {
	return &Backend{Tagged: pipeline.Tagged{Schema: schema, Extractor: Extractor}, m: m}
}

// Name implements pipeline.Backend.
func (b *Backend) Name() string { return Extractor }

// Discover implements pipeline.Discoverer: the tagged spans, labelled.
func (b *Backend) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	tg := b.m.Tagger() // one per call: calls may run at once
	var res pipeline.Result
	for i, d := range docs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return pipeline.Result{}, err
			}
		}
		spans, scores := tg.Tag(d.Text)
		if len(spans) == 0 {
			continue
		}
		offs := text.NewRuneOffsets(d.Text)
		for j, s := range spans {
			res.Mentions = append(res.Mentions, b.Mention(d, offs, s.Start, s.End, s.Label, scores[j]))
		}
	}
	return res, nil
}

var _ pipeline.Backend = (*Backend)(nil)
