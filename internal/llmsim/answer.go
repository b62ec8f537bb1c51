package llmsim

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Request kinds, as zeroner's SAM-NER prompts name them.
const (
	KindAnchor    = "anchor"
	KindExplorer  = "explorer"
	KindMediate   = "mediate"
	KindCalibrate = "calibrate"
	KindLabelMap  = "label-map"
	KindOther     = "other"
)

var kinds = []string{KindAnchor, KindExplorer, KindMediate, KindCalibrate, KindLabelMap}

// kindOf recognises a request by its response_format schema name
// ("zeroner_anchor", ...) or, failing that, by the "[zeroner:KIND]" marker
// that starts the system message.
func kindOf(schemaName, system string) string {
	for _, k := range kinds {
		if schemaName == "zeroner_"+strings.ReplaceAll(k, "-", "_") {
			return k
		}
	}
	for _, k := range kinds {
		if strings.HasPrefix(strings.TrimSpace(system), "[zeroner:"+k+"]") {
			return k
		}
	}
	return KindOther
}

// chat is what the answer to a request depends on.
type chat struct {
	kind   string
	system string
	user   string
	schema json.RawMessage
	convo  string // a hash of every message, which seeds small-model faults
}

// answer is a model's reply with the byte ranges of its low-confidence
// values (labels changed by noise), for log probabilities.
type answer struct {
	content string
	low     [][2]int
}

// rng returns a generator seeded by the server's seed and parts, so every
// noisy decision depends only on what it is about.
func (s *Server) rng(parts ...string) *rand.Rand {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], s.opt.Seed)
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	x := h.Sum64()
	return rand.New(rand.NewPCG(x, x^0x9e3779b97f4a7c15))
}

// payload decodes the JSON line that ends a user message.
func payload(user string, v any) error {
	line := strings.TrimSpace(user[strings.LastIndex(strings.TrimRight(user, "\n"), "\n")+1:])
	return json.Unmarshal([]byte(line), v)
}

// reply answers a zeroner request; another request gets "{}".
func (s *Server) reply(c chat) answer {
	t := &turn{chat: c, faults: map[string]int64{}}
	t.sch, _ = parseSchema(c.schema) // one it cannot read: answer in the default order
	var v object
	var err error
	switch c.kind {
	case KindAnchor, KindExplorer:
		v, err = s.discover(t)
	case KindMediate:
		v, err = s.mediate(t)
	case KindCalibrate:
		v, err = s.calibrate(t)
	case KindLabelMap:
		v, err = s.labelMap(t)
	default:
		return answer{content: "{}"}
	}
	if err != nil { // not zeroner's format after all: an empty object
		return answer{content: "{}"}
	}
	w := writer{indent: s.opt.Small.Indent}
	var order *schemaNode
	if s.opt.Small.SchemaOrder {
		order = t.sch
	}
	w.write(v, order, 0)
	s.countSmall(t.faults)
	return answer{content: w.b.String(), low: w.low}
}

// turn is one request being answered: its chat, its answer schema (nil
// when it has none the simulator can read) and the small-model faults
// injected into its answer.
type turn struct {
	chat
	sch    *schemaNode
	faults map[string]int64
}

// pick is a mention an extractor reports.
type pick struct {
	start, end int // code points in the passage
	label      string
}

func (s *Server) discover(t *turn) (object, error) {
	var in struct {
		Passages []struct {
			ID   int    `json:"id"`
			Text string `json:"text"`
		} `json:"passages"`
	}
	if err := payload(t.user, &in); err != nil {
		return nil, err
	}
	labels := allowedLabels(t)
	miss, spurious := s.opt.Noise.AnchorMiss, s.opt.Noise.AnchorSpurious
	if t.kind == KindExplorer {
		miss, spurious = s.opt.Noise.ExplorerMiss, s.opt.Noise.ExplorerSpurious
	}
	res := []any{}
	items := make([]item, len(in.Passages))
	for k, p := range in.Passages {
		items[k] = newItem(p.Text)
	}
	ents := s.gold.entities(items)
	for pi, p := range in.Passages {
		r := s.rng(t.kind, p.Text)
		picks := s.noisyPicks(items[pi], ents[pi], r, miss, spurious, labels)
		out := passageOut(t.kind, p.ID, p.Text, picks, labels)
		if r, ok := s.slip(t, SmallEmptyMention, pi, s.opt.Small.EmptyMention); ok {
			out = invalidMention(t, r, out, items[pi], picks, labels)
		}
		res = append(res, out)
		if r, ok := s.slip(t, SmallRepeatID, pi, s.opt.Small.RepeatID); ok {
			if again, ok := passageAgain(r, t.kind, p.ID, items[pi], picks, labels); ok {
				res = append(res, again)
				t.faults[SmallRepeatID]++
			}
		}
	}
	return object{{"passages", res}}, nil
}

// noisyPicks are the gold mentions of a passage as an extractor with the
// given miss and spurious rates reports them.
func (s *Server) noisyPicks(it item, golds []span, r *rand.Rand, miss, spurious float64, labels []string) []pick {
	var picks []pick
	for _, g := range golds {
		if r.Float64() < miss {
			continue
		}
		pk := pick{g.start, g.end, g.label}
		if r.Float64() < s.opt.Noise.Boundary {
			pk = shift(it, pk, r)
		}
		picks = append(picks, pk)
	}
	if spurious > 0 {
		for k, t := range it.toks {
			if !generic(t) || insideAny(golds, it.starts[k]) {
				continue
			}
			if r.Float64() < spurious {
				picks = append(picks, pick{it.starts[k], it.ends[k], labels[r.IntN(len(labels))]})
			}
		}
	}
	return picks
}

// passageOut is a passage's answer: {"id", "mentions"} of the explorer,
// whose mentions are strings or {"text", "occurrence"}, or {"id",
// "entities"} of the anchor, whose entities are {"text", "label"} or
// {"text", "occurrence", "label"}. A label the request does not allow
// becomes misc, or its first label.
func passageOut(kind string, id int, passage string, picks []pick, labels []string) object {
	list := []any{}
	for _, pk := range picks {
		m, ok := mentionAt(passage, pk.start, pk.end)
		if !ok {
			continue
		}
		if kind == KindExplorer {
			if len(m) == 1 {
				list = append(list, m[0].val) // a string that occurs once
			} else {
				list = append(list, m)
			}
			continue
		}
		l := pk.label
		if !slices.Contains(labels, l) {
			l = labels[0]
			if slices.Contains(labels, "misc") {
				l = "misc"
			}
		}
		list = append(list, append(m, member{"label", l}))
	}
	if kind == KindExplorer {
		return object{{"id", id}, {"mentions", list}}
	}
	return object{{"id", id}, {"entities", list}}
}

// mentionAt writes the mention at [start, end) of a passage as {"text"},
// or as {"text", "occurrence": k} when the string occurs more than once,
// k counting its word-boundary occurrences from 1. Leaving out the
// occurrence of a string that occurs once is right whether a reader takes
// it as the first occurrence or as every one.
func mentionAt(passage string, start, end int) (object, bool) {
	s := text.Slice(passage, start, end)
	occ := text.Find(passage, s)
	for k, o := range occ {
		if o.Start == start && o.End == end {
			if len(occ) == 1 {
				return object{{"text", s}}, true
			}
			return object{{"text", s}, {"occurrence", k + 1}}, true
		}
	}
	return nil, false
}

// shift moves one boundary of a mention by a token: out when it can, in
// when the mention has more than one token.
func shift(it item, pk pick, r *rand.Rand) pick {
	a := slices.Index(it.starts, pk.start)
	b := slices.Index(it.ends, pk.end)
	if a < 0 || b < 0 {
		return pk
	}
	var moves []pick
	if a > 0 {
		moves = append(moves, pick{it.starts[a-1], pk.end, pk.label})
	}
	if b+1 < len(it.toks) {
		moves = append(moves, pick{pk.start, it.ends[b+1], pk.label})
	}
	if b > a {
		moves = append(moves, pick{it.starts[a+1], pk.end, pk.label}, pick{pk.start, it.ends[b-1], pk.label})
	}
	if len(moves) == 0 {
		return pk
	}
	return moves[r.IntN(len(moves))]
}

func insideAny(golds []span, p int) bool {
	for _, g := range golds {
		if g.start <= p && p < g.end {
			return true
		}
	}
	return false
}

// stop are common words that even an over-eager extractor leaves alone.
var stop = map[string]bool{
	"that": true, "this": true, "with": true, "from": true, "were": true, "have": true, "which": true,
	"their": true, "there": true, "been": true, "also": true, "into": true, "when": true, "they": true,
	"than": true, "other": true, "more": true, "after": true, "such": true, "these": true, "many": true,
	"most": true, "some": true, "over": true, "only": true, "first": true, "would": true, "about": true,
	"while": true, "where": true, "between": true, "during": true, "both": true, "each": true, "them": true,
	"then": true, "what": true, "will": true, "being": true, "through": true, "under": true, "before": true,
	"until": true, "since": true, "upon": true, "those": true, "however": true, "although": true,
	"because": true, "including": true, "known": true, "became": true, "later": true, "well": true,
}

// generic reports whether a token is an ordinary lower-case word of four
// letters or more: what an over-eager extractor proposes ("data", "system").
func generic(t string) bool {
	if len(t) < 4 || stop[t] {
		return false
	}
	for _, c := range t {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// allowedLabels reads the labels an anchor answer may use: the label enum
// of the answer schema's entities, else the "- name: definition" lines
// after "Labels:" in the system message.
func allowedLabels(t *turn) []string {
	out := slices.Clone(t.sch.enumAt("passages", "entities", "label"))
	if len(out) == 0 {
		in := false
		for _, line := range strings.Split(t.system, "\n") {
			switch {
			case strings.HasPrefix(line, "Labels:"):
				in = true
			case in && strings.HasPrefix(line, "- "):
				if name, _, ok := strings.Cut(line[2:], ":"); ok {
					out = append(out, name)
				}
			case in:
				in = len(out) == 0
			}
		}
	}
	if len(out) == 0 {
		out = []string{"misc"}
	}
	slices.Sort(out)
	return out
}

// mentionRef is a mention of a mediation or calibration input. A
// calibration in narrowed mode lists its candidates; in whole-schema mode
// it has none and may take any label of the request, the labels "likely"
// for its archetype being a hint.
type mentionRef struct {
	ID         int      `json:"id"`
	Text       string   `json:"text"`
	Occurrence int      `json:"occurrence"`
	Archetype  string   `json:"archetype"`
	Candidates []string `json:"candidates"`
	Likely     []string `json:"likely"`
}

type mentionInput struct {
	Passages []struct {
		Text     string       `json:"text"`
		Mentions []mentionRef `json:"mentions"`
	} `json:"passages"`
}

// golds returns the gold entities of each passage.
func (s *Server) golds(in mentionInput) [][]span {
	items := make([]item, len(in.Passages))
	for k, p := range in.Passages {
		items[k] = newItem(p.Text)
	}
	return s.gold.entities(items)
}

// goldLabel returns the gold label of a mention of a passage, "" for none.
func goldLabel(passage string, golds []span, m mentionRef) (string, [2]int) {
	occ := text.Find(passage, m.Text)
	k := max(m.Occurrence, 1)
	if k > len(occ) {
		return "", [2]int{}
	}
	o := occ[k-1]
	for _, g := range golds {
		if g.start == o.Start && g.end == o.End {
			return g.label, [2]int{o.Start, o.End}
		}
	}
	return "", [2]int{o.Start, o.End}
}

// mediate answers each mention's archetype: the first archetype of its
// gold label, misc for a mention that is not gold.
func (s *Server) mediate(t *turn) (object, error) {
	var in mentionInput
	if err := payload(t.user, &in); err != nil {
		return nil, err
	}
	res := []any{}
	ents := s.golds(in)
	n := 0
	for pi, p := range in.Passages {
		golds := ents[pi]
		for _, m := range p.Mentions {
			label, at := goldLabel(p.Text, golds, m)
			arch := pipeline.Misc
			if label != "" {
				arch = s.archetypes(label)[0]
			}
			r := s.rng(KindMediate, p.Text, m.Text, strconv.Itoa(at[0]))
			if r.Float64() < s.opt.Noise.Archetype {
				arch = pipeline.Archetype(other(r, archetypeNames, string(arch)))
			}
			o := object{{"id", m.ID}, {"text", m.Text}, {"archetype", string(arch)}}
			res = append(res, o)
			if r, ok := s.slip(t, SmallRepeatID, n, s.opt.Small.RepeatID); ok {
				res = append(res, o.with("archetype", other(r, archetypeNames, string(arch))))
				t.faults[SmallRepeatID]++
			}
			n++
		}
	}
	return object{{"mentions", s.loseCount(t, res)}}, nil
}

// other picks a value of choices other than not, "" when there is none.
func other(r *rand.Rand, choices []string, not string) string {
	out := slices.DeleteFunc(slices.Clone(choices), func(c string) bool { return c == not })
	if len(out) == 0 {
		return ""
	}
	return out[r.IntN(len(out))]
}

// archetypeNames are the archetypes as strings.
var archetypeNames = func() []string {
	out := make([]string, len(pipeline.Archetypes))
	for i, a := range pipeline.Archetypes {
		out[i] = string(a)
	}
	return out
}()

// calibrate answers each mention's gold label when it is allowed, else the
// fallback. In narrowed mode the allowed labels are the mention's
// candidates and the fallback the last of them (zeroner lists it last);
// in whole-schema mode they are the request's labels (see wholeSchema).
func (s *Server) calibrate(t *turn) (object, error) {
	var in mentionInput
	if err := payload(t.user, &in); err != nil {
		return nil, err
	}
	requestLabels := t.sch.enumAt("mentions", "label")
	whole, fallback := s.wholeSchema(requestLabels)
	res := []any{}
	ents := s.golds(in)
	n := 0
	for pi, p := range in.Passages {
		golds := ents[pi]
		for _, m := range p.Mentions {
			allowed, fb := whole, fallback
			if len(m.Candidates) > 0 {
				allowed, fb = m.Candidates, m.Candidates[len(m.Candidates)-1]
			}
			label, at := goldLabel(p.Text, golds, m)
			if !slices.Contains(allowed, label) {
				label = fb
			}
			var v any = label
			r := s.rng(KindCalibrate, p.Text, m.Text, strconv.Itoa(at[0]))
			if len(allowed) > 1 && r.Float64() < s.opt.Noise.Label {
				// A model that errs mostly takes a label its archetype
				// makes likely.
				l := other(r, slices.DeleteFunc(slices.Clone(m.Likely), func(l string) bool { return !slices.Contains(allowed, l) }), label)
				if l == "" {
					l = other(r, allowed, label)
				}
				label, v = l, unsure(l)
			}
			if r, ok := s.slip(t, SmallOffLabel, n, s.opt.Small.OffLabel); ok {
				v = s.offLabel(r, m, allowed, requestLabels)
				t.faults[SmallOffLabel]++
			}
			o := object{{"id", m.ID}, {"text", m.Text}, {"label", v}}
			res = append(res, o)
			if r, ok := s.slip(t, SmallRepeatID, n, s.opt.Small.RepeatID); ok {
				if l := other(r, allowed, label); l != "" {
					res = append(res, o.with("label", l))
					t.faults[SmallRepeatID]++
				}
			}
			n++
		}
	}
	return object{{"mentions", s.loseCount(t, res)}}, nil
}

// wholeSchema returns the labels a calibration in whole-schema mode may
// answer, and its fallback. They are the request's labels (the enum of
// its schema) when it has them: the fallback is then that of a schema
// given to the server that holds them all, else misc if among them, else
// the last of them. Without, they are the labels of the schemas and of
// the gold data, with the first schema's fallback, else misc.
func (s *Server) wholeSchema(requestLabels []string) ([]string, string) {
	if len(requestLabels) == 0 {
		fallback := "misc"
		if len(s.opt.Schemas) > 0 && s.opt.Schemas[0].Fallback != "" {
			fallback = s.opt.Schemas[0].Fallback
		}
		labels := s.labels
		if !slices.Contains(labels, fallback) {
			labels = append(slices.Clone(labels), fallback)
		}
		return labels, fallback
	}
	for _, sc := range s.opt.Schemas {
		if slices.Contains(requestLabels, sc.Fallback) && !slices.ContainsFunc(requestLabels, func(l string) bool { return sc.Label(l) == nil }) {
			return requestLabels, sc.Fallback
		}
	}
	if slices.Contains(requestLabels, "misc") {
		return requestLabels, "misc"
	}
	return requestLabels, requestLabels[len(requestLabels)-1]
}

// labelMap answers each label's archetypes, labels in alphabetical order.
func (s *Server) labelMap(t *turn) (object, error) {
	var in struct {
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
	}
	if err := payload(t.user, &in); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(in.Labels))
	for _, l := range in.Labels {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	res := object{}
	for _, l := range names {
		as := []any{}
		for _, a := range s.archetypes(l) {
			as = append(as, string(a))
		}
		res = append(res, member{l, as})
	}
	return object{{"labels", res}}, nil
}

// tokens cuts an answer into tokens as a model might: runs of letters or
// digits, and single other characters.
func tokens(s string) []string {
	var out []string
	start := 0
	word := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r >= 0x80
	}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		j := i + w
		if word(r) {
			for j < len(s) {
				r2, w2 := utf8.DecodeRuneInString(s[j:])
				if !word(r2) {
					break
				}
				j += w2
			}
		}
		out = append(out, s[start:j])
		start, i = j, j
	}
	return out
}
