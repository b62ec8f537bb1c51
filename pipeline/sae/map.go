package sae

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Decoders.
const (
	DecodeMax     = "max"
	DecodeProduct = "product"
)

// Options tune estimation and decoding.
type Options struct {
	// Alpha is the strength of the Beta prior on precision; default 1.
	Alpha float64
	// MinSupport is the tokens a feature must be active on to be kept;
	// default 3.
	MinSupport int64
	// MinPrecision is the smoothed precision an entity class needs in the
	// max decoder; default 0.5.
	MinPrecision float64
	// Decode is DecodeProduct (default) or DecodeMax.
	Decode string
	// MinAct is the activation above which a feature is active; default 0.
	MinAct float32
	// Examples is how many example tokens each table row keeps; default 3.
	Examples int
	// Batch is how many texts are asked of a Source at once; default 256.
	Batch int
}

func (o Options) withDefaults() (Options, error) {
	if o.Alpha == 0 {
		o.Alpha = 1
	}
	if o.MinSupport == 0 {
		o.MinSupport = 3
	}
	if o.MinPrecision == 0 {
		o.MinPrecision = 0.5
	}
	if o.Decode == "" {
		o.Decode = DecodeProduct
	}
	if o.Examples == 0 {
		o.Examples = 3
	}
	if o.Batch == 0 {
		o.Batch = 256
	}
	if o.Decode != DecodeMax && o.Decode != DecodeProduct {
		return o, fmt.Errorf("sae: unknown decoder %q", o.Decode)
	}
	if o.Alpha < 0 || o.MinSupport < 0 {
		return o, fmt.Errorf("sae: negative alpha or support")
	}
	return o, nil
}

// Entry is one row of a map's table: how precisely a feature signals a
// class. The row with Feature "*" is the class's prior: Hits tokens of the
// class among Support tokens of the sample.
type Entry struct {
	Feature   string // readable name, e.g. "suf3=ion"
	ID        uint64
	Type      string // class: "O", "B-person", "I-person"
	Precision float64
	Support   int64 // tokens where the feature is active
	Hits      int64 // of those, tokens of the class
	Examples  []string
}

// Prior is the Feature of the prior rows.
const Prior = "*"

// Map is an estimated feature -> class map, ready to decode.
type Map struct {
	opt     Options
	classes []string // "O", then B- and I- of each type
	typeOf  []string // the type of each class, "" for O
	inside  []bool   // the class is an I- class
	logPri  []float32
	prior   []float64
	index   map[uint64]int32 // feature -> offset in w
	w       []float32        // per kept feature, one weight per class
	entries []Entry
}

// Classes returns the map's classes, O first.
func (m *Map) Classes() []string { return slices.Clone(m.classes) }

// Entries returns the map's table, sorted by class, then precision
// descending, then feature: the prior rows, then every (feature, class)
// with a hit among the kept features.
func (m *Map) Entries() []Entry { return slices.Clone(m.entries) }

// Options returns the options the map decodes with.
func (m *Map) Options() Options { return m.opt }

// WithOptions returns the map decoding with other thresholds; estimation
// counts are kept, so thresholds can be tuned without re-estimating.
func (m *Map) WithOptions(opt Options) (*Map, error) { return FromEntries(m.entries, opt) }

// classesOf returns O and the B- and I- classes of types, sorted.
func classesOf(types []string) []string {
	types = slices.Clone(types)
	sort.Strings(types)
	types = slices.Compact(types)
	cs := []string{"O"}
	for _, t := range types {
		cs = append(cs, "B-"+t, "I-"+t)
	}
	return cs
}

// FromEntries rebuilds a map from its table (as Entries or a saved table
// returns it) with opt's thresholds.
func FromEntries(es []Entry, opt Options) (*Map, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	classes, err := entryClasses(es)
	if err != nil {
		return nil, err
	}
	ci := map[string]int{}
	for i, c := range classes {
		ci[c] = i
	}
	n := countEntries(es, ci, len(classes))
	if n.total <= 0 {
		return nil, fmt.Errorf("sae: map has no prior rows")
	}
	m := newMap(opt, classes, n)
	for id, i := range n.feats {
		if n.support[i] >= opt.MinSupport {
			m.addFeature(id, n.hits[i], n.support[i])
		}
	}
	// The table keeps the counts it was given, so a saved map reloads
	// whole whatever the thresholds.
	for _, e := range es {
		if e.Feature != Prior && e.Support < opt.MinSupport {
			continue
		}
		if e.Feature == "" {
			e.Feature = idName(e.ID)
		}
		e.Precision = m.precision(e.Hits, e.Support, ci[e.Type])
		if e.Feature == Prior {
			e.Precision = m.prior[ci[e.Type]]
		}
		m.entries = append(m.entries, e)
	}
	sortEntries(m.entries)
	return m, nil
}

// entryClasses returns the BIO classes of the types the entries name.
func entryClasses(es []Entry) ([]string, error) {
	var types []string
	for _, e := range es {
		if e.Type != "O" {
			t, ok := strings.CutPrefix(e.Type, "B-")
			if !ok {
				t, ok = strings.CutPrefix(e.Type, "I-")
			}
			if !ok {
				return nil, fmt.Errorf("sae: map entry %q: class %q is not O, B- or I-", e.Feature, e.Type)
			}
			types = append(types, t)
		}
	}
	return classesOf(types), nil
}

// entryCounts are a map table's counts: the prior's, and each feature's
// support and hits per class.
type entryCounts struct {
	total     int64
	priorHits []int64
	feats     map[uint64]int // feature id -> index of support and hits
	support   []int64
	hits      [][]int64
}

func countEntries(es []Entry, ci map[string]int, k int) entryCounts {
	n := entryCounts{priorHits: make([]int64, k), feats: map[uint64]int{}}
	for _, e := range es {
		c := ci[e.Type]
		if e.Feature == Prior {
			n.total, n.priorHits[c] = e.Support, e.Hits
			continue
		}
		i, ok := n.feats[e.ID]
		if !ok {
			i = len(n.support)
			n.feats[e.ID] = i
			n.support = append(n.support, e.Support)
			n.hits = append(n.hits, make([]int64, k))
		}
		n.hits[i][c] += e.Hits
	}
	return n
}

// newMap returns a map of classes with the prior of n and no features.
func newMap(opt Options, classes []string, n entryCounts) *Map {
	k := len(classes)
	m := &Map{opt: opt, classes: classes, index: map[uint64]int32{}}
	for _, c := range classes {
		t, in := "", false
		if c != "O" {
			t, in = c[2:], c[0] == 'I'
		}
		m.typeOf, m.inside = append(m.typeOf, t), append(m.inside, in)
	}
	m.prior = make([]float64, k)
	m.logPri = make([]float32, k)
	for c := range classes {
		// The prior itself is smoothed by one token per class so that no
		// class is impossible.
		m.prior[c] = (float64(n.priorHits[c]) + 1) / (float64(n.total) + float64(k))
		m.logPri[c] = float32(math.Log(m.prior[c]))
	}
	return m
}

// precision is the smoothed precision of a feature for class c: h hits of
// n, pulled towards the prior by Alpha.
func (m *Map) precision(h, n int64, c int) float64 {
	return (float64(h) + m.opt.Alpha*m.prior[c]) / (float64(n) + m.opt.Alpha)
}

// addFeature adds a feature's weights, if it tells anything under the
// decoding.
func (m *Map) addFeature(id uint64, hits []int64, n int64) {
	ws := make([]float32, len(m.classes))
	useful := false
	for c := range m.classes {
		p := m.precision(hits[c], n, c)
		switch m.opt.Decode {
		case DecodeProduct:
			ws[c] = float32(math.Log(p / m.prior[c]))
			useful = true
		case DecodeMax:
			if c == 0 || p >= m.opt.MinPrecision {
				ws[c] = float32(p)
				useful = useful || c > 0
			}
		}
	}
	if useful {
		m.index[id] = int32(len(m.w))
		m.w = append(m.w, ws...)
	}
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if (a.Feature == Prior) != (b.Feature == Prior) {
			return a.Feature == Prior
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Precision != b.Precision {
			return a.Precision > b.Precision
		}
		return a.Feature < b.Feature
	})
}

// classOf gives each token of a text its class index from spans.
func classOf(toks []Token, spans []Span, ci map[string]int, out []int) []int {
	out = out[:0]
	for range toks {
		out = append(out, 0)
	}
	for _, s := range spans {
		b, okB := ci["B-"+s.Label]
		in, okI := ci["I-"+s.Label]
		if !okB || !okI {
			continue
		}
		first := true
		for i, t := range toks {
			if t.Start >= s.Start && t.End <= s.End && out[i] == 0 {
				if first {
					out[i] = b
				} else {
					out[i] = in
				}
				first = false
			}
		}
	}
	return out
}

// Estimate counts, over sample, how often each feature of src is active and
// on tokens of which class, and returns the map with opt's thresholds.
func Estimate(ctx context.Context, src Source, sample []Labeled, opt Options) (*Map, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	var types []string
	for _, l := range sample {
		for _, s := range l.Spans {
			types = append(types, s.Label)
		}
	}
	classes := classesOf(types)
	ci := map[string]int{}
	for i, c := range classes {
		ci[c] = i
	}
	n, err := countFeatures(ctx, src, sample, opt, ci)
	if err != nil {
		return nil, err
	}
	if n.total == 0 {
		return nil, fmt.Errorf("sae: estimate: the sample has no tokens")
	}
	var es []Entry
	for c, cl := range classes {
		es = append(es, Entry{Feature: Prior, Type: cl, Support: n.total, Hits: n.prior[c]})
	}
	kept := map[[2]uint64]int{} // (feature, class) -> entry
	for id, o := range n.idx {
		if n.n[o] < opt.MinSupport {
			continue
		}
		for c := range classes {
			if h := n.n[o+1+c]; h > 0 {
				kept[[2]uint64{id, uint64(c)}] = len(es)
				es = append(es, Entry{ID: id, Type: classes[c], Support: n.n[o], Hits: h})
			}
		}
	}
	if err := nameEntries(ctx, src, sample, opt, ci, es, kept); err != nil {
		return nil, err
	}
	return FromEntries(es, opt)
}

// featureCounts are the sample's counts: tokens per class, and per feature
// its support and hits per class.
type featureCounts struct {
	idx   map[uint64]int // feature -> its counts' offset in n
	n     []int64        // per feature: support, then hits per class
	prior []int64
	total int64
}

// countFeatures counts, in one pass over the sample, the tokens of each
// class and the active features' support and hits.
func countFeatures(ctx context.Context, src Source, sample []Labeled, opt Options, ci map[string]int) (featureCounts, error) {
	k := len(ci)
	n := featureCounts{idx: map[uint64]int{}, prior: make([]int64, k)}
	var cls []int
	err := batches(ctx, src, sample, opt.Batch, func(_ int, l Labeled, toks []Token) {
		cls = classOf(toks, l.Spans, ci, cls)
		for i, t := range toks {
			c := cls[i]
			n.prior[c]++
			n.total++
			for _, f := range t.Feats {
				if f.Act <= opt.MinAct {
					continue
				}
				o, ok := n.idx[f.ID]
				if !ok {
					o = len(n.n)
					n.idx[f.ID] = o
					n.n = append(n.n, make([]int64, k+1)...)
				}
				n.n[o]++
				n.n[o+1+c]++
			}
		}
	})
	return n, err
}

// nameEntries is a second pass over the sample that names the kept
// features (by the source's names when it has them) and finds example
// tokens.
func nameEntries(ctx context.Context, src Source, sample []Labeled, opt Options, ci map[string]int, es []Entry, kept map[[2]uint64]int) error {
	namer, _ := src.(Namer)
	var cls []int
	return batches(ctx, src, sample, opt.Batch, func(_ int, l Labeled, toks []Token) {
		cls = classOf(toks, l.Spans, ci, cls)
		var names [][]string
		if namer != nil {
			names = namer.Names(l.Text)
			if len(names) != len(toks) {
				names = nil
			}
		}
		for i, t := range toks {
			for j, f := range t.Feats {
				e, ok := kept[[2]uint64{f.ID, uint64(cls[i])}]
				if !ok {
					continue
				}
				if es[e].Feature == "" {
					es[e].Feature = idName(f.ID)
					if names != nil && j < len(names[i]) {
						es[e].Feature = names[i][j]
					}
				}
				if len(es[e].Examples) < opt.Examples && !slices.Contains(es[e].Examples, t.Text) {
					es[e].Examples = append(es[e].Examples, t.Text)
				}
			}
		}
	})
}

// batches asks src for the features of sample's texts, size at a time.
func batches(ctx context.Context, src Source, sample []Labeled, size int, f func(int, Labeled, []Token)) error {
	texts := make([]string, 0, size)
	for lo := 0; lo < len(sample); lo += size {
		hi := min(lo+size, len(sample))
		texts = texts[:0]
		for _, l := range sample[lo:hi] {
			texts = append(texts, l.Text)
		}
		toks, err := src.Features(ctx, texts)
		if err != nil {
			return fmt.Errorf("sae: features of texts %d-%d: %w", lo, hi-1, err)
		}
		if len(toks) != len(texts) {
			return fmt.Errorf("sae: features of texts %d-%d: %d answers for %d texts", lo, hi-1, len(toks), len(texts))
		}
		for i, t := range toks {
			f(lo+i, sample[lo+i], t)
		}
	}
	return nil
}
