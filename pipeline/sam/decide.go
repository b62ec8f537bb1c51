package sam

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// A mention stage (mediate, calibrate) asks the model for one decision per
// mention. Its requests pack mentions in their passages; a valid answer
// gives what it can, item by item (resolveItems); the mentions it left out
// or got wrong, and those of an answer that never validated, are asked
// again in requests of their own, up to Options.FollowUps times. What is
// still missing then is a Failure of its document, naming the mentions.

// mentionStage is what decide needs of a stage.
type mentionStage struct {
	name string // "mediate" or "calibrate", as Failures name the stage
	// request builds the call that asks about mentions mis (prepared
	// indexes, sorted); note, for a follow-up, says why they are asked
	// again.
	request func(mis []int, note string) call
	// answer reads a valid answer of call c: decisions by prepared mention
	// index, and the problems of the items it dropped or repaired.
	answer func(c call, ans pipeline.Answer) (map[int]decision, []string, error)
}

// decision is a mention's answer in a mention stage.
type decision struct {
	value string  // the archetype or label
	score float64 // calibrate's confidence
}

// decide asks st's question about the mentions todo of p.
func (b *Backend) decide(ctx context.Context, st mentionStage, p *prepared, docs []pipeline.Document,
	res *pipeline.Result, todo []int) (map[int]decision, error) {
	got := make(map[int]decision, len(todo))
	why := make(map[int]string)
	for round := 0; len(todo) > 0; round++ {
		final := round >= b.opt.FollowUps
		var calls []call
		for _, g := range b.mentionGroups(p, todo) {
			calls = append(calls, st.request(g, followUpNote(round, g, why)))
		}
		calls, outs := b.ask(ctx, calls)
		status, err := b.settle(ctx, st.name, calls, outs, p.ps, docs, res, !final)
		if err != nil {
			return nil, err
		}
		var missing []int
		for i, c := range calls {
			switch status[i] {
			case again:
				missing = append(missing, c.mis...)
				for _, mi := range c.mis {
					why[mi] = "the answer was not valid JSON of the form asked"
				}
			case answered:
				ds, probs, err := st.answer(c, outs[i].ans)
				if err != nil {
					return nil, err
				}
				b.problems(c.kind, probs)
				for _, mi := range c.mis {
					if d, ok := ds[mi]; ok {
						got[mi] = d
						continue
					}
					missing = append(missing, mi)
					why[mi] = "left out of the answer"
					for _, pr := range probs { // a problem names its item's text
						if strings.Contains(pr, fmt.Sprintf("(%q)", p.ms[mi].Text)) {
							why[mi] = pr
						}
					}
				}
			}
		}
		slices.Sort(missing)
		if len(missing) == 0 {
			break
		}
		if final {
			b.count(func(s *Stats) { s.Omitted += int64(len(missing)) })
			missingFailures(st.name, p, docs, res, missing, why, round)
			break
		}
		b.count(func(s *Stats) { s.FollowUps += int64(len(missing)) })
		todo = missing
	}
	return got, nil
}

// followUpNote tells the model why mentions mis are asked again (none in
// the first round). It names the round, so that a follow-up is never the
// same request as the one before it (which the response cache would
// answer with the same answer).
func followUpNote(round int, mis []int, why map[int]string) string {
	if round == 0 {
		return ""
	}
	seen := make(map[string]bool)
	var reasons []string
	for _, mi := range mis {
		if r := why[mi]; r != "" && !seen[r] && len(reasons) < 3 {
			seen[r] = true
			reasons = append(reasons, r)
		}
	}
	return fmt.Sprintf("Follow-up %d: these mentions are asked again because an earlier answer did not give a valid answer for them (%s). "+
		"Answer for every mention below, with its id, its text copied, and a value from the allowed list.", round, strings.Join(reasons, "; "))
}

// missingFailures records, per document, the mentions that no answer
// decided.
func missingFailures(stage string, p *prepared, docs []pipeline.Document, res *pipeline.Result,
	missing []int, why map[int]string, followUps int) {
	byDoc := make(map[int][]int)
	var order []int
	for _, mi := range missing {
		di := p.mdoc[mi]
		if byDoc[di] == nil {
			order = append(order, di)
		}
		byDoc[di] = append(byDoc[di], mi)
	}
	for _, di := range order {
		mis := byDoc[di]
		var names []string
		for _, mi := range mis[:min(len(mis), 5)] {
			m := p.ms[mi]
			names = append(names, fmt.Sprintf("%q [%d,%d)", m.Text, m.Start, m.End))
		}
		res.Failures = append(res.Failures, pipeline.Failure{
			DocID: docs[di].ID,
			Stage: stage,
			Reason: fmt.Sprintf("%s: no valid answer for %d mention(s) of this document after %d follow-up(s): %s: %s",
				stage, len(mis), followUps, strings.Join(names, ", "), why[mis[0]]),
		})
	}
}

// mentionGroups packs mentions (prepared indexes, sorted) into requests:
// the mentions of a passage together, at most MentionsPerRequest of them,
// and requests of at most RequestTokens (a passage's text and 12 tokens a
// mention), PassagesPerRequest passages and MentionsPerRequest mentions.
func (b *Backend) mentionGroups(p *prepared, todo []int) [][]int {
	var units [][]int
	for i := 0; i < len(todo); {
		j := i
		for j < len(todo) && p.mpass[todo[j]] == p.mpass[todo[i]] && j-i < b.opt.MentionsPerRequest {
			j++
		}
		units = append(units, todo[i:j])
		i = j
	}
	cost := func(u int) int { return estTokens(p.ps[p.mpass[units[u][0]]].text) + 12*len(units[u]) }
	size := func(u int) int { return len(units[u]) }
	var out [][]int
	for _, g := range pack(len(units), cost, size, b.opt.RequestTokens, b.opt.PassagesPerRequest, b.opt.MentionsPerRequest) {
		var mis []int
		for _, u := range g {
			mis = append(mis, units[u]...)
		}
		out = append(out, mis)
	}
	return out
}

// passagesOf lays out mentions mis (sorted) in their passages for a
// request, with ids 1..len(mis) in order; describe adds a mention's other
// fields. It returns the input, the passages' indexes and the tokens of the
// mentions' texts, which the answer echoes.
func (p *prepared) passagesOf(mis []int, describe func(m *mentionIn, mi int)) ([]mentionPassageIn, []int, int) {
	var in []mentionPassageIn
	var group []int
	echo := 0
	for k, mi := range mis {
		pi := p.mpass[mi]
		if len(group) == 0 || group[len(group)-1] != pi {
			group = append(group, pi)
			in = append(in, mentionPassageIn{Text: p.ps[pi].text, Mentions: []mentionIn{}})
		}
		m := p.mentionIn(k+1, pi, mi)
		if describe != nil {
			describe(&m, mi)
		}
		last := &in[len(in)-1]
		last.Mentions = append(last.Mentions, m)
		echo += estTokens(m.Text)
	}
	return in, group, echo
}

// texts are the texts of mentions mis, by id - 1.
func (p *prepared) texts(mis []int) []string {
	out := make([]string, len(mis))
	for k, mi := range mis {
		out[k] = p.ms[mi].Text
	}
	return out
}

// mentionIn describes mention mi of passage pi for a prompt; the
// occurrence is given when its string occurs more than once there.
func (p *prepared) mentionIn(id, pi, mi int) mentionIn {
	ps, m := p.ps[pi], p.ms[mi]
	in := mentionIn{ID: id, Text: m.Text}
	occ := text.Find(ps.text, m.Text)
	if len(occ) > 1 {
		for k, o := range occ {
			if ps.start+o.Start == m.Start && ps.start+o.End == m.End {
				in.Occurrence = k + 1
			}
		}
	}
	return in
}

// halves splits a mention call's mentions in two, or returns nil for one.
func halves(mis []int, note string, request func(mis []int, note string) call) []call {
	if len(mis) < 2 {
		return nil
	}
	h := len(mis) / 2
	return []call{request(mis[:h], note), request(mis[h:], note)}
}
