package retriever

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Head is the projection head of NER Retriever (METHODS.md §2): Linear
// in -> hidden, SiLU, dropout (in training only), Linear hidden -> out,
// L2-normalised. It turns raw encoder vectors, of mentions and of type
// descriptions alike, into a space where a type's description lies near
// its mentions; Train fits it to a run's silver labels.
//
// Apply, ApplyBatch, Loss, WriteTo and Wrap only read the weights and may
// run concurrently with each other, not with Train.
type Head struct {
	in, hidden, out int
	dropout, margin float32
	p               params
}

// Default head settings, the paper's.
const (
	DefaultHidden  = 500
	DefaultOut     = 500
	DefaultDropout = 0.1
	DefaultMargin  = 0.5
)

// HeadOptions shape a new head. Zero values take the defaults.
type HeadOptions struct {
	Hidden int // width of the hidden layer; DefaultHidden
	Out    int // width of the output; DefaultOut
	// Dropout is the probability of dropping a hidden unit in training;
	// DefaultDropout when 0, none when negative.
	Dropout float64
	// Margin is the triplet loss margin; DefaultMargin when 0.
	Margin float64
	// Seed seeds the initial weights.
	Seed uint64
}

// params holds every weight of a head in one slice, so that optimisers,
// persistence and digests see them as one; w1, b1, w2 and b2 are views.
type params struct {
	all    []float32
	w1, b1 []float32 // w1 is in×hidden: row j holds the weights from input j
	w2, b2 []float32 // w2 is hidden×out
}

func newParams(in, hidden, out int) params {
	all := make([]float32, in*hidden+hidden+hidden*out+out)
	var p params
	p.all = all
	p.w1, all = all[:in*hidden:in*hidden], all[in*hidden:]
	p.b1, all = all[:hidden:hidden], all[hidden:]
	p.w2, all = all[:hidden*out:hidden*out], all[hidden*out:]
	p.b2 = all
	return p
}

// NewHead returns a head taking in-wide vectors, initialised from
// opt.Seed: He-normal weights into the SiLU, Xavier-uniform weights out of
// it, zero biases. It panics if in is not positive or a width is negative.
func NewHead(in int, opt HeadOptions) *Head {
	if in <= 0 || opt.Hidden < 0 || opt.Out < 0 {
		panic(fmt.Sprintf("retriever: NewHead: bad dimensions %d, %d, %d", in, opt.Hidden, opt.Out))
	}
	h := newHead(in, cmp.Or(opt.Hidden, DefaultHidden), cmp.Or(opt.Out, DefaultOut))
	switch {
	case opt.Dropout < 0:
		h.dropout = 0
	case opt.Dropout == 0:
		h.dropout = DefaultDropout
	default:
		h.dropout = float32(opt.Dropout)
	}
	h.margin = float32(cmp.Or(opt.Margin, DefaultMargin))
	r := rand.New(rand.NewPCG(opt.Seed, 0x6865616420696e69)) // "head ini"
	sd := math.Sqrt(2 / float64(h.in))
	for i := range h.p.w1 {
		h.p.w1[i] = float32(r.NormFloat64() * sd)
	}
	a := math.Sqrt(6 / float64(h.hidden+h.out))
	for i := range h.p.w2 {
		h.p.w2[i] = float32((2*r.Float64() - 1) * a)
	}
	return h
}

func newHead(in, hidden, out int) *Head {
	return &Head{in: in, hidden: hidden, out: out, p: newParams(in, hidden, out)}
}

// In, Hidden and Out are the head's widths.
func (h *Head) In() int     { return h.in }
func (h *Head) Hidden() int { return h.hidden }
func (h *Head) Out() int    { return h.out }

// Margin is the triplet loss margin Train and Loss use.
func (h *Head) Margin() float64 { return float64(h.margin) }

// Clone returns a deep copy of h.
func (h *Head) Clone() *Head {
	c := newHead(h.in, h.hidden, h.out)
	c.dropout, c.margin = h.dropout, h.margin
	copy(c.p.all, h.p.all)
	return c
}

// Digest is a short hex hash of the head's shape and weights: two heads
// with the same digest project alike.
func (h *Head) Digest() string {
	s := sha256.New()
	if _, err := h.WriteTo(s); err != nil {
		panic(err) // a hash never fails to write
	}
	return hex.EncodeToString(s.Sum(nil)[:8])
}

// Apply returns the unit-length projection of v; a v the head maps to zero
// stays zero. It panics if len(v) is not h.In().
func (h *Head) Apply(v []float32) []float32 {
	if len(v) != h.in {
		panic(fmt.Sprintf("retriever: Head.Apply: vector of %d dimensions, head takes %d", len(v), h.in))
	}
	return h.ApplyBatch([][]float32{v})[0]
}

// ApplyBatch is Apply for many vectors, computed on every CPU.
func (h *Head) ApplyBatch(vs [][]float32) [][]float32 {
	for i, v := range vs {
		if len(v) != h.in {
			panic(fmt.Sprintf("retriever: Head.ApplyBatch: vector %d has %d dimensions, head takes %d", i, len(v), h.in))
		}
	}
	out := make([][]float32, len(vs))
	backing := make([]float32, len(vs)*h.out)
	var f forward
	workers := runtime.GOMAXPROCS(0)
	for lo := 0; lo < len(vs); lo += evalBatch {
		hi := min(lo+evalBatch, len(vs))
		f.run(h, vs[lo:hi], nil, workers)
		for i := lo; i < hi; i++ {
			out[i] = backing[i*h.out : (i+1)*h.out : (i+1)*h.out]
			copy(out[i], f.y[(i-lo)*h.out:])
		}
	}
	return out
}

// evalBatch is how many vectors a forward pass outside training takes at a
// time: enough to share each weight row among many, few enough to keep
// the activations in cache.
const evalBatch = 256

// Wrap returns an encoder whose vectors are e's projected by the head as
// it is now: training h later does not change the wrapped encoder. Its name
// is e's with "+head/" and the head's digest, so that an index built
// through one head refuses queries projected by another.
func (h *Head) Wrap(e Encoder) Encoder {
	c := h.Clone()
	return &headEncoder{e: e, h: c, name: e.Name() + "+head/" + c.Digest()}
}

type headEncoder struct {
	e    Encoder
	h    *Head
	name string
}

func (he *headEncoder) Name() string { return he.name }
func (he *headEncoder) Dim() int     { return he.h.out }

func (he *headEncoder) Mentions(ctx context.Context, ms []Mention) ([][]float32, error) {
	vs, err := he.e.Mentions(ctx, ms)
	if err != nil {
		return nil, err
	}
	return he.project(vs)
}

func (he *headEncoder) Queries(ctx context.Context, descs []string) ([][]float32, error) {
	vs, err := he.e.Queries(ctx, descs)
	if err != nil {
		return nil, err
	}
	return he.project(vs)
}

func (he *headEncoder) project(vs [][]float32) ([][]float32, error) {
	for i, v := range vs {
		if len(v) != he.h.in {
			return nil, fmt.Errorf("%s: vector %d has %d dimensions, the head takes %d", he.e.Name(), i, len(v), he.h.in)
		}
	}
	return he.h.ApplyBatch(vs), nil
}

// parallel runs f(w, n) for w in [0, n) on n goroutines, n at most
// workers, and waits. Callers split work by w so that every output is
// computed by one goroutine in a fixed order: results do not depend on n.
func parallel(workers int, f func(w, n int)) {
	if workers <= 1 {
		f(0, 1)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f(w, workers) })
	}
	wg.Wait()
}

// span is the w-th of n near-equal parts of [0, size).
func span(w, n, size int) (lo, hi int) { return size * w / n, size * (w + 1) / n }
