package sae

import (
	"context"
	"unicode"

	"github.com/zeroner/zeroner/pipeline/featurehash"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Lexicon is a named list of terms; Local marks the tokens that are, or are
// part of, one of its entries.
type Lexicon struct {
	Name    string
	Entries []string
}

// kind is a family of local features. A feature's ID is a hash of its kind
// and its value; its name is "kind=value".
type kind uint8

const (
	kWord kind = iota
	kLower
	kShape
	kCap
	kPre2
	kPre3
	kPre4
	kSuf2
	kSuf3
	kSuf4
	kPrev
	kNext
	kPrevShape
	kNextShape
	kLex     // the token is a one-token entry of the lexicon
	kLexPart // the token is part of a longer entry
	numKinds
)

var kindNames = [numKinds]string{"w", "lw", "shape", "cap", "pre2", "pre3", "pre4", "suf2", "suf3", "suf4",
	"w-1", "w+1", "shape-1", "shape+1", "lex", "lexpart"}

// Boundary values of the neighbour features.
const (
	bos = "<s>"
	eos = "</s>"
)

// Capitalisation classes, with "@0" appended at the first token of a text.
var capNames = [...]string{"none", "lower", "upper-initial", "all-upper", "mixed"}

var kindSeeds = func() (s [numKinds]uint64) {
	for k, n := range kindNames {
		s[k] = featurehash.String(featurehash.Offset, n) * 0x9e3779b97f4a7c15
	}
	return s
}()

// featureID is the ID of feature kind=value, given the FNV-1a hash of value.
func featureID(k kind, valueHash uint64) uint64 { return featurehash.Mix(kindSeeds[k] ^ valueHash) }

// FeatureID is the ID Local gives the feature named "kind=value"; ok is
// false for a name of no local kind.
func FeatureID(name string) (id uint64, ok bool) {
	for k, n := range kindNames {
		if len(name) > len(n) && name[:len(n)] == n && name[len(n)] == '=' {
			return featureID(kind(k), featurehash.String(featurehash.Offset, name[len(n)+1:])), true
		}
	}
	return 0, false
}

// Local is zeroner's own sparse feature source: binary, hashed text
// features, computed at CPU speed. It is safe for concurrent use.
type Local struct {
	// lex maps the FNV-1a hash of a lower-cased token to the IDs of its
	// lexicon features, precomputed so that a lookup allocates nothing.
	lex      map[uint64][]uint64
	lexNames map[uint64][]string // the same, as "lex=name" values, for Names
}

// NewLocal returns the local source with lexicons (none is fine).
func NewLocal(lexicons []Lexicon) *Local {
	l := &Local{lex: map[uint64][]uint64{}, lexNames: map[uint64][]string{}}
	seen := map[[2]uint64]bool{}
	for _, lx := range lexicons {
		vh := featurehash.String(featurehash.Offset, lx.Name)
		for _, e := range lx.Entries {
			toks := text.Tokenize(e)
			k, kn := kLex, "lex="
			if len(toks) > 1 {
				k, kn = kLexPart, "lexpart="
			}
			for _, t := range toks {
				key := featurehash.Runes(lowerAll(nil, t.Text))
				id := featureID(k, vh)
				if seen[[2]uint64{key, id}] {
					continue
				}
				seen[[2]uint64{key, id}] = true
				l.lex[key] = append(l.lex[key], id)
				l.lexNames[key] = append(l.lexNames[key], kn+lx.Name)
			}
		}
	}
	return l
}

func lowerAll(dst []rune, s string) []rune {
	for _, r := range s {
		dst = append(dst, featurehash.Lower(r))
	}
	return dst
}

// capClass is the index in capNames of s's capitalisation.
func capClass(s string) int {
	var up, low, n int
	first := true
	initial := false
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			up++
			if first {
				initial = true
			}
		case unicode.IsLower(r):
			low++
		default:
			first = false
			continue
		}
		first = false
		n++
	}
	switch {
	case n == 0:
		return 0
	case up == 0:
		return 1
	case low == 0:
		return 3
	case initial && up == 1:
		return 2
	}
	return 4
}

// capHashes[c][first] is the value hash of capitalisation class c, at the
// first token or not.
var capHashes = func() (h [len(capNames)][2]uint64) {
	for c, n := range capNames {
		h[c][0] = featurehash.String(featurehash.Offset, n)
		h[c][1] = featurehash.String(featurehash.Offset, n+"@0")
	}
	return h
}()

func shapeHash(s string) uint64 {
	h := featurehash.Offset
	last := rune(-1)
	for _, r := range s {
		if c := featurehash.Shape(r); c != last {
			h = featurehash.Rune(h, c)
			last = c
		}
	}
	return h
}

func shapeString(s string) string {
	var out []rune
	for _, r := range s {
		if c := featurehash.Shape(r); len(out) == 0 || out[len(out)-1] != c {
			out = append(out, c)
		}
	}
	return string(out)
}

// tokHash holds what a token's neighbours need of it.
type tokHash struct{ low, shape uint64 }

// scratch is reused across the texts of one Features call.
type scratch struct {
	hs    []tokHash
	runes []rune
	// With reuse, tokens and their features are built here, valid until
	// the next text.
	reuse bool
	toks  []Token
	feats []Feature
}

// perToken is an upper bound of the non-lexicon features of a token.
const perToken = int(kLex)

// Features implements Source.
func (l *Local) Features(ctx context.Context, texts []string) ([][]Token, error) {
	out := make([][]Token, len(texts))
	var sc scratch
	for i, s := range texts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = l.tokens(s, &sc)
	}
	return out, nil
}

// tokens computes one text's features: one allocation for the tokens and
// one for all their features (none with sc.reuse), none per token beyond
// the tokenizer's.
func (l *Local) tokens(s string, sc *scratch) []Token {
	toks := text.Tokenize(s)
	n := len(toks)
	if cap(sc.hs) < n {
		sc.hs = make([]tokHash, n)
	}
	hs := sc.hs[:n]
	for i, t := range toks {
		sc.runes = lowerAll(sc.runes[:0], t.Text)
		hs[i] = tokHash{featurehash.Runes(sc.runes), shapeHash(t.Text)}
	}
	var feats []Feature
	var out []Token
	if sc.reuse {
		if cap(sc.toks) < n {
			sc.toks = make([]Token, n)
			sc.feats = make([]Feature, 0, n*(perToken+1))
		}
		out, feats = sc.toks[:n], sc.feats[:0]
	} else {
		feats = make([]Feature, 0, n*(perToken+1))
		out = make([]Token, n)
	}
	bosH, eosH := featurehash.String(featurehash.Offset, bos), featurehash.String(featurehash.Offset, eos)
	for i, t := range toks {
		start := len(feats)
		add := func(k kind, vh uint64) { feats = append(feats, Feature{featureID(k, vh), 1}) }
		h := hs[i]
		add(kWord, featurehash.String(featurehash.Offset, t.Text))
		add(kLower, h.low)
		add(kShape, h.shape)
		first := 0
		if i == 0 {
			first = 1
		}
		add(kCap, capHashes[capClass(t.Text)][first])
		rs := lowerAll(sc.runes[:0], t.Text)
		sc.runes = rs
		for j, k := range [3]kind{kPre2, kPre3, kPre4} {
			if m := j + 2; len(rs) > m {
				add(k, featurehash.Runes(rs[:m]))
			}
		}
		for j, k := range [3]kind{kSuf2, kSuf3, kSuf4} {
			if m := j + 2; len(rs) > m {
				add(k, featurehash.Runes(rs[len(rs)-m:]))
			}
		}
		if i > 0 {
			add(kPrev, hs[i-1].low)
			add(kPrevShape, hs[i-1].shape)
		} else {
			add(kPrev, bosH)
			add(kPrevShape, bosH)
		}
		if i+1 < n {
			add(kNext, hs[i+1].low)
			add(kNextShape, hs[i+1].shape)
		} else {
			add(kNext, eosH)
			add(kNextShape, eosH)
		}
		for _, id := range l.lex[h.low] {
			feats = append(feats, Feature{id, 1})
		}
		out[i] = Token{Start: t.Start, End: t.End, Text: t.Text, Feats: feats[start:len(feats):len(feats)]}
	}
	if sc.reuse {
		sc.feats = feats
	}
	return out
}

// Names implements Namer.
func (l *Local) Names(s string) [][]string {
	toks := text.Tokenize(s)
	n := len(toks)
	low := make([]string, n)
	shape := make([]string, n)
	for i, t := range toks {
		low[i] = string(lowerAll(nil, t.Text))
		shape[i] = shapeString(t.Text)
	}
	out := make([][]string, n)
	for i, t := range toks {
		nm := func(k kind, v string) string { return kindNames[k] + "=" + v }
		c := capNames[capClass(t.Text)]
		if i == 0 {
			c += "@0"
		}
		ns := []string{nm(kWord, t.Text), nm(kLower, low[i]), nm(kShape, shape[i]), nm(kCap, c)}
		rs := []rune(low[i])
		for j, k := range [3]kind{kPre2, kPre3, kPre4} {
			if m := j + 2; len(rs) > m {
				ns = append(ns, nm(k, string(rs[:m])))
			}
		}
		for j, k := range [3]kind{kSuf2, kSuf3, kSuf4} {
			if m := j + 2; len(rs) > m {
				ns = append(ns, nm(k, string(rs[len(rs)-m:])))
			}
		}
		if i > 0 {
			ns = append(ns, nm(kPrev, low[i-1]), nm(kPrevShape, shape[i-1]))
		} else {
			ns = append(ns, nm(kPrev, bos), nm(kPrevShape, bos))
		}
		if i+1 < n {
			ns = append(ns, nm(kNext, low[i+1]), nm(kNextShape, shape[i+1]))
		} else {
			ns = append(ns, nm(kNext, eos), nm(kNextShape, eos))
		}
		ns = append(ns, l.lexNames[featurehash.String(featurehash.Offset, low[i])]...)
		out[i] = ns
	}
	return out
}
