package llmsim

import (
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/zeroner/zeroner/pipeline/text"
)

// SmallModel makes the server answer as a small (7-8B) open model often
// does: at more length, in its own key order, and with slips that a
// strict structured-output server would not let through. The zero value
// answers as a large model would.
type SmallModel struct {
	// Indent pretty-prints answers with two-space indentation, as Llama
	// and Qwen often do: more completion tokens for the same answer.
	Indent bool
	// MaxTokens honours a request's max_tokens (or max_completion_tokens):
	// an answer of more completion tokens is cut at max_tokens*4 bytes
	// with finish reason "length", as every real server does.
	MaxTokens bool
	// SchemaOrder writes each object's keys in the order its part of the
	// response_format schema lists the properties, not the wire format's.
	SchemaOrder bool
	// OffLabel is the probability per calibrated mention of a label that
	// is not allowed: in narrowed mode a schema label that is not a
	// candidate, in whole-schema mode a string that is no label (the
	// mention's archetype).
	OffLabel float64
	// RepeatID is the probability per item (a mediated or calibrated
	// mention, a discovered passage) that it is written twice with the
	// same id, the second time with another decision.
	RepeatID float64
	// LoseCount is the length beyond which a mentions list (mediation,
	// calibration) loses count: from a seeded point in its second half
	// every item is written with its id plus one, and the last item may
	// be left out. 0 never loses count.
	LoseCount int
	// EmptyMention is the probability per discovered passage of an extra
	// mention that is invalid: an empty string, or an occurrence of 0.
	EmptyMention float64
}

// SmallModelPreset is every small-model behaviour at rates that make each
// one happen in a test of a few hundred mentions: 5% per item for
// off-candidate labels, repeated ids and invalid mentions, and lists of
// more than 20 mentions that lose count.
func SmallModelPreset() SmallModel {
	return SmallModel{
		Indent:       true,
		MaxTokens:    true,
		SchemaOrder:  true,
		OffLabel:     0.05,
		RepeatID:     0.05,
		LoseCount:    20,
		EmptyMention: 0.05,
	}
}

// Kinds of small-model faults, as Stats.SmallModel counts them.
const (
	SmallOffLabel       = "off_label"       // a label that is not allowed
	SmallRepeatID       = "repeat_id"       // an item written twice
	SmallLoseCount      = "lose_count"      // a list whose ids drift
	SmallEmptyMention   = "empty_mention"   // a mention ""
	SmallOccurrenceZero = "occurrence_zero" // a mention with occurrence 0
	SmallMaxTokens      = "max_tokens"      // an answer cut at max_tokens
)

// slip draws whether a small-model fault with probability p happens to
// the n-th item of this request. Unlike noise, it is seeded by the whole
// conversation, so a follow-up request that asks again for some of the
// items, or a re-ask, is answered independently of this one.
func (s *Server) slip(t *turn, fault string, n int, p float64) (*rand.Rand, bool) {
	if p <= 0 {
		return nil, false
	}
	r := s.rng("small", fault, t.convo, strconv.Itoa(n))
	return r, r.Float64() < p
}

// loseCount makes a list of mention answers longer than LoseCount drift:
// from a seeded point in its second half every item is written with its
// id plus one (the echoed text still its own), and the last item is left
// out half of the time, as a model that loses count does.
func (s *Server) loseCount(t *turn, items []any) []any {
	n := len(items)
	if s.opt.Small.LoseCount <= 0 || n <= s.opt.Small.LoseCount {
		return items
	}
	r := s.rng("small", SmallLoseCount, t.convo)
	from := n/2 + r.IntN(n-n/2)
	for k := from; k < n; k++ {
		o := items[k].(object)
		id, _ := o.get("id").(int)
		items[k] = o.with("id", id+1)
	}
	if r.IntN(2) == 0 {
		items = items[:n-1]
	}
	t.faults[SmallLoseCount]++
	return items
}

// offLabel is a label a calibration may not answer for a mention: in
// narrowed mode a label of the request (else of the simulator's labels)
// that is not one of its candidates, in whole-schema mode a string that
// is no label at all, its archetype's name first.
func (s *Server) offLabel(r *rand.Rand, m mentionRef, allowed, requestLabels []string) string {
	if len(m.Candidates) > 0 {
		for _, pool := range [][]string{requestLabels, s.labels} {
			var out []string
			for _, l := range pool {
				if !slices.Contains(allowed, l) {
					out = append(out, l)
				}
			}
			if len(out) > 0 {
				return out[r.IntN(len(out))]
			}
		}
	}
	for _, l := range []string{m.Archetype, "none", "other", "entity"} {
		if l != "" && !slices.Contains(allowed, l) {
			return l
		}
	}
	return "not a label"
}

// mentionList is the list of mentions or entities of a passage's answer.
func mentionList(kind string, out object) []any {
	if kind == KindExplorer {
		l, _ := out.get("mentions").([]any)
		return l
	}
	l, _ := out.get("entities").([]any)
	return l
}

// withMentions returns a passage's answer with another list of mentions.
func withMentions(kind string, out object, list []any) object {
	if kind == KindExplorer {
		return out.with("mentions", list)
	}
	return out.with("entities", list)
}

// invalidMention adds to a passage's answer a mention that is not valid,
// as a small model writes one now and then: an empty string, or one of the
// passage's mentions (else its first word) with occurrence 0.
func invalidMention(t *turn, r *rand.Rand, out object, it item, picks []pick, labels []string) object {
	var m object
	if r.IntN(2) == 0 || len(it.toks) == 0 {
		m = object{{"text", ""}}
		t.faults[SmallEmptyMention]++
	} else {
		word := it.toks[0]
		if len(picks) > 0 {
			word = text.Slice(it.text, picks[0].start, picks[0].end)
		}
		m = object{{"text", word}, {"occurrence", 0}}
		t.faults[SmallOccurrenceZero]++
	}
	var v any = m
	switch {
	case t.kind == KindAnchor:
		v = append(m, member{"label", labels[r.IntN(len(labels))]})
	case len(m) == 1:
		v = "" // the explorer's mentions may be plain strings
	}
	return withMentions(t.kind, out, append(slices.Clone(mentionList(t.kind, out)), v))
}

// passageAgain is a passage's answer written a second time with another
// decision: without its last mention, or with the passage's first word
// when it had none. ok is false for an empty passage.
func passageAgain(r *rand.Rand, kind string, id int, it item, picks []pick, labels []string) (object, bool) {
	if len(picks) > 0 {
		return passageOut(kind, id, it.text, picks[:len(picks)-1], labels), true
	}
	if len(it.toks) == 0 {
		return nil, false
	}
	first := pick{it.starts[0], it.ends[0], labels[r.IntN(len(labels))]}
	return passageOut(kind, id, it.text, []pick{first}, labels), true
}
