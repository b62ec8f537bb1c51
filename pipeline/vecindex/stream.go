package vecindex

import (
	"bufio"
	"fmt"
	"io"
)

// ApproxWriter writes the file of an approximate index, byte for byte what
// BuildApprox and Save would write, from vectors streamed to it in order.
// It holds their sketches (Bits/8 bytes per vector) and ids, never the
// vectors: an index build need not hold them all, only the search that
// loads the file does.
type ApproxWriter struct {
	dim   int
	ids   []int64
	opt   ApproxOptions // defaults filled in, Bits rounded
	sk    *sketcher
	codes []uint64
	added int // vectors written
	bw    *bufio.Writer
	enc   *encoder
	err   error
}

// NewApproxWriter starts the file of the approximate index of len(ids)
// vectors of dimension dim on w: ids[i] is the id of the i-th vector Add
// will be given. It writes the header and the ids at once. The writer
// keeps ids.
func NewApproxWriter(w io.Writer, dim int, ids []int64, opt ApproxOptions) (*ApproxWriter, error) {
	opt, sk, err := newSketches(dim, opt)
	if err != nil {
		return nil, fmt.Errorf("vecindex: write approx: %w", err)
	}
	opt.Bits = sk.rots * sk.pad
	aw := &ApproxWriter{dim: dim, ids: ids, opt: opt, sk: sk, codes: make([]uint64, len(ids)*sk.words()),
		bw: bufio.NewWriterSize(w, 1<<16)}
	aw.enc, aw.err = writeHead(aw.bw, dim, len(ids), opt, sk.flips)
	if aw.err == nil {
		writeSlice(aw.enc, ids, 8, putInt64)
		aw.err = aw.enc.err
	}
	if aw.err != nil {
		return nil, fmt.Errorf("vecindex: write approx: %w", aw.err)
	}
	return aw, nil
}

// Options are the index's options, defaults filled in and Bits rounded.
func (aw *ApproxWriter) Options() ApproxOptions { return aw.opt }

// Add writes the next vectors, flat[i*dim:(i+1)*dim], and keeps their
// sketches. Vectors should be of unit length, as for BuildApprox.
func (aw *ApproxWriter) Add(flat []float32) error {
	if aw.err != nil {
		return aw.err
	}
	if len(flat)%aw.dim != 0 {
		return fmt.Errorf("vecindex: write approx: %d floats, not a whole number of vectors of dimension %d", len(flat), aw.dim)
	}
	n := len(flat) / aw.dim
	if aw.added+n > len(aw.ids) {
		return fmt.Errorf("vecindex: write approx: %d vectors past the %d announced", aw.added+n-len(aw.ids), len(aw.ids))
	}
	w := aw.sk.words()
	sketchAll(aw.sk, flat, aw.codes[aw.added*w:(aw.added+n)*w])
	writeSlice(aw.enc, flat, 4, putFloat32)
	aw.added += n
	if aw.enc.err != nil {
		aw.err = fmt.Errorf("vecindex: write approx: %w", aw.enc.err)
	}
	return aw.err
}

// Close writes the sketches and the checksum and flushes the file; it
// fails unless every announced vector was added. It does not close the
// io.Writer.
func (aw *ApproxWriter) Close() error {
	if aw.err != nil {
		return aw.err
	}
	if aw.added != len(aw.ids) {
		aw.err = fmt.Errorf("vecindex: write approx: %d of %d vectors added", aw.added, len(aw.ids))
		return aw.err
	}
	if err := writeTail(aw.bw, aw.enc, aw.codes); err != nil {
		aw.err = fmt.Errorf("vecindex: write approx: %w", err)
	}
	return aw.err
}

// RecallScan measures the recall@k of an index written by an ApproxWriter
// against exact search, as Recall(exact, LoadApprox(file), queries, k)
// would, without the vectors in memory: they are streamed through Add a
// second time, in the same order, while the sketches choose each query's
// candidates as a search of the file does.
type RecallScan struct {
	aw      *ApproxWriter
	queries [][]float32
	k       int
	cands   [][]int // per query: the rows a search rescores, ascending; nil: all
	next    []int   // per query: the first candidate not yet seen
	exact   []*topK // per query: the best k of every row
	approx  []*topK // per query: the best k of the candidates
	pos     int     // rows seen
}

// RecallScan starts the measurement over queries, each of the index's
// dimension, once the writer is closed.
func (aw *ApproxWriter) RecallScan(queries [][]float32, k int) (*RecallScan, error) {
	if aw.err != nil || aw.added != len(aw.ids) {
		return nil, fmt.Errorf("vecindex: recall scan of an unfinished index")
	}
	for i, q := range queries {
		if len(q) != aw.dim {
			return nil, fmt.Errorf("vecindex: recall scan: query %d of dimension %d, index of %d", i, len(q), aw.dim)
		}
	}
	r := &RecallScan{aw: aw, queries: queries, k: k, cands: make([][]int, len(queries)), next: make([]int, len(queries))}
	n := len(aw.ids)
	want := max(aw.opt.Rerank, k)
	var sc *scratch
	for i, q := range queries {
		r.exact = append(r.exact, newTopK(k))
		r.approx = append(r.approx, newTopK(k))
		if want >= n || k <= 0 {
			continue // a search rescores every vector
		}
		if sc == nil {
			sc = newScratch(aw.sk, n)
		}
		t, quota := candidates(aw.sk, aw.codes, q, want, sc)
		r.cands[i] = chosen(sc.dist[:n], t, quota, want)
	}
	return r, nil
}

// chosen lists the rows that candidates chose, ascending.
func chosen(dist []uint16, t int, quota []int, want int) []int {
	rows := make([]int, 0, want)
	for c, left := range quota {
		lo, hi := c*chunkRows, min((c+1)*chunkRows, len(dist))
		for i := lo; i < hi; i++ {
			d := int(dist[i])
			if d > t || (d == t && left == 0) {
				continue
			}
			if d == t {
				left--
			}
			rows = append(rows, i)
		}
	}
	return rows
}

// Add scores the next vectors, flat[i*dim:(i+1)*dim], against every query.
func (r *RecallScan) Add(flat []float32) error {
	dim := r.aw.dim
	if len(flat)%dim != 0 {
		return fmt.Errorf("vecindex: recall scan: %d floats, not a whole number of vectors of dimension %d", len(flat), dim)
	}
	n := len(flat) / dim
	if r.pos+n > len(r.aw.ids) {
		return fmt.Errorf("vecindex: recall scan: %d vectors past the index's %d", r.pos+n-len(r.aw.ids), len(r.aw.ids))
	}
	if r.k <= 0 || n == 0 {
		r.pos += n
		return nil
	}
	ids := r.aw.ids[r.pos : r.pos+n]
	ex := NewExact(dim)
	if err := ex.Add(ids, flat); err != nil {
		return err
	}
	for q, hits := range ex.SearchBatch(r.queries, r.k) {
		for _, h := range hits {
			r.exact[q].offer(h.ID, h.Score)
			if r.cands[q] == nil {
				r.approx[q].offer(h.ID, h.Score)
			}
		}
		cs := r.cands[q]
		for r.next[q] < len(cs) && cs[r.next[q]] < r.pos+n {
			i := cs[r.next[q]] - r.pos
			r.approx[q].offer(ids[i], dot(r.queries[q], flat[i*dim:(i+1)*dim]))
			r.next[q]++
		}
	}
	r.pos += n
	return nil
}

// Recall returns the mean recall@k over the queries, once every vector
// has been added.
func (r *RecallScan) Recall() (float64, error) {
	if r.pos != len(r.aw.ids) {
		return 0, fmt.Errorf("vecindex: recall scan: %d of %d vectors added", r.pos, len(r.aw.ids))
	}
	if len(r.queries) == 0 {
		return 0, nil
	}
	var sum float64
	for q := range r.queries {
		sum += recallOf(merge(r.k, r.exact[q]), merge(r.k, r.approx[q]))
	}
	return sum / float64(len(r.queries)), nil
}
