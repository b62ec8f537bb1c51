package rules

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zeroner/zeroner/pipeline"
)

// what holds what the rules can tell about one mention before any schema
// comes into it.
type what struct {
	kind kind               // fine-grained kind, or kNone
	arch pipeline.Archetype // archetype
	sure bool               // kind came from a lexicon or a cue word, not a guess
}

// classify reads a mention over tokens [i, j) of d: its lexicon entry, cue
// words, name shape and the words around it.
func (b *Backend) classify(d *doc, i, j int) what {
	if i >= j {
		return what{arch: pipeline.Misc}
	}
	ks, exact := b.lookup(d, i, j)
	if ks == 0 && j-i > 1 && d.low[i] == "the" {
		ks, exact = b.lookup(d, i+1, j)
	}
	if ks != 0 && exact {
		return b.fromKinds(d, i, j, ks)
	}
	if k := headKind(d, i, j); k != kNone {
		return what{k, kinds[k].arch, true}
	}
	if ks != 0 {
		return b.fromKinds(d, i, j, ks)
	}
	if w, ok := b.expansion(d, i, j); ok {
		return w
	}
	if personName(d, i, j) {
		return what{kPerson, pipeline.Person, true}
	}
	if placeName(d, i, j) {
		return what{kPlace, pipeline.Location, true}
	}
	if a, ok := contextArch(d, i, j); ok {
		k := kNone
		if a == pipeline.Person {
			k = kPerson
		}
		return what{k, a, false}
	}
	return b.guess(d, i, j)
}

// expansion reads an acronym in brackets as the name before it:
// "Italian Democratic Socialists ( SDI )".
func (b *Backend) expansion(d *doc, i, j int) (what, bool) {
	if j-i != 1 || !d.is(i, fAcronym) || i < 2 || d.words[i-1] != "(" || j >= len(d.toks) || d.words[j] != ")" {
		return what{}, false
	}
	e := i - 1
	s := e
	for s > 0 && (d.nameLike(s-1) || connectors[d.low[s-1]] && d.nameLike(s-2)) {
		s--
		if d.is(s, fSentStart) {
			break
		}
	}
	if s == e {
		return what{}, false
	}
	for s < e && (!d.nameLike(s) || skipStart(d, s)) {
		s++
	}
	if s >= e {
		return what{}, false
	}
	w := b.classify(d, s, e)
	return w, w.kind != kNone
}

// fromKinds picks one kind of a lexicon entry. A name that is both a city
// and a band is read as the kind the schema has a label for, then in kind
// order (countries before cities).
func (b *Backend) fromKinds(d *doc, i, j int, ks kindSet) what {
	best := kNone
	ks.each(func(k kind) {
		if best == kNone || b.wants[k] && !b.wants[best] {
			best = k
		}
	})
	return what{best, kinds[best].arch, true}
}

// headKind finds the cue word that says what a name names: the last cue in
// the part before a lower-case connector ("Liberal Party of Canada",
// "University of Paris"), else any cue, else a lower-case tail
// ("Tartaric acid").
func headKind(d *doc, i, j int) kind {
	// The first lower-case word ends the head part; if it says what the
	// name is, it is the head ("2004 Canadian federal election in Ontario").
	seg := j
	for k := i + 1; k < j; k++ {
		if d.is(k, fLower) {
			if tk, ok := tailCues[d.low[k]]; ok && !electionWords[d.low[k]] {
				return tk
			}
			seg = k
			break
		}
	}
	for k := seg - 1; k >= i; k-- {
		if hk, ok := headCues[d.words[k]]; ok && !(k == i && j-i > 1 && hk == kParty && d.words[k] != "Party") {
			return hk
		}
	}
	for k := j - 1; k >= seg; k-- {
		if hk, ok := headCues[d.words[k]]; ok {
			return hk
		}
	}
	if d.is(j-1, fLower) {
		if k, ok := tailCues[d.low[j-1]]; ok {
			return k
		}
	}
	if j-i > 1 && d.is(i, fYear) {
		return kEvent
	}
	return kNone
}

// isInitial reports whether w is an initial such as "J." or "J.R.R.".
func isInitial(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r) && strings.HasSuffix(w, ".") && utf8.RuneCountInString(w) <= 6 &&
		strings.Count(w, ".")*2 >= utf8.RuneCountInString(w)
}

// personName reports whether tokens [i, j) look like a personal name: a known
// given name or an initial followed by capitalised words and particles.
func personName(d *doc, i, j int) bool {
	if j-i < 2 || j-i > 5 {
		return false
	}
	lx := lex()
	first := d.words[i]
	if !lx.first[first] && !isInitial(first) {
		return false
	}
	for k := i + 1; k < j; k++ {
		w := d.words[k]
		switch {
		case nameParticles[d.low[k]] && d.is(k, fLower):
		case isInitial(w):
		case d.is(k, fCap) && !d.is(k, fAcronym) && !d.is(k, fNum):
			if _, ok := headCues[w]; ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// contextArch reads the words around a mention: a title before it ("Senator
// X"), a role noun next to it ("singer X", "X , a physicist"), or a kind
// noun before it ("the album X").
func contextArch(d *doc, i, j int) (pipeline.Archetype, bool) {
	if i > 0 && titles[d.low[i-1]] {
		return pipeline.Person, true
	}
	var score [14]float64
	look := func(k int, w float64) {
		if k < 0 || k >= len(d.toks) || !d.is(k, fLower) {
			return
		}
		if c, ok := contextCues[d.low[k]]; ok {
			score[archIndex[c.arch]] += w
		}
	}
	if i > 0 {
		switch w := d.low[i-1]; {
		case workVerbs[w]:
			score[archIndex[string(pipeline.CreativeWork)]] += 2
		case w == "in" || w == "near" || w == "from" || w == "at":
			score[archIndex[string(pipeline.Location)]] += 0.5
		}
	}
	look(i-1, 2)
	look(i-2, 1)
	// "X ( 1985 )": a dated title.
	if j+2 < len(d.toks) && d.words[j] == "(" && d.is(j+1, fYear) && d.words[j+2] == ")" {
		score[archIndex[string(pipeline.CreativeWork)]] += 1.5
	}
	if j < len(d.toks) && (d.words[j] == "," || d.words[j] == "(") {
		look(j+1, 1)
		look(j+2, 1)
		look(j+3, 0.5)
	}
	look(j, 1)
	best, bw := 0, 0.0
	for a, w := range score {
		if w > bw {
			best, bw = a, w
		}
	}
	if bw >= 1 {
		return pipeline.Archetypes[best], true
	}
	return "", false
}

// archIndex gives each archetype's position in pipeline.Archetypes.
var archIndex = func() map[string]int {
	m := map[string]int{}
	for i, a := range pipeline.Archetypes {
		m[string(a)] = i
	}
	return m
}()

// workVerbs before a name say it is a work: "wrote X", "released X".
var workVerbs = set(`wrote published released recorded titled entitled directed sequel novels poems albums singles songs`)

// placePrefixes start place names; compass words end constituency names
// ("York South") or start regions ("Northern Mexico").
var (
	placePrefixes = set(`San Santa São Los Las Fort Port Saint St. Mount Lake Cape Glen Bad`)
	compass       = set(`North South East West Northeast Northwest Southeast Southwest Centre Central`)
	compassAdj    = set(`Northern Southern Eastern Western Southwestern Southeastern Northwestern Northeastern Central Upper Lower Greater`)
	placeSuffixes = []string{"shire", "ville", "burg", "bury", "borough", "mouth", "chester", "caster", "stadt", "grad", "abad"}
)

// placeName reports whether tokens [i, j) look like a place name.
func placeName(d *doc, i, j int) bool {
	if !allTitleCase(d, i, j) {
		return false
	}
	if j-i >= 2 {
		if placePrefixes[d.words[i]] || compass[d.words[j-1]] {
			return true
		}
		if compassAdj[d.words[i]] {
			if ks, _ := lex().lookup(d.words[i+1:j], d.low[i+1:j]); ks&(1<<kCountry|1<<kRegion|1<<kCity) != 0 {
				return true
			}
		}
		return false
	}
	for _, suf := range placeSuffixes {
		if strings.HasSuffix(d.low[i], suf) && len(d.low[i]) > len(suf)+2 {
			return true
		}
	}
	return false
}

// guess reads a name with no lexicon entry, cue word or telling context from
// its shape.
func (b *Backend) guess(d *doc, i, j int) what {
	w := d.words[i]
	switch {
	case j-i == 1 && d.is(i, fAcronym):
		return what{kNone, pipeline.Organization, false}
	case d.low[i] == "the" && j-i > 1 && strings.HasSuffix(d.low[j-1], "s"):
		return what{kBand, pipeline.Organization, false} // "The Pogues"
	case i > 0 && d.low[i-1] == "the":
		return what{kNone, pipeline.Organization, false} // people rarely take "the"

	case j-i == 1 && demonymShape(w):
		return what{kDemonym, pipeline.Misc, false}
	case j-i == 1 && d.is(i, fCap) && !d.is(i, fMixed):
		return what{kPerson, pipeline.Person, false}
	case j-i >= 2 && j-i <= 3 && allTitleCase(d, i, j):
		return what{kPerson, pipeline.Person, false}
	}
	return what{kNone, pipeline.Misc, false}
}

// demonymShape reports whether a capitalised word looks like a nationality
// or language adjective ("Canadian", "Japanese", "Danish").
func demonymShape(w string) bool {
	for _, suf := range []string{"ian", "ese", "ish"} {
		if strings.HasSuffix(w, suf) && len(w) > len(suf)+3 {
			return true
		}
	}
	return false
}

// allTitleCase reports whether every token is a plain capitalised word.
func allTitleCase(d *doc, i, j int) bool {
	for k := i; k < j; k++ {
		if !d.is(k, fCap) || d.is(k, fAcronym) || !d.is(k, fWord) {
			return false
		}
		if _, ok := headCues[d.words[k]]; ok {
			return false
		}
	}
	return true
}
