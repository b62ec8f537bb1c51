// Package eval scores predicted entity spans against gold spans, every way
// zero-shot NER papers report them. It is plain Go: no Temporal, no storage.
//
// The unit of scoring is a Doc: one sentence (or document) with its text and
// its gold and predicted spans, half-open [Start, End) in Unicode code points.
// Score computes, over a data set's docs:
//
//   - Strict: entity-level micro P/R/F1. A prediction is right when a gold
//     span has exactly its start, end and label. Matching is one to one: a
//     gold span is matched at most once, so a prediction repeated twice is
//     one true positive and one false positive. Nested and partially
//     overlapping spans are just different spans: a partial overlap is a
//     false positive and a false negative. TP counts matches, P = TP/pred,
//     R = TP/gold, F1 = 2PR/(P+R), each 0 when its denominator is 0 (so no
//     predictions and no gold scores 0, not 100). Summed over all docs
//     (micro), in percent.
//   - StrictNoMisc: Strict after removing every gold and predicted span whose
//     label is Options.Misc ("misc", case-insensitive), as UniNER and GNER
//     report CrossNER. A data set with no such label scores as Strict.
//   - Span: Strict with labels ignored (boundaries right, any label), so that
//     discovery errors (Span) can be told from typing errors (Span - Strict).
//   - SAMNER: SAM-NER's reference scorer. Per doc, the SET of (mention
//     string, label) pairs of the gold and of the predictions, the string
//     being the text the span covers; TP is the size of their intersection,
//     pred and gold the sizes of the sets, summed over docs. Offsets do not
//     matter and repeated mentions count once: predicting "Paris" once in a
//     sentence that mentions it twice earns full marks.
//   - Labels: Strict per label (a label's predictions against its gold).
//   - Confusion: gold label against predicted label over boundary-matched
//     pairs. Spans with the same boundaries are paired one to one, equal
//     labels first, so the matrix sums to Span.TP and its diagonal to
//     Strict.TP; unpaired gold spans count as Missed and unpaired
//     predictions as Spurious, per label.
//   - Errors: each prediction classified against the doc's gold spans as
//     correct, wrong label (same boundaries, other label), wrong boundary
//     (overlaps a gold span) or spurious (overlaps none), and the gold spans
//     no prediction overlaps. A diagnostic, not one to one: a repeated
//     correct prediction counts twice.
//
// Mean averages data sets' P, R and F1 with equal weight (macro over data
// sets), the way the field averages CrossNER's five domains; SAM-NER's
// "average" is the mean of its per-domain F1s, which is Mean's SAMNER.F1.
package eval

import (
	"fmt"
	"sort"
	"strings"
)

// Span is a labelled range of a doc's text in code points, half-open.
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Label string `json:"label"`
}

// Doc is one scoring unit: a sentence with its gold and predicted spans.
type Doc struct {
	ID   string
	Text string
	Gold []Span
	Pred []Span
}

// Options tune scoring.
type Options struct {
	// Misc is the catch-all label StrictNoMisc drops, compared
	// case-insensitively; default "misc".
	Misc string
}

// PRF is precision, recall and F1 (in percent) with the counts behind them.
type PRF struct {
	TP   int     `json:"tp"`
	Pred int     `json:"pred"`
	Gold int     `json:"gold"`
	P    float64 `json:"p"`
	R    float64 `json:"r"`
	F1   float64 `json:"f1"`
}

// LabelPRF is one label's strict scores.
type LabelPRF struct {
	Label string `json:"label"`
	PRF
}

// Confusion is gold label (rows) against predicted label (columns) over
// spans with the same boundaries.
type Confusion struct {
	Labels   []string `json:"labels"`   // every gold and predicted label, sorted
	Counts   [][]int  `json:"counts"`   // [gold][pred]
	Missed   []int    `json:"missed"`   // per gold label: no prediction with its boundaries
	Spurious []int    `json:"spurious"` // per predicted label: no gold span with its boundaries
}

// Errors classify predictions and gold spans; see the package doc.
type Errors struct {
	Correct  int `json:"correct"`
	Label    int `json:"wrong_label"`
	Boundary int `json:"wrong_boundary"`
	Spurious int `json:"spurious"`
	Missed   int `json:"missed"`
}

// Results are one data set's scores.
type Results struct {
	Name string `json:"name"`
	Docs int    `json:"documents"`
	// Failed counts the documents the job could not annotate; they are
	// scored as having no mentions (eval refuses to score them unless
	// told to).
	Failed       int        `json:"failed,omitempty"`
	Strict       PRF        `json:"strict"`
	StrictNoMisc PRF        `json:"strict_no_misc"`
	Span         PRF        `json:"span"`
	SAMNER       PRF        `json:"samner"`
	Labels       []LabelPRF `json:"labels"`
	Confusion    Confusion  `json:"confusion"`
	Errors       Errors     `json:"errors"`
}

// Score scores docs. It fails on a span outside its doc's text or empty,
// since neither can be a mention.
func Score(name string, docs []Doc, opt Options) (Results, error) {
	if opt.Misc == "" {
		opt.Misc = "misc"
	}
	r := Results{Name: name, Docs: len(docs)}
	labels := map[string]*PRF{}
	lab := func(l string) *PRF {
		if labels[l] == nil {
			labels[l] = &PRF{}
		}
		return labels[l]
	}
	pairs := map[[2]string]int{}
	missed, spurious := map[string]int{}, map[string]int{}
	for _, d := range docs {
		runes := []rune(d.Text)
		for _, set := range [][]Span{d.Gold, d.Pred} {
			for _, s := range set {
				if s.Start < 0 || s.End <= s.Start || s.End > len(runes) {
					return Results{}, fmt.Errorf("doc %q: span [%d, %d) %q outside its text of %d code points",
						d.ID, s.Start, s.End, s.Label, len(runes))
				}
			}
		}
		add(&r.Strict, d.Gold, d.Pred, strictKey)
		add(&r.Span, d.Gold, d.Pred, spanKey)
		g, p := dropLabel(d.Gold, opt.Misc), dropLabel(d.Pred, opt.Misc)
		add(&r.StrictNoMisc, g, p, strictKey)
		samner(&r.SAMNER, runes, d.Gold, d.Pred)
		for _, s := range d.Gold {
			lab(s.Label).Gold++
		}
		for _, s := range d.Pred {
			lab(s.Label).Pred++
		}
		for k, n := range matches(d.Gold, d.Pred, strictKey) {
			lab(k.label).TP += n
		}
		confuse(d.Gold, d.Pred, pairs, missed, spurious)
		classify(&r.Errors, d.Gold, d.Pred)
	}
	for _, c := range []*PRF{&r.Strict, &r.StrictNoMisc, &r.Span, &r.SAMNER} {
		c.finish()
	}
	for l, c := range labels {
		c.finish()
		r.Labels = append(r.Labels, LabelPRF{Label: l, PRF: *c})
	}
	sort.Slice(r.Labels, func(i, j int) bool { return r.Labels[i].Label < r.Labels[j].Label })
	r.Confusion = matrix(r.Labels, pairs, missed, spurious)
	return r, nil
}

// finish computes P, R and F1 from the counts.
func (c *PRF) finish() {
	c.P, c.R, c.F1 = 0, 0, 0
	if c.Pred > 0 {
		c.P = 100 * float64(c.TP) / float64(c.Pred)
	}
	if c.Gold > 0 {
		c.R = 100 * float64(c.TP) / float64(c.Gold)
	}
	if c.P+c.R > 0 {
		c.F1 = 2 * c.P * c.R / (c.P + c.R)
	}
}

// key identifies a span for matching; the label is empty when it must not
// count.
type key struct {
	start, end int
	label      string
}

func strictKey(s Span) key { return key{s.Start, s.End, s.Label} }
func spanKey(s Span) key   { return key{s.Start, s.End, ""} }

// matches pairs gold and predicted spans one to one by key and returns the
// number of pairs per key.
func matches(gold, pred []Span, k func(Span) key) map[key]int {
	n := map[key]int{}
	for _, s := range gold {
		n[k(s)]++
	}
	m := map[key]int{}
	for _, s := range pred {
		if kk := k(s); n[kk] > 0 {
			n[kk]--
			m[kk]++
		}
	}
	return m
}

// add counts one doc's spans into c.
func add(c *PRF, gold, pred []Span, k func(Span) key) {
	for _, n := range matches(gold, pred, k) {
		c.TP += n
	}
	c.Gold += len(gold)
	c.Pred += len(pred)
}

func dropLabel(spans []Span, label string) []Span {
	var out []Span
	for _, s := range spans {
		if !strings.EqualFold(s.Label, label) {
			out = append(out, s)
		}
	}
	return out
}

// samner counts one doc for SAM-NER's scorer: sets of (string, label).
func samner(c *PRF, text []rune, gold, pred []Span) {
	set := func(spans []Span) map[[2]string]bool {
		m := make(map[[2]string]bool, len(spans))
		for _, s := range spans {
			m[[2]string{string(text[s.Start:s.End]), s.Label}] = true
		}
		return m
	}
	g, p := set(gold), set(pred)
	for k := range p {
		if g[k] {
			c.TP++
		}
	}
	c.Gold += len(g)
	c.Pred += len(p)
}

// confuse pairs spans with equal boundaries, equal labels first, and counts
// the pairs by (gold, pred) label; what is left is missed or spurious.
func confuse(gold, pred []Span, pairs map[[2]string]int, missed, spurious map[string]int) {
	type bounds [2]int
	gs, ps := map[bounds][]string{}, map[bounds][]string{}
	for _, s := range gold {
		gs[bounds{s.Start, s.End}] = append(gs[bounds{s.Start, s.End}], s.Label)
	}
	for _, s := range pred {
		ps[bounds{s.Start, s.End}] = append(ps[bounds{s.Start, s.End}], s.Label)
	}
	for b, gl := range gs {
		pl := ps[b]
		sort.Strings(gl)
		sort.Strings(pl)
		// Equal labels pair first: both lists are sorted, so walk them.
		var gRest, pRest []string
		i, j := 0, 0
		for i < len(gl) && j < len(pl) {
			switch {
			case gl[i] == pl[j]:
				pairs[[2]string{gl[i], pl[j]}]++
				i++
				j++
			case gl[i] < pl[j]:
				gRest = append(gRest, gl[i])
				i++
			default:
				pRest = append(pRest, pl[j])
				j++
			}
		}
		gRest = append(gRest, gl[i:]...)
		pRest = append(pRest, pl[j:]...)
		for len(gRest) > 0 && len(pRest) > 0 {
			pairs[[2]string{gRest[0], pRest[0]}]++
			gRest, pRest = gRest[1:], pRest[1:]
		}
		for _, l := range gRest {
			missed[l]++
		}
		for _, l := range pRest {
			spurious[l]++
		}
		delete(ps, b)
	}
	for _, pl := range ps { // boundaries no gold span has
		for _, l := range pl {
			spurious[l]++
		}
	}
}

func matrix(labels []LabelPRF, pairs map[[2]string]int, missed, spurious map[string]int) Confusion {
	c := Confusion{Labels: []string{}, Counts: [][]int{}, Missed: []int{}, Spurious: []int{}}
	idx := map[string]int{}
	for i, l := range labels {
		c.Labels = append(c.Labels, l.Label)
		idx[l.Label] = i
	}
	for range labels {
		c.Counts = append(c.Counts, make([]int, len(labels)))
	}
	for k, n := range pairs {
		c.Counts[idx[k[0]]][idx[k[1]]] = n
	}
	for _, l := range c.Labels {
		c.Missed = append(c.Missed, missed[l])
		c.Spurious = append(c.Spurious, spurious[l])
	}
	return c
}

// classify counts one doc's Errors: each prediction takes the best outcome
// any gold span gives it.
func classify(e *Errors, gold, pred []Span) {
	const (
		spurious = iota
		boundary
		label
		correct
	)
	overlaps := func(a, b Span) bool { return a.Start < b.End && b.Start < a.End }
	for _, p := range pred {
		best := spurious
		for _, g := range gold {
			switch {
			case g == p:
				best = max(best, correct)
			case g.Start == p.Start && g.End == p.End:
				best = max(best, label)
			case overlaps(g, p):
				best = max(best, boundary)
			}
		}
		switch best {
		case correct:
			e.Correct++
		case label:
			e.Label++
		case boundary:
			e.Boundary++
		default:
			e.Spurious++
		}
	}
	for _, g := range gold {
		hit := false
		for _, p := range pred {
			hit = hit || overlaps(g, p)
		}
		if !hit {
			e.Missed++
		}
	}
}

// Macro is P, R and F1 averaged over data sets, in percent.
type Macro struct {
	P  float64 `json:"p"`
	R  float64 `json:"r"`
	F1 float64 `json:"f1"`
}

// Average is the mean of several data sets' scores, each weighing the same.
type Average struct {
	Name         string   `json:"name"`
	Datasets     []string `json:"datasets"`
	Strict       Macro    `json:"strict"`
	StrictNoMisc Macro    `json:"strict_no_misc"`
	Span         Macro    `json:"span"`
	SAMNER       Macro    `json:"samner"`
}

// Mean averages rs (macro over data sets).
func Mean(name string, rs []Results) Average {
	a := Average{Name: name, Datasets: []string{}}
	if len(rs) == 0 {
		return a
	}
	n := float64(len(rs))
	acc := func(m *Macro, c PRF) {
		m.P += c.P / n
		m.R += c.R / n
		m.F1 += c.F1 / n
	}
	for _, r := range rs {
		a.Datasets = append(a.Datasets, r.Name)
		acc(&a.Strict, r.Strict)
		acc(&a.StrictNoMisc, r.StrictNoMisc)
		acc(&a.Span, r.Span)
		acc(&a.SAMNER, r.SAMNER)
	}
	return a
}

// Groups returns the averages a report shows for rs: one per group of two or
// more data sets named "<group>-<rest>" (the CrossNER domains
// "crossner-ai", "crossner-music", ...), then one over all of them if that
// differs from every group.
func Groups(rs []Results) []Average {
	var order []string
	byGroup := map[string][]Results{}
	for _, r := range rs {
		g, _, ok := strings.Cut(r.Name, "-")
		if !ok {
			continue
		}
		if byGroup[g] == nil {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], r)
	}
	var out []Average
	for _, g := range order {
		if len(byGroup[g]) >= 2 {
			out = append(out, Mean(g+" average", byGroup[g]))
		}
	}
	if len(rs) >= 2 && (len(out) != 1 || len(out[0].Datasets) != len(rs)) {
		out = append(out, Mean("average", rs))
	}
	return out
}
