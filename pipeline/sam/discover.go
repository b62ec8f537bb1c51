package sam

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// span is a code point range of one document of a stage call.
type span struct {
	doc        int
	start, end int
}

// ballot collects the voters of each span.
type ballot map[span]map[string]bool

func (v ballot) add(s span, voter string) {
	if v[s] == nil {
		v[s] = make(map[string]bool)
	}
	v[s][voter] = true
}

// Discover proposes entity spans: each extractor votes for spans, consensus
// keeps some and resolves overlaps. The mentions are sorted by document and
// offset and do not overlap within a document.
func (b *Backend) Discover(ctx context.Context, docs []pipeline.Document) (pipeline.Result, error) {
	var res pipeline.Result
	ds := make([]doc, len(docs))
	var ps []passage
	for i, d := range docs {
		ds[i] = newDoc(d.Text)
		for _, sp := range discoverSpans(ds[i], b.opt.ChunkTokens, b.opt.ChunkOverlap) {
			ps = append(ps, passage{doc: i, start: sp.Start, end: sp.End, text: ds[i].slice(sp)})
		}
	}
	groups := pack(len(ps), func(i int) int { return estTokens(ps[i].text) }, nil, b.opt.RequestTokens, b.opt.PassagesPerRequest, 0)

	var calls []call
	for _, kind := range []string{KindAnchor, KindExplorer} {
		if !slices.Contains(b.voters, kind) {
			continue
		}
		for _, g := range groups {
			calls = append(calls, b.discoverCall(kind, g, &ps, ds))
		}
	}
	calls, outs := b.ask(ctx, calls)
	status, err := b.settle(ctx, "discover", calls, outs, ps, docs, &res, false)
	if err != nil {
		return pipeline.Result{}, err
	}

	votes := make(ballot)
	for i, c := range calls {
		if status[i] != answered {
			continue
		}
		found, probs, err := parseDiscover(outs[i].ans.Content, c.kind, len(c.group), b.labels)
		if err != nil { // the client validated it, so this is a client bug
			return pipeline.Result{}, fmt.Errorf("sam: %s answer that validated does not parse: %w", c.kind, err)
		}
		b.problems(c.kind, probs)
		for k, fs := range found {
			p := ps[c.group[k-1]]
			for _, f := range fs {
				for _, sp := range b.align(p, f, c.kind) {
					votes.add(span{p.doc, sp.Start, sp.End}, c.kind)
				}
			}
		}
	}
	if b.rules != nil {
		rr, err := b.rules.Discover(ctx, docs)
		if err != nil {
			return pipeline.Result{}, err
		}
		at := make(map[string]int, len(docs))
		for i, d := range docs {
			at[d.ID] = i
		}
		for _, m := range rr.Mentions {
			votes.add(span{at[m.DocID], m.Start, m.End}, Rules)
		}
	}
	for i, d := range ds {
		if err := ctx.Err(); err != nil {
			return pipeline.Result{}, err
		}
		for _, g := range b.gaz {
			for _, sp := range text.Find(d.text, g) {
				votes.add(span{i, sp.Start, sp.End}, Gazetteer)
			}
		}
	}
	res.Mentions = b.consensus(votes, docs, ds)
	if err := pipeline.CheckMentions(docs, res.Mentions); err != nil {
		return pipeline.Result{}, fmt.Errorf("sam: discover: %w", err)
	}
	return res, nil
}

// discoverCall asks an extractor about a group of passages. If the answer
// is cut off, the group is split in halves, and a single passage of
// several sentences into two passages at a sentence boundary (appended to
// *ps).
func (b *Backend) discoverCall(kind string, group []int, ps *[]passage, ds []doc) call {
	in := make([]passageIn, len(group))
	tokens := 0
	for k, pi := range group {
		in[k] = passageIn{ID: k + 1, Text: (*ps)[pi].text}
		tokens += estTokens((*ps)[pi].text)
	}
	model, schema := b.opt.Anchor, anchorSchema(b.schema.Names(), len(group))
	if kind == KindExplorer {
		model, schema = b.opt.Explorer, explorerSchema(len(group))
	}
	return call{
		kind: kind,
		prompt: pipeline.Prompt{
			Model:      model,
			System:     b.system[kind],
			User:       discoverUser(in),
			Schema:     schema,
			SchemaName: SchemaName(kind),
			MaxTokens:  answerTokens(kind, tokens, len(group), 0),
		},
		valid: func(content string) error {
			_, _, err := parseDiscover(content, kind, len(group), b.labels)
			return err
		},
		group: group,
		split: func() []call {
			if len(group) > 1 {
				h := len(group) / 2
				return []call{b.discoverCall(kind, group[:h], ps, ds), b.discoverCall(kind, group[h:], ps, ds)}
			}
			p := (*ps)[group[0]]
			halves := halve(ds[p.doc], text.Span{Start: p.start, End: p.end})
			if halves == nil {
				return nil
			}
			var out []call
			for _, h := range halves {
				*ps = append(*ps, passage{doc: p.doc, start: h.Start, end: h.End, text: ds[p.doc].slice(h)})
				out = append(out, b.discoverCall(kind, []int{len(*ps) - 1}, ps, ds))
			}
			return out
		},
	}
}

// align puts a mention string on its passage and returns its spans in
// document offsets: every word-boundary occurrence, or the one asked for.
// A string that is not in the passage as written is looked for ignoring
// white space around punctuation and quote style (text.FindLoose); the
// offsets always come from the passage.
func (b *Backend) align(p passage, f found, extractor string) []text.Span {
	s := strings.TrimSpace(f.Text)
	occ := text.Find(p.text, s)
	if len(occ) == 0 {
		if occ = text.FindLoose(p.text, s); len(occ) > 0 {
			b.count(func(st *Stats) { st.Loose++ })
		}
	}
	if len(occ) == 0 {
		b.count(func(st *Stats) {
			st.Unaligned++
			if len(st.UnalignedExamples) < maxExamples {
				st.UnalignedExamples = append(st.UnalignedExamples, fmt.Sprintf("%s: %q", extractor, s))
			}
		})
		return nil
	}
	if f.Occ > 0 {
		if f.Occ <= len(occ) {
			occ = occ[f.Occ-1 : f.Occ]
		} else {
			b.count(func(st *Stats) { st.BadOccurrence++ })
		}
	}
	out := make([]text.Span, len(occ))
	for i, o := range occ {
		out[i] = text.Span{Start: p.start + o.Start, End: p.start + o.End}
	}
	return out
}

// consensus keeps the spans that enough voters agree on and resolves
// overlaps: more votes first, then the longer span, then the earlier.
func (b *Backend) consensus(votes ballot, docs []pipeline.Document, ds []doc) []pipeline.Mention {
	type cand struct {
		span
		n int
	}
	byDoc := make(map[int][]cand)
	for sp, vs := range votes {
		if b.keep(sp, vs, ds[sp.doc]) {
			byDoc[sp.doc] = append(byDoc[sp.doc], cand{sp, len(vs)})
		}
	}
	var out []pipeline.Mention
	for di, cs := range byDoc {
		slices.SortFunc(cs, func(x, y cand) int {
			switch {
			case x.n != y.n:
				return y.n - x.n
			case x.end-x.start != y.end-y.start:
				return (y.end - y.start) - (x.end - x.start)
			case x.start != y.start:
				return x.start - y.start
			}
			return x.end - y.end
		})
		var kept []cand // sorted by start, disjoint
		for _, c := range cs {
			k, _ := slices.BinarySearchFunc(kept, c.start, func(e cand, s int) int { return e.start - s })
			if (k > 0 && kept[k-1].end > c.start) || (k < len(kept) && kept[k].start < c.end) {
				continue
			}
			kept = slices.Insert(kept, k, c)
		}
		for _, c := range kept {
			voters := make([]string, 0, len(votes[c.span]))
			for v := range votes[c.span] {
				voters = append(voters, v)
			}
			slices.Sort(voters)
			out = append(out, pipeline.Mention{
				DocID:      docs[di].ID,
				Start:      c.start,
				End:        c.end,
				Text:       ds[di].slice(text.Span{Start: c.start, End: c.end}),
				Extractors: voters,
			})
		}
	}
	sortMentions(out)
	return out
}

// keep decides a span: MinVotes voters, or the paper's rule (every anchor
// span; an explorer span only if it has white space inside).
func (b *Backend) keep(sp span, vs map[string]bool, d doc) bool {
	if len(vs) >= b.opt.MinVotes {
		return true
	}
	if b.opt.NoSingleWordRule {
		return false
	}
	if vs[Anchor] {
		return true
	}
	return vs[Explorer] && strings.ContainsFunc(d.slice(text.Span{Start: sp.start, End: sp.end}), unicode.IsSpace)
}

// sortMentions orders mentions by document, then start, then end.
func sortMentions(ms []pipeline.Mention) {
	slices.SortStableFunc(ms, func(a, b pipeline.Mention) int {
		switch {
		case a.DocID != b.DocID:
			return strings.Compare(a.DocID, b.DocID)
		case a.Start != b.Start:
			return a.Start - b.Start
		}
		return a.End - b.End
	})
}
