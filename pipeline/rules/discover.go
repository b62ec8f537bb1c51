package rules

import "strings"

// cand is a proposed span over tokens [i, j).
type cand struct {
	i, j int
	prio int // breaks ties between overlapping spans of equal length
}

const (
	prioRun = iota
	prioLex
	prioPattern
	prioQuote
)

// propose returns the non-overlapping spans of one document, in order.
func (b *Backend) propose(d *doc) []cand {
	// About one span per capitalised word: sized so, a long document's
	// spans are not copied over and over as they are found.
	n := 0
	for _, f := range d.flags {
		if f&(fCap|fMixed) != 0 {
			n++
		}
	}
	cs := make([]cand, 0, n+8)
	cs = b.lexMatches(d, cs)
	cs = b.capRuns(d, cs)
	cs = b.eventPatterns(d, cs)
	cs = quoted(d, cs)
	cs = b.suffixTerms(d, cs)
	return resolve(cs)
}

// lexMatches finds lexicon entries, longest first. Lower-case matches count
// only for kinds the schema has a label for: "novel" is a literary genre in a
// literature schema and an ordinary adjective elsewhere.
func (b *Backend) lexMatches(d *doc, cs []cand) []cand {
	lx := lex()
	n := len(d.toks)
	for i := 0; i < n; i++ {
		maxLen := max(lx.starts[d.words[i]], lx.starts[d.low[i]])
		if maxLen == 0 && !strings.HasSuffix(d.low[i], "s") {
			continue
		}
		if maxLen == 0 {
			maxLen = 1
		}
		for l := min(maxLen, n-i); l >= 1; l-- {
			ks, exact := b.lookup(d, i, i+l)
			if ks == 0 {
				continue
			}
			if !exact && !b.wantsLower(ks) {
				continue
			}
			if !exact && d.is(i, fSentStart) && l == 1 && !d.nameLike(i) {
				continue
			}
			// "Heavy metal music", "hydrochloric acid solution" stops at "acid".
			if e := i + l; e < n && d.is(e, fLower) {
				if k, ok := tailCues[d.low[e]]; ok && ks.has(k) {
					l++
				}
			}
			cs = append(cs, cand{i, i + l, prioLex})
			i += l - 1
			break
		}
	}
	return cs
}

// lookup finds tokens [i, j) in the lexicon, also as a plural of an entry.
func (b *Backend) lookup(d *doc, i, j int) (kindSet, bool) {
	lx := lex()
	ks, exact := lx.lookup(d.words[i:j], d.low[i:j])
	if ks != 0 {
		return ks, exact
	}
	last := d.low[j-1]
	if len(last) > 3 && strings.HasSuffix(last, "s") && !strings.HasSuffix(last, "ss") {
		// The key without the final "s" of its last word.
		var buf [128]byte
		key := joinKey(buf[:0], d.low[i:j])
		return lx.fold[string(key[:len(key)-1])], false
	}
	return 0, false
}

// wantsLower reports whether any of ks may be proposed in lower case.
func (b *Backend) wantsLower(ks kindSet) bool {
	ok := false
	ks.each(func(k kind) {
		if kinds[k].lower && b.wants[k] {
			ok = true
		}
	})
	return ok
}

// skipStart reports whether capitalised token i is an ordinary word that is
// capitalised only because it starts a sentence.
func skipStart(d *doc, i int) bool {
	w := d.low[i]
	if titles[w] && (d.nameLike(i+1) || i+1 < len(d.low) && d.low[i+1] == "of") {
		return true
	}
	if !d.is(i, fSentStart) {
		return false
	}
	if funcWords[w] || firstWordCommon[w] {
		return true
	}
	if d.nameLike(i+1) || d.is(i, fAcronym) {
		return false
	}
	return len(w) > 4 && (strings.HasSuffix(w, "ly") || strings.HasSuffix(w, "ing") ||
		(strings.HasSuffix(w, "ed") && len(w) > 5))
}

// capRuns finds runs of capitalised tokens joined by name-internal
// connectors, hyphens and "&".
func (b *Backend) capRuns(d *doc, cs []cand) []cand {
	n := len(d.toks)
	for i := 0; i < n; {
		if !d.nameLike(i) {
			i++
			continue
		}
		if skipStart(d, i) || calendar[d.low[i]] && !d.nameLike(i+1) {
			i++
			continue
		}
		start := i
		j := i + 1
		for j < n {
			if d.nameLike(j) {
				if d.is(j, fSentStart) || calendar[d.low[j]] && d.is(j+1, fNum) ||
					titles[d.low[j]] && d.nameLike(j+1) { // "U.S. Senator Smith"
					break
				}
				j++
				continue
			}
			if k := joinOver(d, start, j); k > j {
				j = k
				continue
			}
			break
		}
		// Titles after a name are not part of it: "U.S. Senator".
		for j-start > 1 && titles[d.low[j-1]] {
			j--
		}
		// A short number ends a name: "Solo Electric Bass 1", "Euro 2008".
		if j < n && d.is(j, fNum) && len(d.words[j]) <= 4 && !calendar[d.low[j-1]] && !d.nameLike(j+1) &&
			!(j+1 < n && d.words[j+1] == "-") {
			j++
		}
		// A lower-case word that names the kind continues the name:
		// "Tartaric acid", "Viterbi algorithm", "Tejano music".
		if j < n && d.is(j, fLower) {
			if k, ok := tailCues[d.low[j]]; ok && b.wants[k] && k != kElection && k != kLanguage {
				j++
			}
		}
		if (calendar[d.low[start]] || titles[d.low[start]]) && j == start+1 {
			i = j
			continue
		}
		cs = append(cs, cand{start, j, prioRun})
		i = j
	}
	return cs
}

// joinOver returns the index after the joining words at j and the
// capitalised word they lead to, or j if the name ends at j.
func joinOver(d *doc, start, j int) int {
	n := len(d.toks)
	w := d.low[j]
	switch {
	case w == "&" || w == "'n'" || w == "n'":
		if d.nameLike(j + 1) {
			return j + 1
		}
	case w == "and":
		if d.nameLike(j+1) && andJoins(d, start, j) {
			return j + 1
		}
	case connectors[w] && d.is(j, fLower):
		if (w == "of" || w == "for" || w == "the") && !ofJoins(d, start, j) {
			return j
		}
		k := j
		for k < n && k-j < 2 && connectors[d.low[k]] && d.is(k, fLower) {
			k++
		}
		if d.nameLike(k) && !d.is(k, fSentStart) {
			return k
		}
	case w == "in" || w == "on":
		// "Nobel Prize in Literature", "Christian Social Union in Bavaria"
		if d.nameLike(j+1) && !d.is(j+1, fSentStart) {
			switch headCues[d.words[j-1]] {
			case kAward, kParty:
				return j + 1
			}
		}
	}
	return j
}

// ofJoins decides whether "of" or "for" at j continues a name: after a
// single word ("Bank of America") or a word that names an institution
// ("Liberal Party of Canada"), not after a person ("Kim Dae-jung of the ...").
func ofJoins(d *doc, start, j int) bool {
	if j-start == 1 || j-start == 2 && (d.words[start] == "The" || d.words[start] == "A") {
		return true // "Tyranny of Beauty", "The Trumpet of Nordland"
	}
	if _, ok := headCues[d.words[j-1]]; ok {
		return true
	}
	for k := start; k < j; k++ { // "The Fall of the House of Usher"
		if d.low[k] == "of" {
			return true
		}
	}
	return false
}

// andJoins decides whether "and" at j joins two parts of one name: it does
// after "of" ("Academy of Arts and Sciences") or when the words after it end
// in an organisation word ("Social Democratic and Labour Party").
func andJoins(d *doc, start, j int) bool {
	// "Academy of Arts and Sciences": one word each side, after "of".
	if j-start >= 3 && d.low[j-2] == "of" && !d.nameLike(j+2) {
		return true
	}
	k := j + 1
	for k < len(d.toks) && d.nameLike(k) {
		k++
	}
	switch headCues[d.words[k-1]] {
	case kParty, kOrg, kCompany, kPublisher, kUniversity:
		return k-j <= 3
	}
	return false
}

// eventPatterns finds dated events such as "2004 Canadian federal election"
// and "2009 European Parliament election in Italy", and adds a leading year
// to capitalised event names ("2010 FIFA World Cup").
func (b *Backend) eventPatterns(d *doc, cs []cand) []cand {
	n := len(d.toks)
	named := nameRun{last: -1}
	dated := datedRun{last: -1, joinTo: -1}
	for e := 0; e < n; e++ {
		k, ok := tailCues[d.low[e]]
		if !ok || k != kElection || d.low[e] == "leadership" || d.low[e] == "primary" {
			if hk := headCues[d.words[e]]; (hk == kEvent || hk == kFestival || hk == kElection) && !d.nameLike(e+1) {
				// Capitalised event name: take a year before its run.
				if s := named.start(d, e); s > 0 && d.is(s-1, fYear) {
					cs = append(cs, cand{s - 1, e + 1, prioPattern})
				}
			}
			continue
		}
		s, hasYear, hasName := dated.start(d, e)
		// Trim leading joiners and a month before the year only if a year follows.
		s = min(dated.joinersEnd(d, s), e)
		if !hasYear && !hasName {
			continue
		}
		end := e + 1
		if hasYear && end+1 < n && (d.low[end] == "in" || d.low[end] == "of") && d.nameLike(end+1) {
			k := end + 1
			for k < n && d.nameLike(k) {
				k++
			}
			end = k
		}
		cs = append(cs, cand{s, end, prioPattern})
	}
	return cs
}

// nameRun finds where the capitalised name that ends at token e starts: back
// over names and connectors, not past a sentence start. Asked for tokens in
// increasing order, it reads each token once, so a document of one endless
// name ("Festival of Festival of ...") costs O(n), not O(n²).
type nameRun struct {
	last int // the token last asked about, or -1
	from int // where its name starts
}

func (r *nameRun) start(d *doc, e int) int {
	for s := e; s > r.last; s-- {
		if s == 0 || d.is(s, fSentStart) || !(d.nameLike(s-1) || connectors[d.low[s-1]] && d.nameLike(s-2)) {
			r.last, r.from = e, s
			return s
		}
	}
	// No break since the token last asked about: the same name goes on.
	r.last = e
	return r.from
}

// datedRun finds where the dated phrase before an election word at token e
// starts ("2004 Canadian federal"), and whether it has a year and a name.
// Asked for tokens in increasing order, it reads each token once, as
// nameRun does.
type datedRun struct {
	last       int // the token last asked about, or -1
	from       int // where its phrase starts
	year, name int // the last year and the last name in its phrase, or -1

	// Tokens [joinFrom, joinTo) are joiners, and joinTo is not.
	joinFrom, joinTo int
}

func (r *datedRun) start(d *doc, e int) (s int, hasYear, hasName bool) {
	year, name := -1, -1
	s = -1
	for p := e - 1; p >= 0 && p >= r.last; p-- {
		if skipStart(d, p) {
			s = p + 1
			break
		}
		switch {
		case d.is(p, fYear):
			year = max(year, p)
		case d.nameLike(p):
			name = max(name, p)
		case electionWords[d.low[p]] || d.low[p] == "-" || d.low[p] == "–":
		case connectors[d.low[p]] && d.nameLike(p-1):
		default:
			s = p + 1
		}
		if s >= 0 {
			break
		}
		if d.is(p, fSentStart) {
			s = p
			break
		}
	}
	switch {
	case s >= 0:
	case r.last < 0:
		s = 0
	default:
		// No break since the token last asked about: the same phrase
		// goes on.
		s = r.from
		if year < 0 {
			year = r.year
		}
		if name < 0 {
			name = r.name
		}
	}
	r.last, r.from, r.year, r.name = e, s, year, name
	return s, year >= 0, name >= 0
}

// joinersEnd returns the first token from s on that is a year, a name or an
// election word. Asked for s in increasing order, it reads each token once.
func (r *datedRun) joinersEnd(d *doc, s int) int {
	if s < r.joinFrom || s > r.joinTo {
		r.joinFrom, r.joinTo = s, s
		for r.joinTo < len(d.toks) && !d.is(r.joinTo, fYear) && !d.nameLike(r.joinTo) && !electionWords[d.low[r.joinTo]] {
			r.joinTo++
		}
	}
	return r.joinTo
}

// quoted proposes short capitalised titles in quotes, without the quotes.
func quoted(d *doc, cs []cand) []cand {
	n := len(d.toks)
	for i := 0; i < n; i++ {
		open := d.words[i]
		var close string
		switch open {
		case "\"":
			close = "\""
		case "“":
			close = "”"
		case "'", "‘":
			close = map[string]string{"'": "'", "‘": "’"}[open]
		default:
			continue
		}
		for k := i + 1; k < n && k-i <= 12; k++ {
			if d.words[k] != close {
				continue
			}
			if k > i+1 && (d.nameLike(i+1) || d.is(i+1, fNum)) {
				cs = append(cs, cand{i + 1, k, prioQuote})
				i = k
			}
			break
		}
	}
	return cs
}

// notEnzymes end in "-ase" but are ordinary words.
var notEnzymes = set(`base bases case cases phase phases release releases increase increases decrease decreases database databases purchase purchases disease diseases ease vase chase erase phrase phrases showcase staircase suitcase briefcase lease crease cease please`)

// suffixTerms proposes lower-case enzyme names ("lactase") when the schema
// has a label for enzymes.
func (b *Backend) suffixTerms(d *doc, cs []cand) []cand {
	if !b.wants[kEnzyme] {
		return cs
	}
	for i, w := range d.low {
		if len(w) >= 7 && strings.HasSuffix(w, "ase") && !notEnzymes[w] && d.is(i, fWord) {
			cs = append(cs, cand{i, i + 1, prioLex})
		}
	}
	return cs
}
