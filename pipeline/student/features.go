package student

import (
	"math/bits"

	"github.com/zeroner/zeroner/pipeline/featurehash"
	"github.com/zeroner/zeroner/pipeline/text"
)

// kind is a feature template. A feature's ID is a hash of its kind and its
// value; its row in the weight table is the ID's top bits. Changing a
// template changes the meaning of saved weights: bump formatVersion.
type kind uint8

const (
	kBias kind = iota
	kWord
	kLower
	kShape
	kCap // capitalisation class, crossed with sentence-initial
	kPre1
	kPre2
	kPre3
	kPre4
	kSuf1
	kSuf2
	kSuf3
	kSuf4
	kLowerM2 // lower-cased form two tokens before
	kLowerM1
	kLowerP1
	kLowerP2
	kShapeM2
	kShapeM1
	kShapeP1
	kShapeP2
	kBigramL // previous and this lower-cased form
	kBigramR // this and the next
	kShape3  // shapes of the previous, this and the next token
	kLex     // lexicon and position in its match
	numKinds
)

// pair hashes two value hashes in order.
func pair(a, b uint64) uint64 { return featurehash.Mix(a*0x9e3779b97f4a7c15 + b) }

// kindSeeds make the same value of two kinds two features.
var kindSeeds = func() (s [numKinds]uint64) {
	for k := range s {
		s[k] = featurehash.Mix(uint64(k+1) * 0xd1b54a32d192ed03)
	}
	return s
}()

// Boundary values: the tokens before a sentence's first and after its last.
var (
	bosHash = featurehash.String(featurehash.Offset, "<s>")
	eosHash = featurehash.String(featurehash.Offset, "</s>")
)

// Capitalisation classes.
const (
	capNone    = iota // no letter
	capLower          // all lower case
	capInitial        // one capital, first
	capUpper          // all capitals, two letters or more
	capMixed
	numCaps
)

// tokInfo is a token's hashes: what its neighbours need of it, and its
// own.
type tokInfo struct {
	raw, low, shape uint64
	cap             uint8
	affixes         uint8     // prefixes and suffixes of 1 to affixes code points
	pre, suf        [4]uint64 // of the lower-cased form
}

// info computes a token's hashes, with its affixes; rs is a buffer for its
// lower-cased code points, returned.
func info(s string, rs []rune) (tokInfo, []rune) {
	t, rs := basicInfo(s, rs)
	t.setAffixes(rs)
	return t, rs
}

// setAffixes hashes the affixes of the token whose lower-cased code points
// are rs: those shorter than the word, a whole word being kLower's.
func (t *tokInfo) setAffixes(rs []rune) {
	t.affixes = uint8(min(max(len(rs)-1, 0), 4))
	for m := 1; m <= int(t.affixes); m++ {
		t.pre[m-1] = featurehash.Runes(rs[:m])
		t.suf[m-1] = featurehash.Runes(rs[len(rs)-m:])
	}
}

// basicInfo computes a token's hashes but its affixes.
func basicInfo(s string, rs []rune) (tokInfo, []rune) {
	rs = rs[:0]
	raw, shape := featurehash.Offset, featurehash.Offset
	last := rune(-1)
	var up, low, letters int
	initial := false
	for _, r := range s {
		c := featurehash.Shape(r)
		if c != last {
			shape = featurehash.Rune(shape, c)
			last = c
		}
		switch c {
		case 'X':
			up++
			if letters == 0 {
				initial = true
			}
			letters++
		case 'x':
			low++
			letters++
		case 'o':
			letters++
		}
		rs = append(rs, featurehash.Lower(r))
	}
	raw = featurehash.String(raw, s)
	t := tokInfo{raw: raw, low: featurehash.Runes(rs), shape: shape}
	switch {
	case letters == 0:
		t.cap = capNone
	case up == 0:
		t.cap = capLower
	case low == 0 && up > 1:
		t.cap = capUpper
	case initial && up == 1:
		t.cap = capInitial
	default:
		t.cap = capMixed
	}
	return t, rs
}

// extractor computes the features of a sentence's tokens as rows of a
// table of 2^bits, in buffers it reuses: nothing is allocated per token.
type extractor struct {
	shift uint // 64 - bits
	lex   *lexicon
	toks  []tokInfo
	runes []rune
	pos   [][numPos]uint32 // per token, per position, the lexicons it is in
	feats []uint32         // rows, token after token
	off   []int32          // token i's rows are feats[off[i]:off[i+1]]
}

func newExtractor(bits int, lex *lexicon) *extractor {
	return &extractor{shift: uint(64 - bits), lex: lex}
}

func (x *extractor) row(k kind, v uint64) uint32 {
	return uint32(featurehash.Mix(kindSeeds[k]^v) >> x.shift)
}

// sentence computes the feature rows of a sentence's tokens.
func (x *extractor) sentence(toks []text.Token) {
	x.toks = x.toks[:0]
	x.feats = x.feats[:0]
	x.off = append(x.off[:0], 0)
	for _, t := range toks {
		var ti tokInfo
		ti, x.runes = info(t.Text, x.runes)
		x.toks = append(x.toks, ti)
	}
	if x.lex != nil {
		x.pos = x.lex.match(x.toks, x.pos)
	}
	for i := range toks {
		ti := &x.toks[i]
		f := append(x.feats, x.row(kBias, 0), x.row(kCap, capValue(ti.cap, i == 0)))
		f = x.ownRows(f, ti)
		for _, o := range offsets {
			low, shape := x.near(i + o)
			f = x.neighbourRows(f, o, low, shape)
		}
		f = x.pairRows(f, i)
		if x.lex != nil {
			f = x.lexRows(f, x.pos[i])
		}
		x.feats = f
		x.off = append(x.off, int32(len(f)))
	}
}

// offsets are where a token's neighbour features look.
var offsets = [4]int{-2, -1, 1, 2}

// neighbourKinds[j] are the lower-cased form and shape templates of the
// token at offsets[j].
var neighbourKinds = [4][2]kind{{kLowerM2, kShapeM2}, {kLowerM1, kShapeM1}, {kLowerP1, kShapeP1}, {kLowerP2, kShapeP2}}

func capValue(cap uint8, first bool) uint64 { return uint64(cap)*2 + b2u(first) }

// near returns the hashes of the lower-cased form and the shape of token i
// of the sentence, or the sentence-boundary marks outside it.
func (x *extractor) near(i int) (low, shape uint64) {
	switch {
	case i < 0:
		return bosHash, bosHash
	case i >= len(x.toks):
		return eosHash, eosHash
	}
	return x.toks[i].low, x.toks[i].shape
}

// ownRows appends the rows of a token's features that depend on it alone:
// its text, lower-cased form, shape and affixes.
func (x *extractor) ownRows(f []uint32, t *tokInfo) []uint32 {
	f = append(f, x.row(kWord, t.raw), x.row(kLower, t.low), x.row(kShape, t.shape))
	for m := range int(t.affixes) {
		f = append(f, x.row(kPre1+kind(m), t.pre[m]), x.row(kSuf1+kind(m), t.suf[m]))
	}
	return f
}

// neighbourRows appends the rows of a token's features that depend on its
// neighbour at offset o, whose lower-cased form and shape hash to low and
// shape.
func (x *extractor) neighbourRows(f []uint32, o int, low, shape uint64) []uint32 {
	ks := neighbourKinds[o+2-b2i(o > 0)]
	return append(f, x.row(ks[0], low), x.row(ks[1], shape))
}

// pairRows appends the rows of the features of token i of the sentence
// paired with its neighbours before and after.
func (x *extractor) pairRows(f []uint32, i int) []uint32 {
	lowM, shapeM := x.near(i - 1)
	low, shape := x.near(i)
	lowP, shapeP := x.near(i + 1)
	return append(f,
		x.row(kBigramL, pair(lowM, low)),
		x.row(kBigramR, pair(low, lowP)),
		x.row(kShape3, pair(pair(shapeM, shape), shapeP)),
	)
}

// lexRows appends the rows of a token's lexicon matches.
func (x *extractor) lexRows(f []uint32, pos [numPos]uint32) []uint32 {
	for p, mask := range pos {
		for mask != 0 {
			l := uint64(bits.TrailingZeros32(mask))
			mask &= mask - 1
			f = append(f, x.row(kLex, l<<2|uint64(p)))
		}
	}
	return f
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
