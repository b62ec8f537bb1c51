package rules

import (
	"math"
	"strings"
	"unicode"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// labelProf is what calibration knows about one target label, all computed
// from the schema: the words of its name, the words of its definition
// weighted by how few labels share them, the definition's head noun, which
// archetypes it fits, and which label it narrows.
type labelProf struct {
	name     string
	names    map[string]bool
	def      map[string]float64
	genus    string
	compat   [14]float64
	parent   int // index of the label this one narrows ("researcher" narrows "person"), or -1
	fallback bool
}

// stem folds a word to the form labels and cues are compared in: lower case,
// British "-isation", no plural "s".
func stem(w string) string {
	w = strings.ToLower(w)
	if i := strings.Index(w, "ization"); i > 0 {
		w = w[:i] + "isation" + w[i+7:]
	}
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

// defStop are words of a definition that say nothing about the label.
var defStop = set(`a an the of or and in on at by for to with from as such is are be that which who whom whose this these those its it their other not no than often usually mainly including include e.g. etc named given known held built made used any one some kind sort type thing entity fits label`)

// genusStop end the head noun phrase of a definition.
var genusStop = set(`who that which whose of or and in on for such as with from by to used known given held built other not , ; : ( .`)

// words returns the content words of s, stemmed, in order.
func words(s string) []string {
	var out []string
	for _, t := range text.Tokenize(s) {
		if !hasLetter(t.Text) {
			continue
		}
		w := stem(t.Text)
		if defStop[w] {
			continue
		}
		out = append(out, w)
	}
	return out
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// genusOf returns the head noun of a definition: the last word of its first
// noun phrase ("A scientific theory, law ..." gives "theory").
func genusOf(desc string) string {
	g := ""
	for _, t := range text.Tokenize(desc) {
		w := strings.ToLower(t.Text)
		if genusStop[w] && g != "" {
			break
		}
		if w == "a" || w == "an" || w == "the" || w == "named" || !hasLetter(w) {
			continue
		}
		g = stem(w)
	}
	return g
}

// profile builds the label profiles of a schema.
func profile(s *pipeline.Schema) []labelProf {
	ps := make([]labelProf, len(s.Labels))
	df := map[string]int{}
	defs := make([][]string, len(s.Labels))
	for i, l := range s.Labels {
		defs[i] = words(l.Description)
		seen := map[string]bool{}
		for _, w := range defs[i] {
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	for i, l := range s.Labels {
		p := &ps[i]
		p.name = l.Name
		p.fallback = l.Name == s.Fallback
		p.parent = -1
		p.genus = genusOf(l.Description)
		p.def = map[string]float64{}
		for _, w := range defs[i] {
			p.def[w] = 1 / float64(df[w])
		}
		p.names = map[string]bool{}
		for _, w := range nameWords(l.Name, defs[i]) {
			p.names[w] = true
		}
		p.compat = compat(p, l)
	}
	for i := range ps {
		for k := range ps {
			if k != i && ps[k].names[ps[i].genus] && !ps[i].names[ps[i].genus] {
				ps[i].parent = k
			}
		}
	}
	return ps
}

// vocab is every word the rules know as naming a kind of thing: used to
// split label names written as one word ("politicalparty").
var vocab = func() map[string]bool {
	m := set(`object name programming language music musical literary political academic astronomical chemical restaurant record`)
	for _, v := range archVocab {
		for _, w := range strings.Fields(v) {
			m[w] = true
		}
	}
	for _, k := range kinds {
		for _, w := range k.desc {
			m[w] = true
		}
	}
	return m
}()

// nameWords splits a label name into words: at separators and case changes,
// then, for names run together, into prefixes of known or definition words
// ("programlang" gives "programming" and "language").
func nameWords(name string, def []string) []string {
	var parts []string
	cur := []rune{}
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prev := rune(0)
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	known := func(p string) string {
		if vocab[p] || vocab[stem(p)] {
			return stem(p)
		}
		for _, w := range def {
			if w == stem(p) {
				return w
			}
		}
		if len(p) < 3 {
			return ""
		}
		for _, w := range def {
			if strings.HasPrefix(w, p) {
				return w
			}
		}
		best := "" // the shortest, then first alphabetically: map order must not matter
		for w := range vocab {
			if strings.HasPrefix(w, p) && (best == "" || len(w) < len(best) || len(w) == len(best) && w < best) {
				best = w
			}
		}
		return best
	}
	var out []string
	for _, p := range parts {
		if w := known(p); w != "" {
			out = append(out, w)
			continue
		}
		if seg := segment(p, known); seg != nil {
			out = append(out, seg...)
			continue
		}
		out = append(out, stem(p))
	}
	return out
}

// segment splits s into the fewest pieces that known accepts, or nil.
func segment(s string, known func(string) string) []string {
	n := len(s)
	best := make([][]string, n+1)
	ok := make([]bool, n+1)
	ok[0] = true
	for e := 1; e <= n; e++ {
		for b := 0; b < e; b++ {
			if !ok[b] || e-b < 3 {
				continue
			}
			w := known(s[b:e])
			if w == "" {
				continue
			}
			if !ok[e] || len(best[b])+1 < len(best[e]) {
				best[e] = append(append([]string{}, best[b]...), w)
				ok[e] = true
			}
		}
	}
	if !ok[n] {
		return nil
	}
	return best[n]
}

// compat scores how well a label fits each archetype, in [0, 1], from the
// label's name, head noun and definition against the archetypes' vocabulary
// and definitions. Label.Archetypes overrides it.
func compat(p *labelProf, l pipeline.Label) [14]float64 {
	var c [14]float64
	if len(l.Archetypes) > 0 {
		for _, a := range l.Archetypes {
			c[archIndex[string(a)]] = 1
		}
		return c
	}
	top := 0.0
	for ai, a := range pipeline.Archetypes {
		v := archWords(a)
		raw := 0.0
		for w := range p.names {
			if v[w] {
				raw += 1
				break
			}
		}
		if v[p.genus] {
			raw += 0.6
		}
		hits := 0
		for w := range p.def {
			if v[w] {
				hits++
			}
		}
		raw += 0.2 * float64(hits) / float64(1+len(p.def))
		c[ai] = raw
		top = max(top, raw)
	}
	for ai := range c {
		if top == 0 {
			c[ai] = 0.5 // a label the archetypes say nothing about fits all weakly
		} else {
			c[ai] /= top
		}
	}
	return c
}

// archWordSets are the words of each archetype's vocabulary and definition.
var archWordSets = func() map[pipeline.Archetype]map[string]bool {
	m := map[pipeline.Archetype]map[string]bool{}
	for _, a := range pipeline.Archetypes {
		s := map[string]bool{}
		for _, w := range strings.Fields(archVocab[string(a)]) {
			s[stem(w)] = true
		}
		for _, w := range words(a.Definition()) {
			s[w] = true
		}
		m[a] = s
	}
	return m
}()

func archWords(a pipeline.Archetype) map[string]bool { return archWordSets[a] }

// match scores one evidence word against a label: its name counts most,
// its head noun next, other definition words by how specific they are.
func (p *labelProf) match(w string) float64 {
	switch {
	case p.names[w]:
		return 1
	case w == p.genus:
		return 0.5 * max(p.def[w], 0.5)
	}
	return 0.4 * p.def[w]
}

// evidence is a weighted word that speaks for some label.
type evidence struct {
	w string
	x float64
}

// around collects the lower-case words around tokens [i, j) within four
// tokens, nearer words weighing more, with what role nouns imply
// ("physicist" also says "scientist").
func around(d *doc, i, j int, ev []evidence) []evidence {
	weights := [...]float64{1, 0.7, 0.5, 0.4}
	add := func(k int, x float64) {
		if k < 0 || k >= len(d.toks) || !d.is(k, fLower) && !d.is(k, fAcronym) {
			return
		}
		if d.is(k, fAcronym) && d.low[k] != "mp" && d.low[k] != "phd" {
			return
		}
		w := d.low[k]
		if funcWords[w] {
			return
		}
		ev = append(ev, evidence{stem(w), x})
		if c, ok := contextCues[w]; ok {
			for _, m := range c.words {
				ev = append(ev, evidence{m, x})
			}
		}
	}
	for n := 1; n <= len(weights); n++ {
		if d.is(i-n+1, fSentStart) {
			break
		}
		add(i-n, weights[n-1])
	}
	for n := 1; n <= len(weights); n++ {
		if d.is(j+n-1, fSentStart) {
			break
		}
		add(j+n-1, weights[n-1]*0.8)
	}
	return ev
}

// choose picks the label of one mention, given what classify read of it. It
// returns the label index and a confidence in [0, 1].
func (b *Backend) choose(d *doc, i, j int, arch pipeline.Archetype, wt what) (int, float64) {
	if !arch.Valid() {
		arch = wt.arch
	}
	ai := archIndex[string(arch)]
	// Evidence from the kind the lexicon or cue words gave, the mention's
	// own words, and its context. Choose runs once per mention, millions
	// of times for a long document: the evidence and scores live on the
	// stack unless they outgrow these buffers.
	var kindBuf, ownBuf [8]evidence
	var ctxBuf [24]evidence
	var scoreBuf [32]float64
	kindEv := kindBuf[:0]
	if wt.kind != kNone && (wt.arch == arch || wt.sure) {
		for n, w := range kinds[wt.kind].desc {
			kindEv = append(kindEv, evidence{w, 1 / (1 + 0.25*float64(n))})
		}
	}
	own := ownBuf[:0]
	for k := i; k < j; k++ {
		if hasLetter(d.words[k]) && !funcWords[d.low[k]] {
			own = append(own, evidence{stem(d.words[k]), 1})
		}
	}
	ctx := around(d, i, j, ctxBuf[:0])

	scores := scoreBuf[:0]
	if len(b.labels) <= len(scoreBuf) {
		scores = scoreBuf[:len(b.labels)]
	} else {
		scores = make([]float64, len(b.labels))
	}
	// A guessed archetype is a prior, not a gate.
	gate := arch != pipeline.Misc && (wt.sure || wt.arch != arch)
	for li := range b.labels {
		scores[li] = b.labelScore(li, ai, arch == pipeline.Misc, gate, kindEv, own, ctx)
	}
	// Specificity: a label that narrows another ("researcher" narrows
	// "person") wins when the two are close.
	for li := range b.labels {
		p := &b.labels[li]
		if p.parent >= 0 && scores[li] >= 0 && scores[p.parent] >= 0 &&
			scores[li]+b.narrowBonus >= scores[p.parent] {
			scores[li] = scores[p.parent] + 0.01
		}
	}
	bi, conf := pick(scores)
	if bi < 0 {
		return b.fallback, 0
	}
	return bi, conf
}

// labelScore scores label li for a mention of archetype index ai from the
// evidence of its kind, its own words and its context; -1 rules it out.
// misc says the archetype is Misc, gate that an archetype incompatible with
// the label rules it out unless the kind evidence is strong.
func (b *Backend) labelScore(li, ai int, misc, gate bool, kindEv, own, ctx []evidence) float64 {
	p := &b.labels[li]
	km := 0.0
	for _, e := range kindEv {
		m := p.match(e.w)
		if p.parent >= 0 {
			// A narrower label is all its parent is: "person" evidence
			// speaks for "researcher" too; context tells them apart.
			m = max(m, b.labels[p.parent].match(e.w))
		}
		km = max(km, e.x*m)
	}
	c := p.compat[ai]
	if misc {
		c = 0
	}
	if gate && c < 0.5 && !p.fallback && km < 0.9 {
		return -1
	}
	om := 0.0
	for _, e := range own {
		om = max(om, p.match(e.w))
	}
	cx := 0.0
	for _, e := range ctx {
		cx += e.x * p.match(e.w)
	}
	cx = 1 - math.Exp(-cx)
	s := 1.0*km + 0.35*c + 0.6*cx + 0.4*om
	if p.fallback {
		s += 0.25
	}
	return s
}

// pick returns the best-scoring label and the confidence of the choice: its
// score's share of the two best; -1 when every label is ruled out.
func pick(scores []float64) (int, float64) {
	best, second := -1.0, -1.0
	bi := -1
	for li, s := range scores {
		if s > best {
			second, best, bi = best, s, li
		} else if s > second {
			second = s
		}
	}
	if bi < 0 {
		return -1, 0
	}
	conf := best
	if second > 0 {
		conf = best / (best + second)
	}
	return bi, math.Min(1, math.Max(0, conf))
}
