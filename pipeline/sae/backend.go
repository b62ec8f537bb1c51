package sae

import (
	"context"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Extractor is the name the tagger puts in Mention.Extractors.
const Extractor = "sae"

// Backend adapts a Tagger to pipeline.Backend, so the annotation job can run
// it: Discover tags and labels spans at once, Mediate sets archetypes from
// the schema, Calibrate keeps the labels. It is safe for concurrent use if
// its source is.
type Backend struct {
	t      *Tagger
	schema *pipeline.Schema
}

// NewBackend returns the "sae" backend; schema (may be nil) gives the
// labels' archetypes.
func NewBackend(t *Tagger, schema *pipeline.Schema) *Backend { return &Backend{t: t, schema: schema} }

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
			res.Mentions = append(res.Mentions, pipeline.Mention{
				DocID: d.ID, Start: s.Start, End: s.End,
				Text:       d.Text[offs.Byte(s.Start):offs.Byte(s.End)],
				Archetype:  b.archetype(s.Label),
				Label:      s.Label,
				Score:      scores[i][j],
				Extractors: []string{Extractor},
			})
		}
	}
	return res, nil
}

func (b *Backend) archetype(label string) pipeline.Archetype {
	if b.schema != nil {
		if l := b.schema.Label(label); l != nil && len(l.Archetypes) > 0 {
			return l.Archetypes[0]
		}
	}
	return pipeline.Misc
}

// Mediate implements pipeline.Mediator: Discover already set archetypes.
func (b *Backend) Mediate(_ context.Context, _ []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	return pipeline.Result{Mentions: ms}, nil
}

// Calibrate implements pipeline.Calibrator: Discover already set labels.
func (b *Backend) Calibrate(_ context.Context, _ []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	return pipeline.Result{Mentions: ms}, nil
}

var _ pipeline.Backend = (*Backend)(nil)
