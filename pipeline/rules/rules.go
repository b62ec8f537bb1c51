// Package rules is zeroner's built-in backend: SAM-NER's three stages done
// with hand-written rules and small lexicons, no model and no network. It is
// the default when no LLM is configured, and fast enough to annotate
// thousands of short documents per second per core.
//
// Discovery proposes capitalised names, acronyms, quoted titles, dated
// events and lexicon terms; mediation reads cue words, lexicons, name shape
// and context into an archetype; calibration matches that evidence against
// the schema's label names and definitions.
package rules

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Backend implements pipeline.Backend for one schema. It is safe for
// concurrent use.
type Backend struct {
	schema   *pipeline.Schema
	labels   []labelProf
	fallback int // index of the fallback label
	// wants[k]: the schema has a label named for kind k, so lower-case terms
	// and name endings of that kind are worth proposing.
	wants [numKinds]bool
	// narrowBonus: how far behind a narrower label may score and still win
	// over the label it narrows.
	narrowBonus float64
}

// New returns the rules backend for schema s.
func New(s *pipeline.Schema) *Backend {
	b := &Backend{schema: s, labels: profile(s), narrowBonus: 0.3}
	for i, l := range s.Labels {
		if l.Name == s.Fallback {
			b.fallback = i
		}
	}
	for k := kind(1); k < numKinds; k++ {
		head := kinds[k].desc[0]
		for _, p := range b.labels {
			if p.names[head] {
				b.wants[k] = true
			}
		}
	}
	return b
}

// Name implements pipeline.Backend.
func (b *Backend) Name() string { return "rules" }

// extractor is the name discovery puts in Mention.Extractors.
const extractor = "rules"

// Discover proposes entity spans, sorted by document then offset and
// non-overlapping within a document.
func (b *Backend) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	var res pipeline.Result
	for _, doc := range docs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d := newDoc(doc.Text)
		var offs *text.RuneOffsets
		cs := b.propose(d)
		res.Mentions = slices.Grow(res.Mentions, len(cs))
		for _, c := range cs {
			start, end := d.toks[c.i].Start, d.toks[c.j-1].End
			s := d.words[c.i]
			if c.j-c.i > 1 {
				if offs == nil {
					offs = text.NewRuneOffsets(doc.Text)
				}
				s = doc.Text[offs.Byte(start):offs.Byte(end)]
			}
			res.Mentions = append(res.Mentions, pipeline.Mention{
				DocID:      doc.ID,
				Start:      start,
				End:        end,
				Text:       s,
				Extractors: []string{extractor},
			})
		}
	}
	sortMentions(res.Mentions)
	return res, nil
}

// Mediate assigns each mention an archetype.
func (b *Backend) Mediate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	return b.each(ctx, docs, ms, "mediate", func(d *doc, i, j int, m *pipeline.Mention) {
		m.Archetype = b.classify(d, i, j).arch
	})
}

// Calibrate resolves each mention into a label of the schema with a score in
// [0, 1]. A mention without a valid archetype is mediated first.
func (b *Backend) Calibrate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	return b.each(ctx, docs, ms, "calibrate", func(d *doc, i, j int, m *pipeline.Mention) {
		li, score := b.choose(d, i, j, m.Archetype)
		if !m.Archetype.Valid() {
			m.Archetype = b.classify(d, i, j).arch
		}
		m.Label = b.labels[li].name
		m.Score = score
	})
}

// each runs f on a copy of every mention with its document's tokens. A
// mention whose document is missing or whose offsets fall outside the text
// becomes a failure.
func (b *Backend) each(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention, stage string,
	f func(d *doc, i, j int, m *pipeline.Mention)) (pipeline.Result, error) {
	texts := make(map[string]string, len(docs))
	for _, d := range docs {
		texts[d.ID] = d.Text
	}
	cache := docCache{}
	res := pipeline.Result{Mentions: make([]pipeline.Mention, 0, len(ms))}
	for n, m := range ms {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		s, ok := texts[m.DocID]
		if !ok {
			res.Failures = append(res.Failures, pipeline.Failure{DocID: m.DocID, Stage: stage,
				Reason: fmt.Sprintf("mention [%d,%d) of an unknown document", m.Start, m.End)})
			continue
		}
		d := cache.get(m.DocID, s)
		i, j := d.span(m.Start, m.End)
		if m.Start < 0 || m.End <= m.Start || i >= j {
			res.Failures = append(res.Failures, pipeline.Failure{DocID: m.DocID, Stage: stage,
				Reason: fmt.Sprintf("mention [%d,%d) covers no token", m.Start, m.End)})
			continue
		}
		// f works on the copy in place: a pointer to m would put every
		// mention on the heap.
		res.Mentions = append(res.Mentions, m)
		f(d, i, j, &res.Mentions[len(res.Mentions)-1])
	}
	return res, nil
}

// sortMentions orders mentions by document, then start, then end.
func sortMentions(ms []pipeline.Mention) {
	sort.SliceStable(ms, func(a, b int) bool {
		if ms[a].DocID != ms[b].DocID {
			return ms[a].DocID < ms[b].DocID
		}
		if ms[a].Start != ms[b].Start {
			return ms[a].Start < ms[b].Start
		}
		return ms[a].End < ms[b].End
	})
}
