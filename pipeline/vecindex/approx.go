package vecindex

import (
	"errors"
	"fmt"
	"sync"
)

// Approx is an approximate index for unit vectors: a search ranks all
// vectors by the Hamming distance between binary sketches (see sketch.go),
// rescores the Rerank best of them exactly and returns the k best of those,
// with exact scores. It can only miss a true neighbour whose sketch ranked
// below the Rerank-th.
//
// Why sketches and not a graph (HNSW) or clusters (IVF): the index must hold
// its recall on data without structure, such as random unit vectors in 256
// dimensions, where graph walks and cluster probes find little better than
// a scan of most of the data (k-means lists reach recall@10 0.80 only after
// scanning half of 200,000 such vectors). A sketch scan is a scan too, but
// of Bits/8 bytes per vector instead of 4*dim, with popcounts instead of
// multiplications, and its recall does not depend on how the data cluster.
// (github.com/coder/hnsw v0.6.1 is no option either way: its bounded heaps
// evict arbitrary elements, and its recall@10 on such data is below 0.05.)
//
// An Approx is safe for concurrent searches.
type Approx struct {
	dim    int
	ids    []int64
	vecs   []float32
	sk     *sketcher
	codes  []uint64 // one sketch of sk.words() words per vector
	rerank int
	seed   uint64
	pool   *sync.Pool // of *scratch
	exact  *Exact     // the same vectors, for searches that rescore them all
}

// ApproxOptions configure BuildApprox. Zero values pick the defaults.
type ApproxOptions struct {
	// Bits is the length of a vector's sketch: more bits rank candidates
	// better, for Bits/8 bytes of memory per vector and a longer scan. It is
	// rounded up to whole rotations: a multiple of the dimension rounded up
	// to a power of two, and of 64. Default 1024.
	Bits int
	// Rerank is how many candidates, best by sketch, a search rescores
	// exactly; at least k are. Default 3000: recall@10 0.975 on a million
	// random 256-dimensional unit vectors (scripts/annbench). A given
	// Rerank is a smaller share of a larger index, so raise it with the
	// index and measure.
	Rerank int
	// Seed draws the random rotations of the sketches.
	Seed uint64
}

const (
	defaultBits   = 1024
	defaultRerank = 3000
)

// Rows per unit of work in a sketch scan; each unit keeps its own
// histogram of distances.
const chunkRows = 1 << 14

// scratch is the per-search working memory, pooled because the distance
// array is as long as the index.
type scratch struct {
	dist  []uint16
	hists []int32 // a histogram of bits+1 buckets per chunk
	qcode []uint64
	buf   []float32
}

// BuildApprox indexes the vectors flat[i*dim:(i+1)*dim] under ids[i]. The
// index keeps both slices, so the caller must not change them after. Ids
// should be unique; vectors should be of unit length, as the sketches
// estimate angles.
func BuildApprox(ids []int64, flat []float32, dim int, opt ApproxOptions) (*Approx, error) {
	if len(flat) != len(ids)*max(dim, 0) {
		return nil, fmt.Errorf("vecindex: build approx: %d floats for %d ids of dimension %d, want %d",
			len(flat), len(ids), dim, len(ids)*dim)
	}
	opt, sk, err := newSketches(dim, opt)
	if err != nil {
		return nil, fmt.Errorf("vecindex: build approx: %w", err)
	}
	codes := make([]uint64, len(ids)*sk.words())
	sketchAll(sk, flat, codes)
	return newApprox(dim, ids, flat, sk, codes, opt.Rerank, opt.Seed), nil
}

// ErrOptions is wrapped by the error of an index built with options or a
// dimension it cannot have.
var ErrOptions = errors.New("invalid options")

// newSketches checks opt, fills in its defaults and draws the sketcher.
func newSketches(dim int, opt ApproxOptions) (ApproxOptions, *sketcher, error) {
	if dim <= 0 {
		return opt, nil, fmt.Errorf("%w: dimension %d, want > 0", ErrOptions, dim)
	}
	if opt.Bits < 0 || opt.Rerank < 0 {
		return opt, nil, fmt.Errorf("%w: negative option in %+v", ErrOptions, opt)
	}
	if opt.Bits == 0 {
		opt.Bits = defaultBits
	}
	if opt.Rerank == 0 {
		opt.Rerank = defaultRerank
	}
	b := sketchBits(dim, opt.Bits)
	if b > maxBits {
		return opt, nil, fmt.Errorf("%w: %d sketch bits for dimension %d, at most %d", ErrOptions, b, dim, maxBits)
	}
	return opt, newSketcher(dim, b, opt.Seed), nil
}

// sketchAll writes the sketch of every vector of flat to codes, on every
// core.
func sketchAll(sk *sketcher, flat []float32, codes []uint64) {
	const rows = 1024
	dim, w := sk.dim, sk.words()
	n := len(flat) / dim
	nblocks := (n + rows - 1) / rows
	bufs := make([][]float32, workers(nblocks))
	for i := range bufs {
		bufs[i] = make([]float32, sk.pad)
	}
	parallel(nblocks, func(wk, blk int) {
		for i := blk * rows; i < min((blk+1)*rows, n); i++ {
			sk.encode(flat[i*dim:(i+1)*dim], bufs[wk], codes[i*w:(i+1)*w])
		}
	})
}

func newApprox(dim int, ids []int64, vecs []float32, sk *sketcher, codes []uint64, rerank int, seed uint64) *Approx {
	a := &Approx{dim: dim, ids: ids, vecs: vecs, sk: sk, codes: codes, rerank: rerank, seed: seed, exact: NewExact(dim)}
	if err := a.exact.Add(ids, vecs); err != nil {
		panic(err) // the callers checked the lengths
	}
	a.pool = &sync.Pool{New: func() any { return newScratch(sk, len(ids)) }}
	return a
}

func newScratch(sk *sketcher, n int) *scratch {
	nb := sk.rots*sk.pad + 1
	nchunks := (n + chunkRows - 1) / chunkRows
	return &scratch{
		dist:  make([]uint16, n),
		hists: make([]int32, nchunks*nb),
		qcode: make([]uint64, sk.words()),
		buf:   make([]float32, sk.pad),
	}
}

// Len is the number of vectors.
func (a *Approx) Len() int { return len(a.ids) }

// Dim is the length of every vector.
func (a *Approx) Dim() int { return a.dim }

// Options are the options in effect, defaults filled in and Bits rounded.
func (a *Approx) Options() ApproxOptions {
	return ApproxOptions{Bits: a.sk.rots * a.sk.pad, Rerank: a.rerank, Seed: a.seed}
}

// WithRerank returns the index searching with another Rerank (0: the
// default), sharing everything else with a.
func (a *Approx) WithRerank(rerank int) *Approx {
	if rerank <= 0 {
		rerank = defaultRerank
	}
	b := *a
	b.rerank = rerank
	return &b
}

// Search returns the best k of the max(Rerank, k) vectors whose sketches
// are nearest to q's, with exact scores, sorted by score descending and id
// ascending. It panics if len(q) != Dim().
func (a *Approx) Search(q []float32, k int) []Hit {
	if len(q) != a.dim {
		panic(fmt.Sprintf("vecindex: query of dimension %d, index of %d", len(q), a.dim))
	}
	n := len(a.ids)
	if k <= 0 || n == 0 {
		return nil
	}
	want := max(a.rerank, k)
	if want >= n {
		// Rescoring everything is exact search.
		return a.exact.Search(q, k)
	}
	sc := a.pool.Get().(*scratch)
	defer a.pool.Put(sc)
	t, quota := candidates(a.sk, a.codes, q, want, sc)

	// Pass 2: rescore the candidates exactly.
	nchunks := len(quota)
	heaps := make([]*topK, workers(nchunks))
	for i := range heaps {
		heaps[i] = newTopK(k)
	}
	parallel(nchunks, func(wk, c int) {
		lo, hi := c*chunkRows, min((c+1)*chunkRows, n)
		h, left := heaps[wk], quota[c]
		for i := lo; i < hi; i++ {
			d := int(sc.dist[i])
			if d > t {
				continue
			}
			if d == t {
				if left == 0 {
					continue
				}
				left--
			}
			s := dot(q, a.vecs[i*a.dim:(i+1)*a.dim])
			if !h.full() || s >= h.min() {
				h.offer(a.ids[i], s)
			}
		}
	})
	return merge(k, heaps...)
}

// candidates ranks the sketches in codes by their distance to q's and
// chooses the want nearest: those at a distance below t, and of those at
// exactly t the first quota[c] of each chunk c of chunkRows rows, which
// are the first in index order, so that the choice does not depend on
// scheduling. It leaves every distance in sc.dist. Approx.Search and
// RecallScan share it, so a build streamed through ApproxWriter measures
// the recall of the very candidates a search of its file rescores.
func candidates(sk *sketcher, codes []uint64, q []float32, want int, sc *scratch) (t int, quota []int) {
	sk.encode(q, sc.buf, sc.qcode)
	// Pass 1: every sketch distance, and a histogram of them per chunk.
	w := sk.words()
	n := len(codes) / w
	nb := sk.rots*sk.pad + 1
	nchunks := (n + chunkRows - 1) / chunkRows
	clear(sc.hists)
	parallel(nchunks, func(_, c int) {
		lo, hi := c*chunkRows, min((c+1)*chunkRows, n)
		hamming(codes[lo*w:hi*w], sc.qcode, sc.dist[lo:hi], sc.hists[c*nb:(c+1)*nb])
	})
	// The threshold t: the smallest distance with at least want sketches
	// at or below it.
	total := make([]int, nb)
	for c := range nchunks {
		for d, m := range sc.hists[c*nb : (c+1)*nb] {
			total[d] += int(m)
		}
	}
	below := 0
	for ; below+total[t] < want; t++ {
		below += total[t]
	}
	ties := want - below
	quota = make([]int, nchunks) // sketches at t to take per chunk
	for c := range nchunks {
		quota[c] = min(int(sc.hists[c*nb+t]), ties)
		ties -= quota[c]
	}
	return t, quota
}
