package vecindex

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Exact is an exhaustive index: every search scores every vector. Vectors
// are kept as the row-major shards they were added in.
//
// Search and SearchBatch may run concurrently with each other, not with Add.
type Exact struct {
	dim    int
	shards []shard
	blocks []block // the shards cut into units of work
	n      int
}

type shard struct {
	ids  []int64
	vecs []float32 // len(ids) rows of dim
}

// Rows per unit of work. 256 rows of 256 float32 are 256 KiB, which stay in
// a core's L2 cache while SearchBatch scores a block of queries against them.
const blockRows = 256

// Queries per block in SearchBatch: they stay in L1 next to one vector.
const blockQueries = 8

// NewExact returns an empty exact index of dim-dimensional vectors.
func NewExact(dim int) *Exact {
	return &Exact{dim: dim}
}

// Dim is the length of every vector.
func (e *Exact) Dim() int { return e.dim }

// Len is the number of vectors.
func (e *Exact) Len() int { return e.n }

// Add adds one shard: ids[i] is the id of the vector flat[i*dim:(i+1)*dim].
// The index keeps both slices, so the caller must not change them after.
// Ids should be unique across shards; Exact does not check.
func (e *Exact) Add(ids []int64, flat []float32) error {
	if e.dim <= 0 {
		return fmt.Errorf("vecindex: add: dimension %d, want > 0", e.dim)
	}
	if len(flat) != len(ids)*e.dim {
		return fmt.Errorf("vecindex: add: %d floats for %d ids of dimension %d, want %d",
			len(flat), len(ids), e.dim, len(ids)*e.dim)
	}
	if len(ids) == 0 {
		return nil
	}
	e.shards = append(e.shards, shard{ids: ids, vecs: flat})
	e.n += len(ids)
	for lo := 0; lo < len(ids); lo += blockRows {
		e.blocks = append(e.blocks, block{len(e.shards) - 1, lo, min(lo+blockRows, len(ids))})
	}
	return nil
}

// block is a run of rows of one shard.
type block struct {
	shard  int
	lo, hi int // rows
}

// workers is how many goroutines share n units of work.
func workers(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n))
}

// parallel runs work(w, b) for every b < n on workers(n) goroutines,
// worker w taking units one at a time so that uneven shards balance out.
func parallel(n int, work func(w, b int)) {
	nw := workers(n)
	if nw == 1 {
		for b := range n {
			work(0, b)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range nw {
		wg.Go(func() {
			for {
				b := int(next.Add(1)) - 1
				if b >= n {
					return
				}
				work(w, b)
			}
		})
	}
	wg.Wait()
}

func (e *Exact) checkQuery(q []float32) {
	if len(q) != e.dim {
		panic(fmt.Sprintf("vecindex: query of dimension %d, index of %d", len(q), e.dim))
	}
}

// Search returns the k vectors of highest inner product with q, sorted by
// score descending and id ascending. It panics if len(q) != Dim().
func (e *Exact) Search(q []float32, k int) []Hit {
	e.checkQuery(q)
	if k <= 0 || e.n == 0 {
		return nil
	}
	bs := e.blocks
	heaps := make([]*topK, workers(len(bs)))
	for i := range heaps {
		heaps[i] = newTopK(k)
	}
	parallel(len(bs), func(w, b int) {
		e.scanBlock(q, bs[b], heaps[w])
	})
	return merge(k, heaps...)
}

func (e *Exact) scanBlock(q []float32, b block, t *topK) {
	sh := e.shards[b.shard]
	dim := e.dim
	for i := b.lo; i < b.hi; i++ {
		s := dot(q, sh.vecs[i*dim:(i+1)*dim])
		if !t.full() || s >= t.min() {
			t.offer(sh.ids[i], s)
		}
	}
}

// SearchBatch is Search for each query. It scores blocks of queries against
// blocks of vectors, so each vector is read from memory once per batch
// rather than once per query.
func (e *Exact) SearchBatch(qs [][]float32, k int) [][]Hit {
	for _, q := range qs {
		e.checkQuery(q)
	}
	out := make([][]Hit, len(qs))
	if k <= 0 || e.n == 0 || len(qs) == 0 {
		return out
	}
	bs := e.blocks
	heaps := make([][]*topK, workers(len(bs))) // [worker][query]
	for w := range heaps {
		heaps[w] = make([]*topK, len(qs))
		for i := range qs {
			heaps[w][i] = newTopK(k)
		}
	}
	parallel(len(bs), func(w, b int) {
		e.scanBlockBatch(qs, bs[b], heaps[w])
	})
	mine := make([]*topK, len(heaps))
	for i := range qs {
		for w := range heaps {
			mine[w] = heaps[w][i]
		}
		out[i] = merge(k, mine...)
	}
	return out
}

func (e *Exact) scanBlockBatch(qs [][]float32, b block, heaps []*topK) {
	sh := e.shards[b.shard]
	dim := e.dim
	for q0 := 0; q0 < len(qs); q0 += blockQueries {
		q1 := min(q0+blockQueries, len(qs))
		for i := b.lo; i < b.hi; i++ {
			v := sh.vecs[i*dim : (i+1)*dim]
			id := sh.ids[i]
			for j := q0; j < q1; j++ {
				s := dot(qs[j], v)
				if t := heaps[j]; !t.full() || s >= t.min() {
					t.offer(id, s)
				}
			}
		}
	}
}
