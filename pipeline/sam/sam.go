// Package sam is zeroner's SAM-NER backend over any chat model behind the
// pipeline.LLM interface: discovery by cooperating extractors and consensus
// over offsets, mediation into the 14 archetypes, calibration into the
// target schema.
//
// # Passages and requests
//
// The unit of text a model sees is a passage: a whole document when it fits
// in Options.ChunkTokens, else a chunk of whole sentences (pipeline/text
// sentences, overlapping by Options.ChunkOverlap sentences; a sentence longer
// than the budget is cut at word boundaries into pieces that overlap by a few
// words). Passages rather than single sentences are the unit because a
// sentence splitter sometimes cuts inside a name ("the I. I. Rabi Award");
// with overlapping chunks every sentence boundary lies inside some passage.
// A request packs passages, of one or several documents, up to
// Options.RequestTokens of text (estimated as bytes/4),
// Options.PassagesPerRequest passages and, for mediate and calibrate,
// Options.MentionsPerRequest mentions; Profile gives the sizes for large
// hosted models and for open 7-8B ones. Instructions, definitions and the
// schema's examples are the system message and do not vary between requests
// of a stage, so servers with prefix caching reuse them; passages are the
// user message. Each request's max_tokens is sized from the answer it
// expects (answerTokens); an answer cut off at the limit anyway is asked
// again in two halves, recursively, down to one passage of one sentence, or
// one mention, which is asked again with twice the budget (up to 4,096
// tokens).
//
// # Wire format
//
// Every system message starts with a marker line "[zeroner:KIND]" (KIND is
// anchor, explorer, mediate, calibrate or label-map) and every prompt has the
// schema name "zeroner_KIND" (label-map: "zeroner_label_map"). The user
// message ends with one line of JSON, the input:
//
//	anchor, explorer: {"passages":[{"id":1,"text":"..."}]}
//	mediate:          {"passages":[{"text":"...","mentions":[{"id":1,"text":"...","occurrence":2}]}]}
//	calibrate:        {"passages":[{"text":"...","mentions":[{"id":1,"text":"...","occurrence":2,"archetype":"person"}]}]}
//	label-map:        {"labels":[{"name":"...","description":"..."}]}
//
// Whole-schema calibration lists every label in its system message, each
// with the archetypes the label map ties it to, as a hint; any label may be
// answered. Narrowed calibration gives each mention "candidates", the labels
// allowed, and their definitions with the passages. "occurrence"
// (1-based, among the word-boundary occurrences of the string in the
// passage, see text.Find) is given when the string occurs more than once.
// The answers, with keys in this order (the JSON schemas list them so:
// constrained decoders write keys in schema order, and a model that writes
// an item's id and text before its decision keeps its place in a long list):
//
//	anchor:    {"passages":[{"id":1,"entities":[{"text":"mention","label":"LABEL"},{"text":"mention","occurrence":2,"label":"LABEL"}]}]}
//	explorer:  {"passages":[{"id":1,"mentions":["mention",{"text":"mention","occurrence":2}]}]}
//	mediate:   {"mentions":[{"id":1,"text":"mention","archetype":"person"}]}
//	calibrate: {"mentions":[{"id":1,"text":"mention","label":"researcher"}]}
//	label-map: {"labels":{"researcher":["person"]}}
//
// The anchor's grouped forms ({"label","mentions"} items, or an object of
// label -> mentions) are taken too.
//
// # Answers, item by item
//
// Only an answer of the wrong shape (not JSON, no list) is invalid as a
// whole; the client re-asks it. Otherwise each item is taken or dropped on
// its own, and counted in Stats.Problems: an unknown or repeated id (the
// first answer wins), an empty mention, a label outside the schema or the
// mention's choices; an occurrence below 1 is ignored. The echoed text
// repairs a model that lost count of ids: an item goes to the mention its
// text names, nearest its id. The mentions of mediate and calibrate that an
// answer left out or got wrong are asked again, on their own, up to
// Options.FollowUps times.
//
// # Alignment
//
// A mention string is put on its passage with text.Find: every occurrence
// at word boundaries, in code points, or only the given occurrence. A string
// that is not found is looked for ignoring white space around punctuation
// and quote style (text.FindLoose), still at word boundaries; offsets always
// come from the passage. A string found neither way is dropped and counted
// in Stats, with a few examples; nothing is guessed. An occurrence index past
// the string's count is ignored (every occurrence is kept) and counted.
//
// # Failures
//
// A request that fails in transport after the client's own retries, whose
// answer never validates, or that cannot be made smaller after a cut-off
// becomes a pipeline.Failure for each document it served, naming the
// extractor or stage and the document's passages in it; so do the mentions
// of mediate and calibrate that no follow-up answered, by name. The stage
// goes on with its other requests and gives the affected mentions a safe
// default (no spans from that extractor, archetype misc, the fallback label
// with score 0). If more than half of a stage call's requests fail in
// transport, the call returns an error instead, so the activity is retried
// (cached answers make the retry cheap). A cancelled context returns
// ctx.Err().
package sam

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
)

// Extractor names, as they appear in Mention.Extractors.
const (
	Anchor    = "anchor"    // precision-oriented, schema-guided LLM prompt
	Explorer  = "explorer"  // recall-oriented LLM prompt
	Rules     = "rules"     // the built-in rules backend's discovery
	Gazetteer = "gazetteer" // the user's surface strings
)

// Options configure a Backend. The zero value is SAM-NER as the paper runs
// it (anchor and explorer, the single-word rule), with ProfileLarge's request
// sizes and whole-schema calibration.
type Options struct {
	// Models per stage; "" is the client's default model.
	Anchor, Explorer, Mediate, Calibrate, Map string

	// Extractors are the discovery voters: any of "anchor", "explorer",
	// "rules". Default anchor and explorer. A non-empty Gazetteer adds the
	// "gazetteer" voter.
	Extractors []string
	// Gazetteer maps a label of the schema to surface strings; every
	// word-boundary occurrence of a string is a vote for its span.
	Gazetteer map[string][]string

	// MinVotes keeps a span proposed by at least this many voters. Default 2.
	MinVotes int
	// NoSingleWordRule turns off the paper's rule, which also keeps every
	// anchor span and every explorer span of more than one word (an explorer
	// span without white space needs the anchor, or MinVotes votes). With
	// the rule off, only MinVotes decides.
	NoSingleWordRule bool

	// RequestTokens is the text budget of one request, in tokens estimated
	// as bytes/4: its passages and, for mediate and calibrate, a few
	// tokens per mention. Default 1500 (ProfileLarge).
	RequestTokens int
	// PassagesPerRequest caps the passages of one request. Default 32.
	PassagesPerRequest int
	// MentionsPerRequest caps the mentions of one mediate or calibrate
	// request. Default 96.
	MentionsPerRequest int
	// ChunkTokens is the largest passage; longer documents are cut into
	// chunks of sentences. Default and maximum RequestTokens.
	ChunkTokens int
	// ChunkOverlap is the number of sentences a chunk shares with the
	// previous one. Default 1; negative for none.
	ChunkOverlap int
	// FollowUps bounds how often the mentions that an answer left out or
	// got wrong are asked again, in smaller requests of their own. Default
	// 3; negative for none.
	FollowUps int

	// Calibration is CalibrateWhole (the default: the calibrator sees every
	// label, with the labels the label map ties to the mention's archetype
	// as a hint) or CalibrateNarrowed (only those labels and the fallback
	// are offered, and a mention with the fallback as its only candidate
	// gets it without a request).
	Calibration string

	// Concurrency is the number of requests of one stage call in flight.
	// Default 16; the LLM client enforces the global limits.
	Concurrency int
	// LogProbs asks for token log probabilities in calibration, for scores.
	LogProbs bool
}

func (o Options) withDefaults() Options {
	if len(o.Extractors) == 0 {
		o.Extractors = []string{Anchor, Explorer}
	}
	if o.MinVotes <= 0 {
		o.MinVotes = 2
	}
	if o.RequestTokens <= 0 {
		o.RequestTokens = 1500
	}
	if o.PassagesPerRequest <= 0 {
		o.PassagesPerRequest = 32
	}
	if o.MentionsPerRequest <= 0 {
		o.MentionsPerRequest = 96
	}
	if o.FollowUps == 0 {
		o.FollowUps = 3
	}
	if o.FollowUps < 0 {
		o.FollowUps = 0
	}
	if o.Calibration == "" {
		o.Calibration = CalibrateWhole
	}
	if o.ChunkTokens <= 0 || o.ChunkTokens > o.RequestTokens {
		o.ChunkTokens = o.RequestTokens
	}
	if o.ChunkOverlap == 0 {
		o.ChunkOverlap = 1
	}
	if o.ChunkOverlap < 0 {
		o.ChunkOverlap = 0
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	return o
}

// Calibration modes (Options.Calibration).
const (
	CalibrateWhole    = "whole"
	CalibrateNarrowed = "narrowed"
)

// Profiles size requests for a kind of model (Profile).
const (
	// ProfileLarge packs up to 1,500 tokens of text, 32 passages and 96
	// mentions into a request: for hosted models with long outputs, and
	// the default, since it spends the fewest tokens on instructions.
	ProfileLarge = "large"
	// ProfileSmall packs up to 400 tokens, 8 passages and 16 mentions:
	// for open 7-8B models (vLLM, Ollama), whose answers go astray over
	// long lists and whose context is 8k tokens.
	ProfileSmall = "small"
)

// Profile returns the request sizes of a profile, to be completed with
// the other options.
func Profile(name string) (Options, error) {
	switch name {
	case "", ProfileLarge:
		return Options{RequestTokens: 1500, PassagesPerRequest: 32, MentionsPerRequest: 96}, nil
	case ProfileSmall:
		return Options{RequestTokens: 400, PassagesPerRequest: 8, MentionsPerRequest: 16}, nil
	}
	return Options{}, fmt.Errorf("sam: unknown profile %q (want %s or %s)", name, ProfileLarge, ProfileSmall)
}

// Backend implements pipeline.Backend with a chat model. It is safe for
// concurrent use.
type Backend struct {
	schema   *pipeline.Schema
	llm      pipeline.LLM
	opt      Options
	labels   map[string]bool
	voters   []string // sorted extractor names
	gaz      []string // gazetteer surfaces, deduplicated
	rules    *rules.Backend
	system   map[string]string // system message per request kind
	fallback string

	mapMu  sync.Mutex
	compat map[string]map[pipeline.Archetype]bool // label -> archetypes; nil until computed

	statsMu sync.Mutex
	stats   Stats
}

// Stats are counters since New, for inspection and run reports.
type Stats struct {
	Requests       int64 // requests asked, all stages
	Invalid        int64 // requests whose answer never validated
	Transport      int64 // requests that failed otherwise
	Unaligned      int64 // mention strings not found in their passage, dropped
	BadOccurrence  int64 // occurrence indexes past the string's count, ignored
	Loose          int64 // mention strings placed by tolerant alignment (white space, quotes)
	Omitted        int64 // mentions still without an answer after the follow-ups
	Problems       int64 // answer items dropped or repaired (unknown or repeated id, empty mention, bad label)
	FollowUps      int64 // mentions asked again after an answer left them out or got them wrong
	Splits         int64 // requests split in two, or given a larger budget, after a cut-off answer
	LabelMapErrors int64 // label -> archetype maps that never validated (all labels are candidates then)
	// UnalignedExamples are the first few unaligned strings, as
	// "extractor: \"string\"", and ProblemExamples the first few problems.
	UnalignedExamples []string
	ProblemExamples   []string
}

const maxExamples = 20

// Stats returns a copy of the counters.
func (b *Backend) Stats() Stats {
	b.statsMu.Lock()
	defer b.statsMu.Unlock()
	s := b.stats
	s.UnalignedExamples = slices.Clone(s.UnalignedExamples)
	s.ProblemExamples = slices.Clone(s.ProblemExamples)
	return s
}

// problems counts the problems of an answer's items, keeping a few.
func (b *Backend) problems(kind string, ps []string) {
	if len(ps) == 0 {
		return
	}
	b.count(func(s *Stats) {
		s.Problems += int64(len(ps))
		for _, p := range ps {
			if len(s.ProblemExamples) >= maxExamples {
				break
			}
			s.ProblemExamples = append(s.ProblemExamples, kind+": "+p)
		}
	})
}

func (b *Backend) count(f func(s *Stats)) {
	b.statsMu.Lock()
	f(&b.stats)
	b.statsMu.Unlock()
}

// New returns the SAM-NER backend for schema s over model m.
func New(s *pipeline.Schema, m pipeline.LLM, opt Options) (*Backend, error) {
	if s == nil || len(s.Labels) == 0 {
		return nil, errors.New("sam: no schema")
	}
	if m == nil {
		return nil, errors.New("sam: no LLM")
	}
	opt = opt.withDefaults()
	if opt.Calibration != CalibrateWhole && opt.Calibration != CalibrateNarrowed {
		return nil, fmt.Errorf("sam: unknown calibration %q (want %s or %s)", opt.Calibration, CalibrateWhole, CalibrateNarrowed)
	}
	b := &Backend{schema: s, llm: m, opt: opt, labels: make(map[string]bool), fallback: s.Fallback}
	for _, l := range s.Labels {
		b.labels[l.Name] = true
	}
	if b.fallback == "" || !b.labels[b.fallback] {
		return nil, fmt.Errorf("sam: schema %q: fallback label %q is not a label", s.Name, s.Fallback)
	}
	seen := make(map[string]bool)
	for _, e := range opt.Extractors {
		switch e {
		case Anchor, Explorer:
		case Rules:
			b.rules = rules.New(s)
		default:
			return nil, fmt.Errorf("sam: unknown extractor %q (want anchor, explorer or rules)", e)
		}
		if !seen[e] {
			seen[e] = true
			b.voters = append(b.voters, e)
		}
	}
	gazSeen := make(map[string]bool)
	for label, surfaces := range opt.Gazetteer {
		if !b.labels[label] {
			return nil, fmt.Errorf("sam: gazetteer label %q is not in schema %q", label, s.Name)
		}
		for _, g := range surfaces {
			if g != "" && !gazSeen[g] {
				gazSeen[g] = true
				b.gaz = append(b.gaz, g)
			}
		}
	}
	if len(b.gaz) > 0 {
		slices.Sort(b.gaz)
		b.voters = append(b.voters, Gazetteer)
	}
	slices.Sort(b.voters)
	b.system = systemPrompts(s)
	b.initCompat()
	return b, nil
}

// Name implements pipeline.Backend.
func (b *Backend) Name() string { return "sam" }
