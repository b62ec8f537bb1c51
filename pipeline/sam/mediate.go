package sam

import (
	"context"
	"fmt"
	"slices"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// prepared holds a stage call's mentions in their context passages.
type prepared struct {
	ds        []doc
	ms        []pipeline.Mention // valid mentions, copied, by document then start
	mdoc      []int              // document index of each mention
	ps        []passage
	byPassage [][]int // mentions of each passage, in order
}

// prepare checks the mentions (one outside its document becomes a Failure
// and is dropped) and cuts their documents into context passages.
func (b *Backend) prepare(stage string, docs []pipeline.Document, in []pipeline.Mention, res *pipeline.Result) prepared {
	at := make(map[string]int, len(docs))
	for i, d := range docs {
		at[d.ID] = i
	}
	p := prepared{ds: make([]doc, len(docs))}
	loaded := make([]bool, len(docs))
	type item struct {
		m   pipeline.Mention
		doc int
	}
	var items []item
	for _, m := range in {
		di, ok := at[m.DocID]
		if !ok {
			res.Failures = append(res.Failures, pipeline.Failure{DocID: m.DocID, Stage: stage,
				Reason: fmt.Sprintf("mention [%d,%d) of an unknown document", m.Start, m.End)})
			continue
		}
		if !loaded[di] {
			p.ds[di], loaded[di] = newDoc(docs[di].Text), true
		}
		d := p.ds[di]
		if m.Start < 0 || m.End <= m.Start || m.End > d.offs.Len() || d.slice(text.Span{Start: m.Start, End: m.End}) != m.Text {
			res.Failures = append(res.Failures, pipeline.Failure{DocID: m.DocID, Stage: stage,
				Reason: fmt.Sprintf("mention %q at [%d,%d) does not match the document's text", m.Text, m.Start, m.End)})
			continue
		}
		m.Extractors = slices.Clone(m.Extractors)
		items = append(items, item{m, di})
	}
	slices.SortStableFunc(items, func(x, y item) int {
		if x.doc != y.doc {
			return x.doc - y.doc
		}
		if x.m.Start != y.m.Start {
			return x.m.Start - y.m.Start
		}
		return x.m.End - y.m.End
	})
	for i := 0; i < len(items); {
		di := items[i].doc
		j := i
		for j < len(items) && items[j].doc == di {
			j++
		}
		spans := make([]text.Span, j-i)
		for k := i; k < j; k++ {
			spans[k-i] = text.Span{Start: items[k].m.Start, End: items[k].m.End}
		}
		cs, where := contextSpans(p.ds[di], spans, b.opt.ChunkTokens)
		base := len(p.ps)
		for _, c := range cs {
			p.ps = append(p.ps, passage{doc: di, start: c.Start, end: c.End, text: p.ds[di].slice(c)})
			p.byPassage = append(p.byPassage, nil)
		}
		for k := i; k < j; k++ {
			pi := base + where[k-i]
			p.byPassage[pi] = append(p.byPassage[pi], len(p.ms))
			p.ms = append(p.ms, items[k].m)
			p.mdoc = append(p.mdoc, di)
		}
		i = j
	}
	return p
}

// mentionIn describes mention mi of passage pi for a prompt; the
// occurrence is given when its string occurs more than once there.
func (p *prepared) mentionIn(id, pi, mi int) mentionIn {
	ps, m := p.ps[pi], p.ms[mi]
	in := mentionIn{ID: id, Text: m.Text}
	occ := text.Find(ps.text, m.Text)
	if len(occ) > 1 {
		for k, o := range occ {
			if ps.start+o.Start == m.Start && ps.start+o.End == m.End {
				in.Occurrence = k + 1
			}
		}
	}
	return in
}

// Mediate gives each mention one of the archetypes. A mention the model
// leaves out, or whose request failed, becomes misc.
func (b *Backend) Mediate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	var res pipeline.Result
	p := b.prepare("mediate", docs, ms, &res)
	for i := range p.ms {
		p.ms[i].Archetype = pipeline.Misc
	}
	cost := func(i int) int { return estTokens(p.ps[i].text) + 8*len(p.byPassage[i]) }
	groups := pack(len(p.ps), cost, b.opt.RequestTokens, b.opt.PassagesPerRequest)
	calls := make([]call, len(groups))
	ids := make([][]int, len(groups)) // mention index of each id-1
	for gi, g := range groups {
		var in []mentionPassageIn
		for _, pi := range g {
			mp := mentionPassageIn{Text: p.ps[pi].text, Mentions: []mentionIn{}}
			for _, mi := range p.byPassage[pi] {
				ids[gi] = append(ids[gi], mi)
				mp.Mentions = append(mp.Mentions, p.mentionIn(len(ids[gi]), pi, mi))
			}
			in = append(in, mp)
		}
		n := len(ids[gi])
		calls[gi] = call{
			kind: KindMediate,
			prompt: pipeline.Prompt{
				Model:      b.opt.Mediate,
				System:     b.system[KindMediate],
				User:       mediateUser(in),
				Schema:     mediateSchema(n),
				SchemaName: SchemaName(KindMediate),
			},
			valid: func(content string) error {
				_, err := parseMediate(content, n)
				return err
			},
			group: g,
		}
	}
	outs := b.ask(ctx, calls)
	ok, err := b.settle(ctx, "mediate", calls, outs, p.ps, docs, &res)
	if err != nil {
		return pipeline.Result{}, err
	}
	omitted := 0
	for gi := range calls {
		if !ok[gi] {
			continue
		}
		got, err := parseMediate(outs[gi].ans.Content, len(ids[gi]))
		if err != nil {
			return pipeline.Result{}, fmt.Errorf("sam: mediate answer that validated does not parse: %w", err)
		}
		for k, mi := range ids[gi] {
			if a, ok := got[k+1]; ok {
				p.ms[mi].Archetype = a
			} else {
				omitted++
			}
		}
	}
	b.count(func(s *Stats) { s.Omitted += int64(omitted) })
	res.Mentions = p.ms
	sortMentions(res.Mentions)
	return res, nil
}
