package llmsim

import (
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/zeroner/zeroner/io/corpus"
)

// sentence is one gold sentence: its tokens and entities over them.
type sentence struct {
	toks []string
	ents []goldEnt
}

// goldEnt is a gold entity over tokens [start, end).
type goldEnt struct {
	start, end int
	label      string
}

// pos is a token position in the gold sentences.
type pos struct{ sent, tok int32 }

// gold indexes sentences by their 1-, 2- and 3-token n-grams, so that a
// stretch of text can be matched to the sentences it holds, whole or in
// part.
type gold struct {
	sents []sentence
	index [3]map[uint64][]pos
}

func newGold() *gold {
	g := &gold{}
	for i := range g.index {
		g.index[i] = make(map[uint64][]pos)
	}
	return g
}

func gramKey(toks []string) uint64 {
	h := fnv.New64a()
	for i, t := range toks {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(t))
	}
	return h.Sum64()
}

// load reads a BIO file (either column order).
func (g *gold) load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("gold: %w", err)
	}
	defer f.Close()
	return corpus.ReadBIO(f, path, corpus.Options{}, func(d corpus.Doc) error {
		g.add(d.Text, d.Gold)
		return nil
	})
}

// add indexes one sentence: tokens joined by single spaces, entities in
// code points.
func (g *gold) add(text string, spans []corpus.Span) {
	if text == "" {
		return
	}
	toks := strings.Split(text, " ")
	starts := make(map[int]int, len(toks)) // code point start -> token
	ends := make(map[int]int, len(toks))   // code point end -> token + 1
	off := 0
	for i, t := range toks {
		starts[off] = i
		off += utf8.RuneCountInString(t)
		ends[off] = i + 1
		off++
	}
	s := sentence{toks: toks}
	for _, sp := range spans {
		a, ok1 := starts[sp.Start]
		b, ok2 := ends[sp.End]
		if ok1 && ok2 && a < b {
			s.ents = append(s.ents, goldEnt{a, b, sp.Label})
		}
	}
	id := int32(len(g.sents))
	g.sents = append(g.sents, s)
	for n := 1; n <= 3; n++ {
		for i := 0; i+n <= len(toks); i++ {
			k := gramKey(toks[i : i+n])
			g.index[n-1][k] = append(g.index[n-1][k], pos{id, int32(i)})
		}
	}
}

// item is a stretch of text from a request, split into tokens at ASCII
// white space.
type item struct {
	text   string
	toks   []string
	starts []int // code point offset of each token
	ends   []int
}

func newItem(text string) item {
	it := item{text: text}
	r, start, bs := 0, -1, 0 // code points so far; the open token's start in code points and bytes
	add := func(end, byteEnd int) {
		it.toks = append(it.toks, text[bs:byteEnd])
		it.starts = append(it.starts, start)
		it.ends = append(it.ends, end)
	}
	for i, c := range text {
		space := c == ' ' || c == '\t' || c == '\n' || c == '\r'
		switch {
		case space && start >= 0:
			add(r, i)
			start = -1
		case !space && start < 0:
			start, bs = r, i
		}
		r++
	}
	if start >= 0 {
		add(r, len(text))
	}
	return it
}

// span is a code point range of an item with its gold label ("" for none).
type span struct {
	start, end int
	label      string
}

// region is a run of an item's tokens, [i, i+n), equal to the tokens of
// each of cands from its position on.
type region struct {
	i, n  int
	cands []pos
}

// regions matches an item greedily, left to right, against the gold
// sentences: at each token the longest run of tokens equal to a stretch of
// some sentence, accepted when it is at least three tokens long or starts
// or ends with its sentence (so a fragment of a cut sentence still
// matches). A run that several sentences share keeps them all.
func (g *gold) regions(it item) []region {
	var out []region
	n := len(it.toks)
	for i := 0; i < n; {
		k := min(3, n-i)
		var best []pos
		bestLen := 0
		for _, p := range g.index[k-1][gramKey(it.toks[i:i+k])] {
			st := g.sents[p.sent].toks
			l := 0
			for i+l < n && int(p.tok)+l < len(st) && it.toks[i+l] == st[int(p.tok)+l] {
				l++
			}
			if l < k || l < 3 && p.tok != 0 && int(p.tok)+l != len(st) {
				continue // a hash collision, or too short to tell
			}
			switch {
			case l > bestLen:
				best, bestLen = []pos{p}, l
			case l == bestLen:
				best = append(best, p)
			}
		}
		if len(best) == 0 {
			i++
			continue
		}
		// A match from a sentence's start beats one from its middle.
		if starts := slices.DeleteFunc(slices.Clone(best), func(p pos) bool { return p.tok != 0 }); len(starts) > 0 {
			best = starts
		}
		out = append(out, region{i, bestLen, best})
		i += bestLen
	}
	return out
}

// entities returns, for each item of a request, the gold entities that lie
// wholly in it. A stretch of text that several gold sentences share (the
// data has a few duplicate sentences with different annotations) is taken
// from the sentence nearest its neighbours in the request, since requests
// hold consecutive text.
func (g *gold) entities(items []item) [][]span {
	type ref struct {
		item int
		r    region
		pick pos
	}
	var rs []ref
	for k, it := range items {
		for _, r := range g.regions(it) {
			rs = append(rs, ref{item: k, r: r, pick: pos{-1, 0}})
		}
	}
	for k := range rs {
		if len(rs[k].r.cands) == 1 {
			rs[k].pick = rs[k].r.cands[0]
		}
	}
	for k := range rs {
		if rs[k].pick.sent >= 0 {
			continue
		}
		target := int32(-1)
		if k > 0 {
			target = rs[k-1].pick.sent + 1
		} else {
			for j := k + 1; j < len(rs); j++ {
				if rs[j].pick.sent >= 0 {
					target = rs[j].pick.sent - 1
					break
				}
			}
		}
		best := rs[k].r.cands[0]
		for _, c := range rs[k].r.cands[1:] {
			if target >= 0 && abs(c.sent-target) < abs(best.sent-target) {
				best = c
			}
		}
		rs[k].pick = best
	}
	out := make([][]span, len(items))
	for _, x := range rs {
		it := items[x.item]
		for _, e := range g.sents[x.pick.sent].ents {
			a, b := e.start-int(x.pick.tok), e.end-int(x.pick.tok)
			if a >= 0 && b <= x.r.n {
				out[x.item] = append(out[x.item], span{it.starts[x.r.i+a], it.ends[x.r.i+b-1], e.label})
			}
		}
	}
	return out
}

func abs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}
