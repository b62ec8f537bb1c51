package sam

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/zeroner/zeroner/pipeline"
)

// initCompat sets the label -> archetype map from the schema when every
// label but the fallback pins its archetypes, so no request is needed.
func (b *Backend) initCompat() {
	for _, l := range b.schema.Labels {
		if l.Name != b.fallback && len(l.Archetypes) == 0 {
			return
		}
	}
	b.compat = b.compatFrom(nil)
}

// compatFrom builds the map from the model's answer (label -> archetypes),
// with the schema's pinned archetypes first. A label the answer leaves out,
// or gives no archetype, fits every archetype: no label is ruled out
// without evidence.
func (b *Backend) compatFrom(ans map[string][]pipeline.Archetype) map[string]map[pipeline.Archetype]bool {
	out := make(map[string]map[pipeline.Archetype]bool)
	for _, l := range b.schema.Labels {
		as := l.Archetypes
		if len(as) == 0 {
			as = ans[l.Name]
		}
		if len(as) == 0 {
			as = pipeline.Archetypes
		}
		set := make(map[pipeline.Archetype]bool)
		for _, a := range as {
			set[a] = true
		}
		out[l.Name] = set
	}
	return out
}

// LabelArchetypes returns the label -> compatible archetypes map, asking
// the model once per Backend for the labels the schema does not pin. An
// answer that never validates makes every archetype compatible with every
// label (counted in Stats.LabelMapErrors); a transport error is returned
// and the next call asks again.
func (b *Backend) LabelArchetypes(ctx context.Context) (map[string][]pipeline.Archetype, error) {
	c, _, err := b.labelMap(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]pipeline.Archetype)
	for _, l := range b.schema.Labels {
		for _, a := range pipeline.Archetypes {
			if c[l.Name][a] {
				out[l.Name] = append(out[l.Name], a)
			}
		}
	}
	return out, nil
}

// labelMap returns the map and the usage of computing it in this call.
func (b *Backend) labelMap(ctx context.Context) (map[string]map[pipeline.Archetype]bool, pipeline.Usage, error) {
	b.mapMu.Lock()
	defer b.mapMu.Unlock()
	if b.compat != nil {
		return b.compat, pipeline.Usage{}, nil
	}
	var ask []pipeline.Label
	asked := make(map[string]bool)
	for _, l := range b.schema.Labels {
		if l.Name != b.fallback && len(l.Archetypes) == 0 {
			ask = append(ask, l)
			asked[l.Name] = true
		}
	}
	names := make([]string, len(ask))
	for i, l := range ask {
		names[i] = l.Name
	}
	p := pipeline.Prompt{
		Model:      b.opt.Map,
		System:     b.system[KindLabelMap],
		User:       labelMapUser(ask),
		Schema:     labelMapSchema(names),
		SchemaName: SchemaName(KindLabelMap),
	}
	ans, err := b.llm.Ask(ctx, p, func(content string) error {
		_, err := parseLabelMap(content, asked)
		return err
	})
	b.count(func(s *Stats) { s.Requests++ })
	switch {
	case ctx.Err() != nil:
		return nil, ans.Usage, ctx.Err()
	case errors.Is(err, pipeline.ErrUnanswered):
		// Without the map every candidate list would be wrong; the stage
		// waits for the map's answer (the next batch round) instead.
		return nil, ans.Usage, fmt.Errorf("sam: label -> archetype map: %w", err)
	case errors.Is(err, pipeline.ErrInvalidAnswer):
		b.count(func(s *Stats) { s.LabelMapErrors++ })
		b.compat = b.compatFrom(nil)
		return b.compat, ans.Usage, nil
	case err != nil:
		b.count(func(s *Stats) { s.Transport++ })
		return nil, ans.Usage, fmt.Errorf("sam: label -> archetype map: %w", err)
	}
	m, err := parseLabelMap(ans.Content, asked)
	if err != nil {
		return nil, ans.Usage, fmt.Errorf("sam: label map answer that validated does not parse: %w", err)
	}
	b.compat = b.compatFrom(m)
	return b.compat, ans.Usage, nil
}

// candidates lists the labels compatible with archetype a, in schema order,
// then the fallback. An invalid archetype fits every label.
func (b *Backend) candidates(compat map[string]map[pipeline.Archetype]bool, a pipeline.Archetype) []string {
	var out []string
	for _, l := range b.schema.Labels {
		if l.Name != b.fallback && (!a.Valid() || compat[l.Name][a]) {
			out = append(out, l.Name)
		}
	}
	return append(out, b.fallback)
}

// Calibrate gives each mention a label of the schema among its candidates:
// the labels compatible with its archetype and the fallback. A mention with
// the fallback as its only candidate gets it without a request, with score
// 1. A mention the model leaves out, or whose request failed, gets the
// fallback with score 0. A mention without a valid archetype may take any
// label and leaves as misc.
//
// Score: with Options.LogProbs and token log probabilities in the answer,
// the probability of the label's value, exp of the sum of the log
// probabilities of the tokens that overlap it in the answer; else 1 for a
// validated answer.
func (b *Backend) Calibrate(ctx context.Context, docs []pipeline.Document, ms []pipeline.Mention) (pipeline.Result, error) {
	var res pipeline.Result
	p := b.prepare("calibrate", docs, ms, &res)
	if len(p.ms) == 0 {
		return res, nil
	}
	compat, u, err := b.labelMap(ctx)
	if err != nil {
		return pipeline.Result{}, err
	}
	// The map's cost goes to this call's documents, by text length.
	b.book(&res, docs, docShares(&p), u)
	reqs := b.calibrateRequests(&p, b.initLabels(&p, compat))
	calls := make([]call, len(reqs))
	for i, r := range reqs {
		calls[i] = r.call
	}
	outs := b.ask(ctx, calls)
	ok, err := b.settle(ctx, "calibrate", calls, outs, p.ps, docs, &res)
	if err != nil {
		return pipeline.Result{}, err
	}
	omitted := 0
	for i, r := range reqs {
		if !ok[i] {
			continue
		}
		n, err := b.applyLabels(&p, r, outs[i].ans)
		if err != nil {
			return pipeline.Result{}, err
		}
		omitted += n
	}
	b.count(func(s *Stats) { s.Omitted += int64(omitted) })
	res.Mentions = p.ms
	sortMentions(res.Mentions)
	return res, nil
}

// docShares shares a cost among the documents of p's mentions, by text
// length.
func docShares(p *prepared) []share {
	var shares []share
	seen := make(map[int]bool)
	for _, di := range p.mdoc {
		if !seen[di] {
			seen[di] = true
			shares = append(shares, share{doc: di, weight: p.ds[di].offs.Len()})
		}
	}
	return shares
}

// initLabels returns each mention's candidate labels and gives it the
// fallback until an answer says otherwise: with score 1 when the fallback
// is its only candidate, else 0. A mention without a valid archetype
// becomes misc.
func (b *Backend) initLabels(p *prepared, compat map[string]map[pipeline.Archetype]bool) [][]string {
	cands := make([][]string, len(p.ms))
	for i := range p.ms {
		m := &p.ms[i]
		cands[i] = b.candidates(compat, m.Archetype)
		if !m.Archetype.Valid() {
			m.Archetype = pipeline.Misc
		}
		m.Label, m.Score = b.fallback, 1
		if len(cands[i]) > 1 {
			m.Score = 0 // until answered
		}
	}
	return cands
}

// calibrateRequest is one calibrate call and the mentions it asks about,
// in the order of their ids (1-based).
type calibrateRequest struct {
	call
	asked []askedMention
}

// askedMention is a mention in a calibrate request: its index among the
// prepared mentions and its candidate labels.
type askedMention struct {
	mi    int
	cands []string
}

// candidateLists lists the asked mentions' candidates, by id - 1.
func candidateLists(asked []askedMention) [][]string {
	out := make([][]string, len(asked))
	for k, m := range asked {
		out[k] = m.cands
	}
	return out
}

// calibrateRequests packs the passages with a mention that has a choice
// to make (more than one candidate) into requests.
func (b *Backend) calibrateRequests(p *prepared, cands [][]string) []calibrateRequest {
	var ask []int
	for pi, mis := range p.byPassage {
		for _, mi := range mis {
			if len(cands[mi]) > 1 {
				ask = append(ask, pi)
				break
			}
		}
	}
	cost := func(i int) int { return estTokens(p.ps[ask[i]].text) + 12*len(p.byPassage[ask[i]]) }
	var reqs []calibrateRequest
	for _, g := range pack(len(ask), cost, b.opt.RequestTokens, b.opt.PassagesPerRequest) {
		group := make([]int, len(g))
		for k, ai := range g {
			group[k] = ask[ai]
		}
		reqs = append(reqs, b.calibrateRequest(p, cands, group))
	}
	return reqs
}

// calibrateRequest asks for the labels of the mentions of a group of
// passages that have a choice to make.
func (b *Backend) calibrateRequest(p *prepared, cands [][]string, group []int) calibrateRequest {
	var in []mentionPassageIn
	var asked []askedMention
	for _, pi := range group {
		mp := mentionPassageIn{Text: p.ps[pi].text, Mentions: []mentionIn{}}
		for _, mi := range p.byPassage[pi] {
			if len(cands[mi]) < 2 {
				continue
			}
			asked = append(asked, askedMention{mi: mi, cands: cands[mi]})
			m := p.mentionIn(len(asked), pi, mi)
			m.Archetype, m.Candidates = string(p.ms[mi].Archetype), cands[mi]
			mp.Mentions = append(mp.Mentions, m)
		}
		in = append(in, mp)
	}
	mc := candidateLists(asked)
	return calibrateRequest{
		call: call{
			kind: KindCalibrate,
			prompt: pipeline.Prompt{
				Model:      b.opt.Calibrate,
				System:     b.system[KindCalibrate],
				User:       calibrateUser(b.schema, in),
				Schema:     calibrateSchema(len(asked), b.labelsAmong(mc)),
				SchemaName: SchemaName(KindCalibrate),
				LogProbs:   b.opt.LogProbs,
			},
			valid: func(content string) error {
				_, err := parseCalibrate(content, mc)
				return err
			},
			group: group,
		},
		asked: asked,
	}
}

// labelsAmong lists the schema's labels that are a candidate of some
// mention, in schema order.
func (b *Backend) labelsAmong(cands [][]string) []string {
	var out []string
	for _, l := range b.schema.Labels {
		for _, c := range cands {
			if slices.Contains(c, l.Name) {
				out = append(out, l.Name)
				break
			}
		}
	}
	return out
}

// applyLabels gives the request's mentions the labels of its validated
// answer and returns how many mentions the answer left out.
func (b *Backend) applyLabels(p *prepared, r calibrateRequest, ans pipeline.Answer) (int, error) {
	got, err := parseCalibrate(ans.Content, candidateLists(r.asked))
	if err != nil {
		return 0, fmt.Errorf("sam: calibrate answer that validated does not parse: %w", err)
	}
	omitted := 0
	for k, m := range r.asked {
		c, ok := got[k+1]
		if !ok {
			omitted++
			continue
		}
		p.ms[m.mi].Label = c.Label
		p.ms[m.mi].Score = b.score(ans, c)
	}
	return omitted, nil
}

// score is the probability of a label's value from the answer's token log
// probabilities, or 1 when there are none (or they do not spell the answer,
// so no token can be placed).
func (b *Backend) score(ans pipeline.Answer, c calibrated) float64 {
	if !b.opt.LogProbs || len(ans.LogProbs) == 0 || c.End <= c.Start {
		return 1
	}
	pos, sum, hit := 0, 0.0, false
	for _, t := range ans.LogProbs {
		end := pos + len(t.Token)
		if end > len(ans.Content) || ans.Content[pos:end] != t.Token {
			return 1
		}
		if pos < c.End && end > c.Start {
			sum += t.LogProb
			hit = true
		}
		pos = end
	}
	if !hit {
		return 1
	}
	return math.Min(1, math.Max(0, math.Exp(sum)))
}
