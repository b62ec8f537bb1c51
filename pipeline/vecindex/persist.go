package vecindex

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
)

// ErrCorrupt is wrapped by LoadApprox's error when its input is not an
// index Save wrote: wrong magic, a damaged header or body, or truncated.
var ErrCorrupt = errors.New("corrupt index")

// The file is a header, its CRC-32C, a body and the body's CRC-32C, all
// little-endian. The header is checked before anything is allocated from
// the sizes it holds.
//
//	header: magic [8]byte, version u32, dim u32, n u64, bits u32,
//	        rounds u32, rerank u32, seed u64
//	body:   flips [ceil(bits/pad*rounds*pad/64)]u64, ids [n]i64,
//	        vecs [n*dim]f32, codes [n*bits/64]u64
const (
	magic      = "vecindex"
	version    = 1
	headerSize = 8 + 4 + 4 + 8 + 4 + 4 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes the index, vectors included, to w.
func (a *Approx) Save(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc, err := writeHead(bw, a.dim, len(a.ids), a.Options(), a.sk.flips)
	if err != nil {
		return fmt.Errorf("vecindex: save approx: %w", err)
	}
	writeSlice(enc, a.ids, 8, putInt64)
	writeSlice(enc, a.vecs, 4, putFloat32)
	if err := writeTail(bw, enc, a.codes); err != nil {
		return fmt.Errorf("vecindex: save approx: %w", err)
	}
	return nil
}

// writeHead writes the header, its checksum and the sign flips, and
// returns the encoder of the body that follows.
func writeHead(bw *bufio.Writer, dim, n int, opt ApproxOptions, flips []uint64) (*encoder, error) {
	h := make([]byte, 0, headerSize+4)
	h = append(h, magic...)
	h = binary.LittleEndian.AppendUint32(h, version)
	h = binary.LittleEndian.AppendUint32(h, uint32(dim))
	h = binary.LittleEndian.AppendUint64(h, uint64(n))
	h = binary.LittleEndian.AppendUint32(h, uint32(opt.Bits))
	h = binary.LittleEndian.AppendUint32(h, rounds)
	h = binary.LittleEndian.AppendUint32(h, uint32(opt.Rerank))
	h = binary.LittleEndian.AppendUint64(h, opt.Seed)
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	if _, err := bw.Write(h); err != nil {
		return nil, err
	}
	enc := &encoder{w: bw, crc: crc32.New(castagnoli)}
	writeSlice(enc, flips, 8, putUint64)
	return enc, enc.err
}

// writeTail writes the sketches, the body's checksum, and flushes.
func writeTail(bw *bufio.Writer, enc *encoder, codes []uint64) error {
	writeSlice(enc, codes, 8, putUint64)
	if enc.err == nil {
		_, enc.err = bw.Write(binary.LittleEndian.AppendUint32(nil, enc.crc.Sum32()))
	}
	if enc.err == nil {
		enc.err = bw.Flush()
	}
	return enc.err
}

func putUint64(b []byte, v uint64)   { binary.LittleEndian.PutUint64(b, v) }
func putInt64(b []byte, v int64)     { binary.LittleEndian.PutUint64(b, uint64(v)) }
func putFloat32(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) }

type encoder struct {
	w   io.Writer
	crc hash.Hash32
	buf []byte
	err error
}

// writeSlice writes vs, size bytes each, through a bounded buffer.
func writeSlice[T any](e *encoder, vs []T, size int, put func([]byte, T)) {
	const chunk = 1 << 13
	if e.buf == nil {
		e.buf = make([]byte, chunk*8)
	}
	for len(vs) > 0 && e.err == nil {
		m := min(len(vs), chunk)
		b := e.buf[:m*size]
		for i, v := range vs[:m] {
			put(b[i*size:], v)
		}
		e.crc.Write(b)
		_, e.err = e.w.Write(b)
		vs = vs[m:]
	}
}

// Limits on what a header may claim, far above any real index, so that a
// forged header cannot ask for absurd allocations: at most 2^36 rows and
// 2^36 floats.
const (
	maxDim  = 1 << 16
	maxRows = 1 << 36
)

// LoadApprox reads an index that Save wrote. Its error wraps ErrCorrupt
// when the input is damaged or not such an index. It buffers its reads, so
// it may consume r past the end of the index.
func LoadApprox(r io.Reader) (*Approx, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	h := make([]byte, headerSize+4)
	if _, err := io.ReadFull(br, h); err != nil {
		return nil, loadErr(err, "header")
	}
	if string(h[:8]) != magic {
		return nil, fmt.Errorf("vecindex: load approx: %w: not an index (magic %q)", ErrCorrupt, h[:8])
	}
	if got, want := binary.LittleEndian.Uint32(h[headerSize:]), crc32.Checksum(h[:headerSize], castagnoli); got != want {
		return nil, fmt.Errorf("vecindex: load approx: %w: header checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	le := binary.LittleEndian
	if v := le.Uint32(h[8:]); v != version {
		return nil, fmt.Errorf("vecindex: load approx: version %d, this code reads %d", v, version)
	}
	dim := int(le.Uint32(h[12:]))
	n := le.Uint64(h[16:])
	bits := int(le.Uint32(h[24:]))
	rds := le.Uint32(h[28:])
	rerank := int(le.Uint32(h[32:]))
	seed := le.Uint64(h[36:])
	switch {
	case dim <= 0 || dim > maxDim:
		return nil, fmt.Errorf("vecindex: load approx: %w: dimension %d", ErrCorrupt, dim)
	case n > maxRows || n*uint64(dim) > maxRows:
		return nil, fmt.Errorf("vecindex: load approx: %w: %d rows of dimension %d", ErrCorrupt, n, dim)
	case bits <= 0 || bits > maxBits || sketchBits(dim, bits) != bits:
		return nil, fmt.Errorf("vecindex: load approx: %w: %d sketch bits for dimension %d", ErrCorrupt, bits, dim)
	case rds != rounds:
		return nil, fmt.Errorf("vecindex: load approx: sketches of %d rounds, this code makes %d", rds, rounds)
	case rerank <= 0:
		return nil, fmt.Errorf("vecindex: load approx: %w: rerank %d", ErrCorrupt, rerank)
	}
	rows := int(n)
	pad := padDim(dim)
	dec := &decoder{r: br, crc: crc32.New(castagnoli)}
	flips := readSlice(dec, (bits/pad*rounds*pad+63)/64, 8, func(b []byte) uint64 { return le.Uint64(b) })
	ids := readSlice(dec, rows, 8, func(b []byte) int64 { return int64(le.Uint64(b)) })
	vecs := readSlice(dec, rows*dim, 4, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) })
	codes := readSlice(dec, rows*bits/64, 8, func(b []byte) uint64 { return le.Uint64(b) })
	if dec.err != nil {
		return nil, loadErr(dec.err, "body")
	}
	sum := make([]byte, 4)
	if _, err := io.ReadFull(br, sum); err != nil {
		return nil, loadErr(err, "body checksum")
	}
	if got, want := le.Uint32(sum), dec.crc.Sum32(); got != want {
		return nil, fmt.Errorf("vecindex: load approx: %w: body checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	return newApprox(dim, ids, vecs, sketcherFrom(dim, bits, flips), codes, rerank, seed), nil
}

// loadErr reports a failed read: running out of input is corruption (a
// truncated file), anything else an I/O error.
func loadErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("vecindex: load approx: %w: truncated %s", ErrCorrupt, what)
	}
	return fmt.Errorf("vecindex: load approx: read %s: %w", what, err)
}

type decoder struct {
	r   io.Reader
	crc hash.Hash32
	buf []byte
	err error
}

// readSlice reads n values of size bytes each through a bounded buffer.
func readSlice[T any](d *decoder, n, size int, get func([]byte) T) []T {
	if d.err != nil {
		return nil
	}
	const chunk = 1 << 13
	if d.buf == nil {
		d.buf = make([]byte, chunk*8)
	}
	out := make([]T, n)
	for i := 0; i < n; i += chunk {
		m := min(n-i, chunk)
		b := d.buf[:m*size]
		if _, d.err = io.ReadFull(d.r, b); d.err != nil {
			return nil
		}
		d.crc.Write(b)
		for j := range m {
			out[i+j] = get(b[j*size:])
		}
	}
	return out
}
