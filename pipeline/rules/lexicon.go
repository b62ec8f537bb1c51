package rules

import (
	"embed"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// kind is a fine-grained entity class the rules know how to recognise. Kinds
// never reach the output: mediation turns them into archetypes, calibration
// matches their descriptions against the schema's labels.
type kind uint8

const (
	kNone kind = iota
	kPerson
	kCountry
	kCity
	kRegion
	kPlace
	kFacility
	kDemonym
	kLanguage
	kUniversity
	kOrg
	kCompany
	kRecordLabel
	kPublisher
	kParty
	kBand
	kEvent
	kWar
	kFestival
	kElection
	kConference
	kAward
	kJournal
	kMagazine
	kComposition
	kAstro
	kTheory
	kElement
	kCompound
	kEnzyme
	kProtein
	kDiscipline
	kProgLang
	kAlgorithm
	kMetric
	kTask
	kAIField
	kProduct
	kMusicGenre
	kLitGenre
	kInstrument
	kReligion
	numKinds
)

// kindInfo describes a kind: its archetype, the words calibration matches
// against label names and definitions (most telling first), and the lexicon
// file that lists examples of it.
type kindInfo struct {
	arch pipeline.Archetype
	desc []string
	file string
	// lower: lower-case words of this kind are names worth proposing ("jazz",
	// "machine learning") when the schema has a label for them.
	lower bool
}

var kinds = [numKinds]kindInfo{
	kPerson:      {pipeline.Person, []string{"person", "people", "individual"}, "", false},
	kCountry:     {pipeline.Location, []string{"country", "nation", "state"}, "country", false},
	kCity:        {pipeline.Location, []string{"city", "town", "location", "place"}, "city", false},
	kRegion:      {pipeline.Location, []string{"region", "state", "province", "continent", "location", "place"}, "region", false},
	kPlace:       {pipeline.Location, []string{"location", "place", "geographic"}, "", false},
	kFacility:    {pipeline.Location, []string{"venue", "arena", "building", "facility", "location", "place"}, "", false},
	kDemonym:     {pipeline.Misc, []string{"nationality", "language", "religion"}, "demonym", false},
	kLanguage:    {pipeline.Misc, []string{"language"}, "", false},
	kUniversity:  {pipeline.Organization, []string{"university", "college", "school"}, "", false},
	kOrg:         {pipeline.Organization, []string{"organisation", "institution", "agency"}, "organisation", false},
	kCompany:     {pipeline.Organization, []string{"company", "organisation"}, "", false},
	kRecordLabel: {pipeline.Organization, []string{"record", "label", "company", "organisation"}, "", false},
	kPublisher:   {pipeline.Organization, []string{"publisher", "company", "organisation"}, "", false},
	kParty:       {pipeline.Organization, []string{"party", "political", "organisation"}, "party", false},
	kBand:        {pipeline.Organization, []string{"band", "group", "ensemble"}, "band", false},
	kEvent:       {pipeline.Event, []string{"event"}, "", false},
	kWar:         {pipeline.Event, []string{"war", "battle", "event"}, "", false},
	kFestival:    {pipeline.Event, []string{"festival", "event"}, "", false},
	kElection:    {pipeline.Event, []string{"election", "referendum", "event"}, "", false},
	kConference:  {pipeline.Event, []string{"conference", "symposium", "workshop", "event"}, "conference", false},
	kAward:       {pipeline.Artifact, []string{"award", "prize", "honour"}, "award", false},
	kJournal:     {pipeline.CreativeWork, []string{"journal", "academic", "periodical"}, "journal", false},
	kMagazine:    {pipeline.CreativeWork, []string{"magazine", "newspaper", "periodical"}, "magazine", false},
	kComposition: {pipeline.CreativeWork, []string{"song", "composition", "work"}, "", false},
	kAstro:       {pipeline.Science, []string{"astronomical", "planet", "star", "moon"}, "astro", false},
	kTheory:      {pipeline.Science, []string{"theory", "law", "principle"}, "", false},
	kElement:     {pipeline.Science, []string{"element", "chemical"}, "element", true},
	kCompound:    {pipeline.Science, []string{"compound", "chemical", "substance"}, "compound", true},
	kEnzyme:      {pipeline.Biology, []string{"enzyme", "protein"}, "", true},
	kProtein:     {pipeline.Biology, []string{"protein", "hormone"}, "", false},
	kDiscipline:  {pipeline.Science, []string{"discipline", "field", "study", "science"}, "discipline", true},
	kProgLang:    {pipeline.ComputerScience, []string{"programming", "language"}, "programlang", false},
	kAlgorithm:   {pipeline.ComputerScience, []string{"algorithm", "method", "model"}, "algorithm", true},
	kMetric:      {pipeline.ComputerScience, []string{"metric", "measure", "evaluate"}, "metric", true},
	kTask:        {pipeline.ComputerScience, []string{"task", "problem"}, "task", true},
	kAIField:     {pipeline.Science, []string{"field", "research", "study", "discipline"}, "aifield", true},
	kProduct:     {pipeline.ComputerScience, []string{"product", "software", "system"}, "product", false},
	kMusicGenre:  {pipeline.Misc, []string{"music", "genre", "style"}, "musicgenre", true},
	kLitGenre:    {pipeline.Misc, []string{"literary", "genre", "form", "writing"}, "litgenre", true},
	kInstrument:  {pipeline.Artifact, []string{"instrument", "musical"}, "instrument", true},
	kReligion:    {pipeline.Political, []string{"religion", "ideology"}, "", false},
}

// kindSet is a set of kinds as a bit mask.
type kindSet uint64

func (s kindSet) has(k kind) bool { return s&(1<<k) != 0 }

// each calls f for each kind in s, in kind order.
func (s kindSet) each(f func(kind)) {
	for k := kind(1); k < numKinds; k++ {
		if s.has(k) {
			f(k)
		}
	}
}

// lexicon holds the word lists, keyed by token texts joined by one space.
// Entries written with a capital match their case exactly; lower-case
// entries match in any case.
type lexicon struct {
	exact, fold map[string]kindSet
	// starts maps a first token (exact or lower-cased) to the longest entry
	// it starts, so most windows are rejected without building a key.
	starts map[string]int
	first  map[string]bool // given names
}

//go:embed lexicon/*.txt
var lexFiles embed.FS

// lex returns the lexicon, built once; it is read-only afterwards.
var lex = sync.OnceValue(func() *lexicon {
	l := &lexicon{
		exact:  map[string]kindSet{},
		fold:   map[string]kindSet{},
		starts: map[string]int{},
		first:  map[string]bool{},
	}
	for _, name := range readEntries("firstname") {
		l.first[name] = true
	}
	for k := kind(1); k < numKinds; k++ {
		if kinds[k].file == "" {
			continue
		}
		for _, e := range readEntries(kinds[k].file) {
			l.add(e, k)
		}
	}
	return l
})

// Lexicon is one of the backend's word lists: a file of pipeline/rules/lexicon.
type Lexicon struct {
	Name    string // the file's name without ".txt"
	Entries []string
}

// Lexicons returns the backend's word lists, by file name, for other
// taggers to use as features. Each call returns a new copy.
func Lexicons() []Lexicon {
	files, err := fs.Glob(lexFiles, "lexicon/*.txt")
	if err != nil {
		panic("rules: " + err.Error()) // a constant pattern
	}
	out := make([]Lexicon, len(files))
	for i, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".txt")
		out[i] = Lexicon{Name: name, Entries: readEntries(name)}
	}
	return out
}

// readEntries reads a lexicon file: entries separated by "|" or new lines,
// "#" starts a comment line.
func readEntries(file string) []string {
	b, err := lexFiles.ReadFile("lexicon/" + file + ".txt")
	if err != nil {
		panic("rules: missing lexicon " + file) // embedded: a build error
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, e := range strings.Split(line, "|") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

func (l *lexicon) add(entry string, k kind) {
	toks := text.Tokenize(entry)
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = t.Text
	}
	key := strings.Join(parts, " ")
	if key == strings.ToLower(key) {
		l.fold[key] |= 1 << k
		l.start(parts[0], len(parts))
		return
	}
	l.exact[key] |= 1 << k
	l.start(parts[0], len(parts))
	l.start(strings.ToLower(parts[0]), len(parts))
}

func (l *lexicon) start(tok string, n int) {
	if n > l.starts[tok] {
		l.starts[tok] = n
	}
}

// lookup returns the kinds of the entry spelled by toks (original and lower
// case), and whether it matched with exact case. Exact matches win.
func (l *lexicon) lookup(toks, low []string) (kindSet, bool) {
	switch len(toks) {
	case 0:
		return 0, false
	case 1:
		if s := l.exact[toks[0]]; s != 0 {
			return s, true
		}
		return l.fold[low[0]], false
	}
	// Lookups run at almost every token of a document: keys are joined in
	// a buffer on the stack, and indexing with string(key) copies nothing.
	var buf [128]byte
	key := joinKey(buf[:0], toks)
	if s := l.exact[string(key)]; s != 0 {
		return s, true
	}
	return l.fold[string(joinKey(key[:0], low))], false
}

// joinKey appends words joined by one space, as lexicon keys are, to dst.
func joinKey(dst []byte, words []string) []byte {
	for i, w := range words {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, w...)
	}
	return dst
}
