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
	return b.discover(ctx, docs, nil)
}

// discover is Discover; it keeps each document's tokens in cache, if not
// nil, for the later stages of the same pass.
func (b *Backend) discover(ctx context.Context, docs []pipeline.Document, cache docCache) (pipeline.Result, error) {
	var res pipeline.Result
	for _, doc := range docs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d := newDoc(doc.Text)
		if cache != nil {
			// The last document of an id wins, as in the later stages'
			// own lookup by id.
			cache[doc.ID] = d
		}
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
	return b.each(ctx, byText(docs), ms, "mediate", func(d *doc, i, j int, m *pipeline.Mention) {
		m.Archetype = b.classify(d, i, j).arch
	})
}

// Calibrate resolves each mention into a label of the schema with a score in
// [0, 1]. A mention without a valid archetype is mediated first.
func (b *Backend) Calibrate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	return b.each(ctx, byText(docs), ms, "calibrate", func(d *doc, i, j int, m *pipeline.Mention) {
		b.label(d, i, j, m, b.classify(d, i, j))
	})
}

// label sets a mediated mention's label and score from what classify read
// of it.
func (b *Backend) label(d *doc, i, j int, m *pipeline.Mention, wt what) {
	li, score := b.choose(d, i, j, m.Archetype, wt)
	if !m.Archetype.Valid() {
		m.Archetype = wt.arch
	}
	m.Label = b.labels[li].name
	m.Score = score
}

// AnnotateStages implements pipeline.Fused: each document is tokenised once
// for the three stages, and calibration reuses mediation's reading of each
// mention instead of classifying it again.
func (b *Backend) AnnotateStages(ctx context.Context, docs []pipeline.Document) (pipeline.Staged, error) {
	cache := make(docCache, len(docs))
	disc, err := b.discover(ctx, docs, cache)
	if err != nil {
		return pipeline.Staged{}, err
	}
	look := func(id string) (*doc, bool) {
		d, ok := cache[id]
		return d, ok
	}
	// Mediation's failures are the only ones: calibration reads the same
	// tokens and so accepts every mention mediation kept.
	cal := pipeline.Result{Mentions: make([]pipeline.Mention, 0, len(disc.Mentions))}
	med, err := b.each(ctx, look, disc.Mentions, "mediate", func(d *doc, i, j int, m *pipeline.Mention) {
		wt := b.classify(d, i, j)
		m.Archetype = wt.arch
		cal.Mentions = append(cal.Mentions, *m)
		b.label(d, i, j, &cal.Mentions[len(cal.Mentions)-1], wt)
	})
	if err != nil {
		return pipeline.Staged{}, err
	}
	return pipeline.Staged{Discover: disc, Mediate: med, Calibrate: cal}, nil
}

// byText looks documents up by id, tokenising each once per call. A
// document id given twice is the last one's text.
func byText(docs []pipeline.Document) func(id string) (*doc, bool) {
	texts := make(map[string]string, len(docs))
	for _, d := range docs {
		texts[d.ID] = d.Text
	}
	cache := docCache{}
	return func(id string) (*doc, bool) {
		s, ok := texts[id]
		if !ok {
			return nil, false
		}
		return cache.get(id, s), true
	}
}

// each runs f on a copy of every mention with its document's tokens. A
// mention whose document is missing or whose offsets fall outside the text
// becomes a failure.
func (b *Backend) each(ctx context.Context, look func(id string) (*doc, bool), ms []pipeline.Mention, stage string,
	f func(d *doc, i, j int, m *pipeline.Mention)) (pipeline.Result, error) {
	res := pipeline.Result{Mentions: make([]pipeline.Mention, 0, len(ms))}
	for n, m := range ms {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		d, ok := look(m.DocID)
		if !ok {
			res.Failures = append(res.Failures, pipeline.Failure{DocID: m.DocID, Stage: stage,
				Reason: fmt.Sprintf("mention [%d,%d) of an unknown document", m.Start, m.End)})
			continue
		}
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
