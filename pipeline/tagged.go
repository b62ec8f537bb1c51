package pipeline

import (
	"context"

	"github.com/zeroner/zeroner/pipeline/text"
)

// Tagged is the common part of a backend whose Discover labels spans in
// one pass (SAE-NER's map, the distilled student): Mediate and Calibrate
// keep what Discover set. A backend embeds it and implements Name and
// Discover.
type Tagged struct {
	Schema    *Schema // gives the labels' archetypes; may be nil
	Extractor string  // the name put in Mention.Extractors
}

// Mention returns the mention of d's code point span [start, end) with
// label: its archetype is the label's first in the schema, or misc.
func (t Tagged) Mention(d Document, offs *text.RuneOffsets, start, end int, label string, score float64) Mention {
	a := Misc
	if t.Schema != nil {
		if l := t.Schema.Label(label); l != nil && len(l.Archetypes) > 0 {
			a = l.Archetypes[0]
		}
	}
	return Mention{
		DocID: d.ID, Start: start, End: end,
		Text:       d.Text[offs.Byte(start):offs.Byte(end)],
		Archetype:  a,
		Label:      label,
		Score:      score,
		Extractors: []string{t.Extractor},
	}
}

// Mediate implements Mediator: Discover already set archetypes.
func (Tagged) Mediate(_ context.Context, _ []Document, ms []Mention) (Result, error) {
	return Result{Mentions: ms}, nil
}

// Calibrate implements Calibrator: Discover already set labels.
func (Tagged) Calibrate(_ context.Context, _ []Document, ms []Mention) (Result, error) {
	return Result{Mentions: ms}, nil
}
