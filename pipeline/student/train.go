package student

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/zeroner/zeroner/pipeline/text"
)

// Model is a trained tagger: read-only, safe for concurrent use through
// one Tagger per goroutine.
type Model struct {
	cls    classes
	bits   int
	epochs int // what it was trained with, for the record
	lex    *lexicon
	// The table, sparse: row r's non-zero weights are w[off[r]:off[r+1]].
	// A perceptron's feature mostly has weight for the few classes it
	// was confused between, and tagging is bound by reading the table.
	off     []uint32
	w       []weight
	nonzero []uint64  // bitmap of the rows with weights
	trans   []float32 // (k+1)×k: trans[j*k+c] is class j then c, j == k the start
	tt      []float32 // trans transposed, for the decoder
	spread  float32   // of trans, for the decoder
	words   []string  // the vocabulary whose vectors are precomputed, sorted
	pre     precomputed
}

// Types returns the entity types the model tags, sorted.
func (m *Model) Types() []string { return append([]string(nil), m.cls.types...) }

// Bits returns the log2 of the model's weight table rows.
func (m *Model) Bits() int { return m.bits }

// Weights returns the number of the model's non-zero feature weights.
func (m *Model) Weights() int { return len(m.w) }

// Epochs returns the number of passes the model was trained with.
func (m *Model) Epochs() int { return m.epochs }

// TrainingBytes is the memory Train holds for its weights with opt over
// types entity types (the examples and their tokens come on top).
func TrainingBytes(opt Options, types int) int64 {
	opt, err := opt.withDefaults()
	if err != nil {
		return 0
	}
	k := int64(1 + 2*types)
	return (int64(1)<<opt.Bits)*k*12 + (k+1)*k*12
}

// weight is a non-zero weight of a table row.
type weight struct {
	class uint32
	w     float32
}

// sentence is a training sentence: tokens [lo, hi) of the examples, whose
// gold classes are gold[lo:hi].
type sentence struct{ lo, hi int32 }

// sentences are the training examples as sentences of tokens with classes.
type sentences struct {
	toks  []text.Token
	gold  []uint8
	sents []sentence
}

// split tokenizes the examples into sentences, as the tagger does, and
// gives each token its class: B-t for the first token wholly inside a span
// of type t, I-t for the others; a token a span covers only in part is O.
func split(ctx context.Context, examples []Example, cls classes) (sentences, error) {
	var c sentences
	for i, e := range examples {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return sentences{}, err
			}
		}
		base := len(c.toks)
		c.toks = append(c.toks, text.Tokenize(e.Text)...)
		toks := c.toks[base:]
		gold := make([]uint8, len(toks))
		for _, s := range e.Spans {
			ti, ok := cls.index[s.Label]
			if !ok {
				return sentences{}, fmt.Errorf("student: example %d: unknown type %q", i, s.Label)
			}
			first := true
			for j, t := range toks {
				if t.Start >= s.Start && t.End <= s.End && gold[j] == 0 {
					gold[j] = uint8(2 + 2*ti)
					if first {
						gold[j]--
					}
					first = false
				}
			}
		}
		forSentences(e.Text, toks, func(lo, hi int) {
			// A span cut by a sentence end, or by another span, starts
			// again with B-.
			prev := -1
			for j := lo; j < hi; j++ {
				if g := int(gold[j]); !allowed(prev, g) {
					gold[j]--
				}
				prev = int(gold[j])
			}
			c.sents = append(c.sents, sentence{int32(base + lo), int32(base + hi)})
		})
		c.gold = append(c.gold, gold...)
	}
	return c, nil
}

// forSentences calls f with the token range [lo, hi) of each sentence of s
// that has tokens.
func forSentences(s string, toks []text.Token, f func(lo, hi int)) {
	if len(toks) == 0 {
		return
	}
	sents := text.Sentences(s)
	lo, j := 0, 0
	for i, t := range toks {
		// The splitter cuts only at white space: a token is in the first
		// sentence that ends after its start.
		k := j
		for k < len(sents) && t.Start >= sents[k].End {
			k++
		}
		if k != j && i > lo {
			f(lo, i)
			lo = i
		}
		j = k
	}
	f(lo, len(toks))
}

// Train trains a model on examples: an averaged structured perceptron,
// opt.Epochs passes over the sentences in an order drawn from opt.Seed.
// It is single-threaded and deterministic.
func Train(ctx context.Context, examples []Example, opt Options) (*Model, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	var types []string
	for _, e := range examples {
		for _, s := range e.Spans {
			types = append(types, s.Label)
		}
	}
	cls, err := newClasses(types)
	if err != nil {
		return nil, err
	}
	lex, err := newLexicon(opt.Lexicons)
	if err != nil {
		return nil, err
	}
	c, err := split(ctx, examples, cls)
	if err != nil {
		return nil, err
	}
	t := newTrainer(cls.n(), opt.Bits)
	x := newExtractor(opt.Bits, lex)
	d := newDecoder(t.k)
	order := make([]int, len(c.sents))
	for i := range order {
		order[i] = i
	}
	for ep := range opt.Epochs {
		r := rand.New(rand.NewPCG(opt.Seed, uint64(ep)))
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for n, si := range order {
			if n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			s := c.sents[si]
			x.sentence(c.toks[s.lo:s.hi])
			t.learn(x, d, c.gold[s.lo:s.hi])
		}
	}
	m := &Model{cls: cls, bits: opt.Bits, epochs: opt.Epochs, lex: lex, words: vocabulary(c, opt.Vocab)}
	t.average(m)
	m.precompute()
	return m, nil
}

// trainer holds the perceptron's weights while it learns: integer counts,
// so that training and averaging are exact. The average of the weights
// over all steps is recovered from w and u, the updates weighted by the
// step they came at (Daumé's trick).
type trainer struct {
	k      int
	step   int64
	w      []int32 // 2^bits × k
	u      []int64
	tw     []int32 // (k+1)×k transitions
	tu     []int64
	tt     []float32 // tw as float32, transposed for the decoder
	scores []float32
}

func newTrainer(k, bits int) *trainer {
	rows := 1 << bits
	return &trainer{
		k:  k,
		w:  make([]int32, rows*k),
		u:  make([]int64, rows*k),
		tw: make([]int32, (k+1)*k),
		tu: make([]int64, (k+1)*k),
		tt: make([]float32, (k+1)*k),
	}
}

// learn decodes one sentence with the current weights and, where the path
// is wrong, moves the weights towards gold.
func (t *trainer) learn(x *extractor, d *decoder, gold []uint8) {
	t.step++
	k, n := t.k, len(gold)
	d.reset(n)
	for i := range n {
		em := d.em[i*k : (i+1)*k]
		for _, r := range x.feats[x.off[i]:x.off[i+1]] {
			for c, v := range t.w[int(r)*k : int(r+1)*k] {
				em[c] += float32(v)
			}
		}
	}
	path := d.viterbi(t.tt, float32(math.Inf(1)))
	prevG, prevP := k, k
	for i := range n {
		g, p := int(gold[i]), int(path[i])
		if g != p {
			for _, r := range x.feats[x.off[i]:x.off[i+1]] {
				t.add(t.w, t.u, int(r)*k+g, 1)
				t.add(t.w, t.u, int(r)*k+p, -1)
			}
		}
		if g != p || prevG != prevP {
			t.add(t.tw, t.tu, prevG*k+g, 1)
			t.add(t.tw, t.tu, prevP*k+p, -1)
			t.tt[g*(k+1)+prevG] = float32(t.tw[prevG*k+g])
			t.tt[p*(k+1)+prevP] = float32(t.tw[prevP*k+p])
		}
		prevG, prevP = g, p
	}
}

func (t *trainer) add(w []int32, u []int64, i int, v int32) {
	w[i] += v
	u[i] += int64(v) * t.step
}

// average sets m's weights to the perceptron's average over all steps:
// an update at step s counts in the weights of steps s to T, so the mean
// is (w·(T+1) - u)/T.
func (t *trainer) average(m *Model) {
	k, T := t.k, float64(max(t.step, 1))
	avg := func(w int32, u int64) float32 { return float32((float64(w)*(T+1) - float64(u)) / T) }
	rows := len(t.w) / k
	m.off = make([]uint32, rows+1)
	for r := range rows {
		for c := range k {
			if v := avg(t.w[r*k+c], t.u[r*k+c]); v != 0 {
				m.w = append(m.w, weight{uint32(c), v})
			}
		}
		m.off[r+1] = uint32(len(m.w))
	}
	m.trans = make([]float32, len(t.tw))
	for i := range t.tw {
		m.trans[i] = avg(t.tw[i], t.tu[i])
	}
	m.tt = transpose(m.trans, k, nil)
	m.spread = spread(m.trans, k)
}
