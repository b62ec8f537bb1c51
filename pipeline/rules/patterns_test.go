package rules

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// eventPatternsRef is eventPatterns as it first was: each election word and
// event name scans back over its phrase, so a document of one endless
// phrase costs O(n²).
func (b *Backend) eventPatternsRef(d *doc, cs []cand) []cand {
	n := len(d.toks)
	for e := 0; e < n; e++ {
		k, ok := tailCues[d.low[e]]
		if !ok || k != kElection || d.low[e] == "leadership" || d.low[e] == "primary" {
			if hk := headCues[d.words[e]]; (hk == kEvent || hk == kFestival || hk == kElection) && !d.nameLike(e+1) {
				// Capitalised event name: take a year before its run.
				s := e
				for s > 0 && (d.nameLike(s-1) || connectors[d.low[s-1]] && d.nameLike(s-2)) && !d.is(s, fSentStart) {
					s--
				}
				if s > 0 && d.is(s-1, fYear) {
					cs = append(cs, cand{s - 1, e + 1, prioPattern})
				}
			}
			continue
		}
		s := e
		hasYear, hasName := false, false
		for s > 0 {
			p := s - 1
			if skipStart(d, p) {
				break
			}
			switch {
			case d.is(p, fYear):
				hasYear = true
			case d.nameLike(p):
				hasName = true
			case electionWords[d.low[p]] || d.low[p] == "-" || d.low[p] == "–":
			case connectors[d.low[p]] && d.nameLike(p-1):
			default:
				p = -1
			}
			if p < 0 {
				break
			}
			s = p
			if d.is(s, fSentStart) {
				break
			}
		}
		// Trim leading joiners and a month before the year only if a year follows.
		for s < e && !d.is(s, fYear) && !d.nameLike(s) && !electionWords[d.low[s]] {
			s++
		}
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

// eventText is random text made of what dated events and event names are
// made of: years, names, election words, joiners, event heads, titles and
// sentence ends.
func eventText(r *rand.Rand, n int) string {
	words := strings.Fields(`2004 1999 2010 12 Canadian European Parliament Italy Liberal Party Festival World Cup Election
		Elections Referendum election elections by-election referendum leadership primary federal general presidential
		state party of the for de in on - – Senator The In He and Angela Merkel May June . . , ; : " ( )`)
	// Whole phrases too, so that names and phrases run on over several event
	// words: "2004 Festival of Festival of Music".
	words = append(words, "\n\n", "\n", "Festival of", "Festival of", "2004 Festival of", "2004 federal election", "Election of")
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

// eventPatterns, which reads each token once, proposes the spans the
// scanning reference does, in the same order.
func TestEventPatternsMatchReference(t *testing.T) {
	tests := []struct {
		schema string
		n      int
		seeds  uint64
	}{
		{"crossner-politics", 5, 2000},
		{"crossner-politics", 30, 1000},
		{"crossner-politics", 300, 100},
		{"crossner-music", 30, 500},
	}
	for _, tt := range tests {
		b := New(load(t, tt.schema))
		for seed := range tt.seeds {
			text := eventText(rand.New(rand.NewPCG(seed, uint64(tt.n))), tt.n)
			d := newDoc(text)
			got, want := b.eventPatterns(d, nil), b.eventPatternsRef(d, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("%s, %q:\n got %v\nwant %v", tt.schema, text, got, want)
			}
		}
	}
}

// A document that is one endless event name or dated phrase, with no
// sentence end, is read in linear time: 200,000 tokens take well under a
// second, where scanning back from every event word took minutes.
func TestEventPatternsLongPhrase(t *testing.T) {
	b := New(load(t, "crossner-politics"))
	for _, unit := range []string{"Festival of ", "2004 Election ", "Election ", "- "} {
		d := newDoc("In " + strings.Repeat(unit, 100_000) + "election .")
		start := time.Now()
		b.eventPatterns(d, nil)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%q × 100,000: %s", unit, took)
		}
	}
}
