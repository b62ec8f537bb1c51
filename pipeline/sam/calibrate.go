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

// Calibrate gives each mention a label of the schema.
//
// Whole-schema calibration (the default) asks about every mention, with
// every label allowed: the mention's archetype and the archetypes the label
// map ties to each label are given as hints, so the calibrator can repair
// an archetype error. Narrowed calibration offers only those labels and the fallback; a
// mention with the fallback as its only candidate gets it without a
// request, with score 1. Either way a mention that no answer decides, or
// whose request failed, gets the fallback with score 0, and a mention
// without a valid archetype leaves as misc.
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

	whole := b.opt.Calibration == CalibrateWhole
	system := calibrateSystem(b.schema, whole, compat)
	names := b.schema.Names()
	cands := make([][]string, len(p.ms)) // narrowed: each mention's candidates
	var todo []int
	for i := range p.ms {
		m := &p.ms[i]
		a := m.Archetype
		if !a.Valid() {
			m.Archetype = pipeline.Misc
		}
		m.Label, m.Score = b.fallback, 0
		if !whole {
			if cands[i] = b.candidates(compat, a); len(cands[i]) == 1 {
				m.Score = 1
				continue
			}
		}
		todo = append(todo, i)
	}
	allowed := func(mi int) []string {
		if whole {
			return names
		}
		return cands[mi]
	}
	st := mentionStage{name: "calibrate"}
	st.request = func(mis []int, note string) call { return b.calibrateCall(&p, mis, note, system, cands, st.request) }
	st.answer = func(c call, ans pipeline.Answer) (map[int]decision, []string, error) {
		items, probs, err := parseItems(ans.Content, "label")
		if err != nil {
			return nil, nil, fmt.Errorf("sam: calibrate answer that validated does not parse: %w", err)
		}
		got, more := resolveItems(items, p.texts(c.mis), func(k int, v string) (string, error) {
			return labelAmong(v, allowed(c.mis[k]))
		})
		ranges := labelRanges(ans.Content)
		out := make(map[int]decision, len(got))
		for k, r := range got {
			out[c.mis[k-1]] = decision{value: r.value, score: b.score(ans, ranges[r.pos])}
		}
		return out, append(probs, more...), nil
	}
	got, err := b.decide(ctx, st, &p, docs, &res, todo)
	if err != nil {
		return pipeline.Result{}, err
	}
	for mi, d := range got {
		p.ms[mi].Label, p.ms[mi].Score = d.value, d.score
	}
	res.Mentions = p.ms
	sortMentions(res.Mentions)
	return res, nil
}

// calibrateCall asks for the labels of mentions mis (cands are the
// candidates of narrowed calibration), with a follow-up's note; again
// builds its halves.
func (b *Backend) calibrateCall(p *prepared, mis []int, note, system string, cands [][]string, again func(mis []int, note string) call) call {
	whole := b.opt.Calibration == CalibrateWhole
	in, group, echo := p.passagesOf(mis, func(m *mentionIn, mi int) {
		m.Archetype = string(p.ms[mi].Archetype)
		m.Candidates = cands[mi] // nil for whole-schema calibration
	})
	labels := b.schema.Names()
	if !whole {
		asked := make([][]string, len(mis))
		for k, mi := range mis {
			asked[k] = cands[mi]
		}
		labels = b.labelsAmong(asked)
	}
	return call{
		kind: KindCalibrate,
		prompt: pipeline.Prompt{
			Model:      b.opt.Calibrate,
			System:     system,
			User:       calibrateUser(b.schema, note, in, whole),
			Schema:     mentionsSchema(len(mis), "label", labels),
			SchemaName: SchemaName(KindCalibrate),
			LogProbs:   b.opt.LogProbs,
			MaxTokens:  answerTokens(KindCalibrate, echo, len(group), len(mis)),
		},
		valid: func(content string) error {
			_, _, err := parseItems(content, "label")
			return err
		},
		group: group,
		mis:   mis,
		split: func() []call { return halves(mis, note, again) },
	}
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

// score is the probability of a label's value (byte range r of the answer)
// from the answer's token log probabilities, or 1 when there are none (or
// they do not spell the answer, so no token can be placed).
func (b *Backend) score(ans pipeline.Answer, r [2]int) float64 {
	if !b.opt.LogProbs || len(ans.LogProbs) == 0 || r[1] <= r[0] {
		return 1
	}
	pos, sum, hit := 0, 0.0, false
	for _, t := range ans.LogProbs {
		end := pos + len(t.Token)
		if end > len(ans.Content) || ans.Content[pos:end] != t.Token {
			return 1
		}
		if pos < r[1] && end > r[0] {
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
