package student

import (
	"fmt"
	"strings"

	"github.com/zeroner/zeroner/pipeline/featurehash"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Positions of a token in a lexicon match.
const (
	posUnit  = iota // a one-token match
	posBegin        // the first of several
	posIn           // inside
	posLast         // the last of several
	numPos
)

// maxLexicons is the number of lexicons a mask holds.
const maxLexicons = 32

// lexicon matches a model's lexicons over tokens by their hashes: a
// sequence key is the hashes of its tokens folded in order, raw for terms
// with a capital letter, lower-cased for the others.
type lexicon struct {
	src         []Lexicon         // as given, for Marshal
	exact, fold map[uint64]uint32 // sequence key -> the lexicons that hold it
	longest     [2]map[uint64]int // first token's hash (raw, lower) -> longest term it starts
}

// seqKey folds a token's hash into a sequence key.
func seqKey(key, tok uint64) uint64 { return featurehash.Mix(key ^ tok*0x9e3779b97f4a7c15) }

func newLexicon(lexicons []Lexicon) (*lexicon, error) {
	if len(lexicons) == 0 {
		return nil, nil
	}
	if len(lexicons) > maxLexicons {
		return nil, fmt.Errorf("student: %d lexicons, at most %d", len(lexicons), maxLexicons)
	}
	l := &lexicon{
		src:     lexicons,
		exact:   map[uint64]uint32{},
		fold:    map[uint64]uint32{},
		longest: [2]map[uint64]int{{}, {}},
	}
	var rs []rune
	for i, lx := range lexicons {
		for _, e := range lx.Entries {
			toks := text.Tokenize(e)
			if len(toks) == 0 {
				continue
			}
			exact := e != strings.ToLower(e)
			key := featurehash.Offset
			var first tokInfo
			for j, t := range toks {
				var ti tokInfo
				ti, rs = info(t.Text, rs)
				if j == 0 {
					first = ti
				}
				if exact {
					key = seqKey(key, ti.raw)
				} else {
					key = seqKey(key, ti.low)
				}
			}
			m, h := l.fold, first.low
			if exact {
				m, h = l.exact, first.raw
			}
			m[key] |= 1 << i
			c := 1
			if exact {
				c = 0
			}
			l.longest[c][h] = max(l.longest[c][h], len(toks))
		}
	}
	return l, nil
}

// match returns, per token, the lexicons each position of a match holds it
// in, in pos (reused).
func (l *lexicon) match(toks []tokInfo, pos [][numPos]uint32) [][numPos]uint32 {
	n := len(toks)
	if cap(pos) < n {
		pos = make([][numPos]uint32, n)
	}
	pos = pos[:n]
	clear(pos)
	for i, t := range toks {
		le, lf := l.longest[0][t.raw], l.longest[1][t.low]
		if le == 0 && lf == 0 {
			continue
		}
		ke, kf := featurehash.Offset, featurehash.Offset
		for j := i; j < min(n, i+max(le, lf)); j++ {
			ke, kf = seqKey(ke, toks[j].raw), seqKey(kf, toks[j].low)
			var mask uint32
			if j-i < le {
				mask |= l.exact[ke]
			}
			if j-i < lf {
				mask |= l.fold[kf]
			}
			if mask == 0 {
				continue
			}
			if j == i {
				pos[i][posUnit] |= mask
				continue
			}
			pos[i][posBegin] |= mask
			for k := i + 1; k < j; k++ {
				pos[k][posIn] |= mask
			}
			pos[j][posLast] |= mask
		}
	}
	return pos
}
