package llmsim

import (
	"bytes"
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

func marshal(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // only plain maps, slices and strings
	return strings.TrimRight(buf.String(), "\n")
}

// reply answers a zeroner request; another request gets "{}".
func (s *Server) reply(c chat) answer {
	var a answer
	var err error
	switch c.kind {
	case KindAnchor, KindExplorer:
		a, err = s.discover(c)
	case KindMediate:
		a, err = s.mediate(c)
	case KindCalibrate:
		a, err = s.calibrate(c)
	case KindLabelMap:
		a, err = s.labelMap(c)
	default:
		return answer{content: "{}"}
	}
	if err != nil { // not zeroner's format after all: an empty object
		return answer{content: "{}"}
	}
	return a
}

// pick is a mention an extractor reports.
type pick struct {
	start, end int // code points in the passage
	label      string
}

func (s *Server) discover(c chat) (answer, error) {
	var in struct {
		Passages []struct {
			ID   int    `json:"id"`
			Text string `json:"text"`
		} `json:"passages"`
	}
	if err := payload(c.user, &in); err != nil {
		return answer{}, err
	}
	labels := allowedLabels(c)
	miss, spurious := s.opt.Noise.AnchorMiss, s.opt.Noise.AnchorSpurious
	if c.kind == KindExplorer {
		miss, spurious = s.opt.Noise.ExplorerMiss, s.opt.Noise.ExplorerSpurious
	}
	res := []any{}
	items := make([]item, len(in.Passages))
	for k, p := range in.Passages {
		items[k] = newItem(p.Text)
	}
	ents := s.gold.entities(items)
	for pi, p := range in.Passages {
		r := s.rng(c.kind, p.Text)
		picks := s.noisyPicks(items[pi], ents[pi], r, miss, spurious, labels)
		res = append(res, discoverOut(c.kind, p.ID, p.Text, picks, labels))
	}
	return answer{content: marshal(map[string]any{"passages": res})}, nil
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

// discoverOut is a passage's answer: the explorer's mentions, or the
// anchor's mentions grouped by label (a label the request does not allow
// becomes misc, or its first label).
func discoverOut(kind string, id int, text string, picks []pick, labels []string) any {
	type group struct {
		Label    string            `json:"label"`
		Mentions []json.RawMessage `json:"mentions"`
	}
	type anchorOut struct {
		ID       int     `json:"id"`
		Entities []group `json:"entities"`
	}
	type explorerOut struct {
		ID       int               `json:"id"`
		Mentions []json.RawMessage `json:"mentions"`
	}
	a := anchorOut{ID: id, Entities: []group{}}
	e := explorerOut{ID: id, Mentions: []json.RawMessage{}}
	byLabel := map[string]int{} // index of a label's group
	for _, pk := range picks {
		m, ok := mentionAt(text, pk.start, pk.end)
		if !ok {
			continue
		}
		if kind == KindExplorer {
			e.Mentions = append(e.Mentions, m)
			continue
		}
		l := pk.label
		if !slices.Contains(labels, l) {
			l = labels[0]
			if slices.Contains(labels, "misc") {
				l = "misc"
			}
		}
		k, ok := byLabel[l]
		if !ok {
			k = len(a.Entities)
			byLabel[l] = k
			a.Entities = append(a.Entities, group{Label: l})
		}
		a.Entities[k].Mentions = append(a.Entities[k].Mentions, m)
	}
	if kind == KindExplorer {
		return e
	}
	return a
}

// mentionAt writes the mention at [start, end) of a passage as
// {"text": ..., "occurrence": k}, k counting its word-boundary occurrences.
func mentionAt(passage string, start, end int) (json.RawMessage, bool) {
	s := text.Slice(passage, start, end)
	for k, o := range text.Find(passage, s) {
		if o.Start == start && o.End == end {
			return json.RawMessage(marshal(map[string]any{"text": s, "occurrence": k + 1})), true
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
// of the answer schema, else the "- name: definition" lines after
// "Labels:" in the system message.
func allowedLabels(c chat) []string {
	var sch struct {
		Properties struct {
			Passages struct {
				Items struct {
					Properties struct {
						Entities struct {
							Items struct {
								Properties struct {
									Label struct {
										Enum []string `json:"enum"`
									} `json:"label"`
								} `json:"properties"`
							} `json:"items"`
						} `json:"entities"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"passages"`
		} `json:"properties"`
	}
	var out []string
	if json.Unmarshal(c.schema, &sch) == nil {
		out = slices.Clone(sch.Properties.Passages.Items.Properties.Entities.Items.Properties.Label.Enum)
	}
	if len(out) == 0 {
		in := false
		for _, line := range strings.Split(c.system, "\n") {
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

// mentionRef is a mention of a mediation or calibration input.
type mentionRef struct {
	ID         int      `json:"id"`
	Text       string   `json:"text"`
	Occurrence int      `json:"occurrence"`
	Candidates []string `json:"candidates"`
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

func (s *Server) mediate(c chat) (answer, error) {
	var in mentionInput
	if err := payload(c.user, &in); err != nil {
		return answer{}, err
	}
	type out struct {
		ID        int    `json:"id"`
		Archetype string `json:"archetype"`
	}
	res := []out{}
	ents := s.golds(in)
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
				others := slices.DeleteFunc(slices.Clone(pipeline.Archetypes), func(a pipeline.Archetype) bool { return a == arch })
				arch = others[r.IntN(len(others))]
			}
			res = append(res, out{m.ID, string(arch)})
		}
	}
	return answer{content: marshal(map[string]any{"mentions": res})}, nil
}

// calibrate answers each mention's gold label when it is a candidate, else
// the last candidate (zeroner lists the fallback last).
func (s *Server) calibrate(c chat) (answer, error) {
	var in mentionInput
	if err := payload(c.user, &in); err != nil {
		return answer{}, err
	}
	var w strings.Builder
	var low [][2]int
	w.WriteString(`{"mentions":[`)
	n := 0
	ents := s.golds(in)
	for pi, p := range in.Passages {
		golds := ents[pi]
		for _, m := range p.Mentions {
			if len(m.Candidates) == 0 {
				continue
			}
			label, at := goldLabel(p.Text, golds, m)
			if !slices.Contains(m.Candidates, label) {
				label = m.Candidates[len(m.Candidates)-1]
			}
			r := s.rng(KindCalibrate, p.Text, m.Text, strconv.Itoa(at[0]))
			noisy := false
			if len(m.Candidates) > 1 && r.Float64() < s.opt.Noise.Label {
				others := slices.DeleteFunc(slices.Clone(m.Candidates), func(l string) bool { return l == label })
				label, noisy = others[r.IntN(len(others))], true
			}
			if n > 0 {
				w.WriteByte(',')
			}
			n++
			w.WriteString(`{"id":` + strconv.Itoa(m.ID) + `,"label":"`)
			start := w.Len()
			q := marshal(label)
			w.WriteString(q[1 : len(q)-1])
			if noisy {
				low = append(low, [2]int{start, w.Len()})
			}
			w.WriteString(`"}`)
		}
	}
	w.WriteString(`]}`)
	return answer{content: w.String(), low: low}, nil
}

func (s *Server) labelMap(c chat) (answer, error) {
	var in struct {
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
	}
	if err := payload(c.user, &in); err != nil {
		return answer{}, err
	}
	res := map[string][]pipeline.Archetype{}
	for _, l := range in.Labels {
		res[l.Name] = s.archetypes(l.Name)
	}
	return answer{content: marshal(map[string]any{"labels": res})}, nil
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
