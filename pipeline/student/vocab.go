package student

import (
	"cmp"
	"slices"

	"github.com/zeroner/zeroner/pipeline/text"
)

// Tagging is bound by reading the weight table: two dozen rows per token,
// most of them a cache miss. But most features depend on one token alone:
// its own (text, form, shape, affixes) and, as its neighbours see it, its
// form and shape. For the words a model knows best those sums are
// precomputed, per word, as five class-score vectors: what the word adds
// to its own token, and to the tokens one and two either side of it. A
// token of a known word then reads five short rows in one place; a word
// outside the vocabulary takes the long way, feature by feature. The sums
// are the same up to the order of float additions, and the same on every
// load of a model.

// Parts of a word's vector, by the offset of the token it adds to.
const (
	partOwn = iota
	partM2  // the token two before: the word is its +2 neighbour
	partM1
	partP1
	partP2 // the token two after: the word is its -2 neighbour
	numParts
)

// partOffsets[p] is the offset from the word of the token part p adds to;
// that token sees the word at offset -partOffsets[p].
var partOffsets = [numParts]int{0, -2, -1, 1, 2}

// vocabulary picks the words to precompute: the n most frequent token
// texts of the examples, ties in string order, returned sorted.
func vocabulary(c sentences, n int) []string {
	count := map[string]int{}
	for _, t := range c.toks {
		count[t.Text]++
	}
	words := make([]string, 0, len(count))
	for w := range count {
		words = append(words, w)
	}
	slices.SortFunc(words, func(a, b string) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b))
	})
	words = words[:min(n, len(words))]
	slices.Sort(words)
	return words
}

// precomputed are a model's per-word vectors and the other sums tagging
// reads whole.
type precomputed struct {
	index   map[uint64]int32 // a word's raw hash -> its vector
	vecs    []float32        // per word, numParts×k
	capBias []float32        // per capValue, bias and capitalisation
	bos     [2][]float32     // the start's features at the first token (M1 and M2), and M2 at the second
	eos     [2][]float32     // the end's at the last (P1 and P2), and P2 at the one before
}

// addRow adds row r's weights to em. Most rows a text's rare words and
// pairs hit have no weight: the bitmap, small enough to stay in cache,
// says so without reading the table.
func (m *Model) addRow(em []float32, r uint32) {
	if m.nonzero[r>>6]&(1<<(r&63)) == 0 {
		return
	}
	for _, w := range m.w[m.off[r]:m.off[r+1]] {
		em[w.class] += w.w
	}
}

func (m *Model) addRows(em []float32, rows []uint32) {
	for _, r := range rows {
		m.addRow(em, r)
	}
}

// precompute builds m.pre and m.nonzero from m.words and the weights.
func (m *Model) precompute() {
	k := m.cls.n()
	m.nonzero = make([]uint64, (len(m.off)-1+63)/64)
	for r := range len(m.off) - 1 {
		if m.off[r] != m.off[r+1] {
			m.nonzero[r>>6] |= 1 << (r & 63)
		}
	}
	x := newExtractor(m.bits, nil)
	p := precomputed{index: make(map[uint64]int32, len(m.words)), vecs: make([]float32, len(m.words)*numParts*k)}
	var rows []uint32
	var rs []rune
	for i, w := range m.words {
		var t tokInfo
		t, rs = info(w, rs)
		p.index[t.raw] = int32(i)
		v := p.vecs[i*numParts*k : (i+1)*numParts*k]
		m.addRows(v[partOwn*k:(partOwn+1)*k], x.ownRows(rows[:0], &t))
		for part := partM2; part < numParts; part++ {
			rows = x.neighbourRows(rows[:0], -partOffsets[part], t.low, t.shape)
			m.addRows(v[part*k:(part+1)*k], rows)
		}
	}
	p.capBias = make([]float32, 2*numCaps*k)
	for c := range numCaps {
		for first := range 2 {
			v := capValue(uint8(c), first == 1)
			m.addRows(p.capBias[int(v)*k:int(v+1)*k], []uint32{x.row(kBias, 0), x.row(kCap, v)})
		}
	}
	for i := range 2 {
		p.bos[i], p.eos[i] = make([]float32, k), make([]float32, k)
	}
	// A sentence's first token sees the start at -1 and -2, its second at
	// -2; its last sees the end at +1 and +2, the one before at +2.
	m.addRows(p.bos[0], x.neighbourRows(x.neighbourRows(rows[:0], -1, bosHash, bosHash), -2, bosHash, bosHash))
	m.addRows(p.bos[1], x.neighbourRows(rows[:0], -2, bosHash, bosHash))
	m.addRows(p.eos[0], x.neighbourRows(x.neighbourRows(rows[:0], 1, eosHash, eosHash), 2, eosHash, eosHash))
	m.addRows(p.eos[1], x.neighbourRows(rows[:0], 2, eosHash, eosHash))
	m.pre = p
}

// scores fills d.em with the class scores of a sentence's tokens.
func (t *Tagger) scores(toks []text.Token) {
	m, x, d := t.m, t.x, t.d
	p := &m.pre
	k, n := d.k, len(toks)
	d.reset(n)
	if n == 0 {
		return
	}
	x.toks = x.toks[:0]
	t.vocab = t.vocab[:0]
	for _, tok := range toks {
		var ti tokInfo
		ti, x.runes = basicInfo(tok.Text, x.runes)
		v, ok := p.index[ti.raw]
		if !ok {
			v = -1
			ti.setAffixes(x.runes)
		}
		x.toks = append(x.toks, ti)
		t.vocab = append(t.vocab, v)
	}
	if m.lex != nil {
		x.pos = m.lex.match(x.toks, x.pos)
	}
	em := func(i int) []float32 { return d.em[i*k : (i+1)*k : (i+1)*k] }
	add := func(dst, src []float32) {
		dst = dst[:len(src)]
		for c, v := range src {
			dst[c] += v
		}
	}
	for i := range n {
		ti := &x.toks[i]
		e := em(i)
		c := capValue(ti.cap, i == 0)
		add(e, p.capBias[int(c)*k:int(c+1)*k])
		if v := t.vocab[i]; v >= 0 {
			vec := p.vecs[int(v)*numParts*k : int(v+1)*numParts*k]
			for part, o := range partOffsets {
				if j := i + o; j >= 0 && j < n {
					add(em(j), vec[part*k:(part+1)*k])
				}
			}
		} else {
			x.feats = x.ownRows(x.feats[:0], ti)
			m.addRows(e, x.feats)
			for part := partM2; part < numParts; part++ {
				if j := i + partOffsets[part]; j >= 0 && j < n {
					x.feats = x.neighbourRows(x.feats[:0], -partOffsets[part], ti.low, ti.shape)
					m.addRows(em(j), x.feats)
				}
			}
		}
		x.feats = x.pairRows(x.feats[:0], i)
		if m.lex != nil {
			x.feats = x.lexRows(x.feats, x.pos[i])
		}
		m.addRows(e, x.feats)
	}
	add(em(0), p.bos[0])
	add(em(n-1), p.eos[0])
	if n > 1 {
		add(em(1), p.bos[1])
		add(em(n-2), p.eos[1])
	}
}
