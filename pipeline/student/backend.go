package student

import (
	"context"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Extractor is the name the student puts in Mention.Extractors.
const Extractor = "student"

// Backend adapts a model to pipeline.Backend, so that the annotation job
// can run it: Discover tags and labels spans at once, Mediate sets nothing
// more, Calibrate keeps the labels. It is safe for concurrent use.
type Backend struct {
	m      *Model
	schema *pipeline.Schema
}

// NewBackend returns the "student" backend of m; schema (may be nil) gives
// the labels' archetypes.
func NewBackend(m *Model, schema *pipeline.Schema) *Backend { return &Backend{m: m, schema: schema} }

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
			res.Mentions = append(res.Mentions, pipeline.Mention{
				DocID: d.ID, Start: s.Start, End: s.End,
				Text:       d.Text[offs.Byte(s.Start):offs.Byte(s.End)],
				Archetype:  b.archetype(s.Label),
				Label:      s.Label,
				Score:      scores[j],
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
