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
	mpass     []int              // passage index of each mention
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
			p.mpass = append(p.mpass, pi)
		}
		i = j
	}
	return p
}

// Mediate gives each mention one of the archetypes. A mention that no
// answer decides, or whose request failed, becomes misc.
func (b *Backend) Mediate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	var res pipeline.Result
	p := b.prepare("mediate", docs, ms, &res)
	todo := make([]int, len(p.ms))
	for i := range p.ms {
		p.ms[i].Archetype = pipeline.Misc
		todo[i] = i
	}
	st := mentionStage{name: "mediate"}
	st.request = func(mis []int, note string) call { return b.mediateCall(&p, mis, note, st.request) }
	st.answer = func(c call, ans pipeline.Answer) (map[int]decision, []string, error) {
		items, probs, err := parseItems(ans.Content, "archetype")
		if err != nil {
			return nil, nil, fmt.Errorf("sam: mediate answer that validated does not parse: %w", err)
		}
		got, more := resolveItems(items, p.texts(c.mis), func(_ int, v string) (string, error) { return archetypeOf(v) })
		out := make(map[int]decision, len(got))
		for k, r := range got {
			out[c.mis[k-1]] = decision{value: r.value}
		}
		return out, append(probs, more...), nil
	}
	got, err := b.decide(ctx, st, &p, docs, &res, todo)
	if err != nil {
		return pipeline.Result{}, err
	}
	for mi, d := range got {
		p.ms[mi].Archetype = pipeline.Archetype(d.value)
	}
	res.Mentions = p.ms
	sortMentions(res.Mentions)
	return res, nil
}

// mediateCall asks for the archetypes of mentions mis, with a follow-up's
// note; again builds its halves.
func (b *Backend) mediateCall(p *prepared, mis []int, note string, again func(mis []int, note string) call) call {
	in, group, echo := p.passagesOf(mis, nil)
	return call{
		kind: KindMediate,
		prompt: pipeline.Prompt{
			Model:      b.opt.Mediate,
			System:     b.system[KindMediate],
			User:       mediateUser(note, in),
			Schema:     mentionsSchema(len(mis), "archetype", archetypeNames()),
			SchemaName: SchemaName(KindMediate),
			MaxTokens:  answerTokens(KindMediate, echo, len(group), len(mis)),
		},
		valid: func(content string) error {
			_, _, err := parseItems(content, "archetype")
			return err
		},
		group: group,
		mis:   mis,
		split: func() []call { return halves(mis, note, again) },
	}
}
