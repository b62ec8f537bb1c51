package retriever

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// A head file is little-endian binary:
//
//	magic    8 bytes "ZNRHEAD\n"
//	version  uint32, 1
//	in       uint32
//	hidden   uint32
//	out      uint32
//	dropout  float32
//	margin   float32
//	weights  float32 × (in·hidden + hidden + hidden·out + out):
//	         W1 (in rows of hidden), b1, W2 (hidden rows of out), b2
//	crc      uint32, CRC-32 (IEEE) of every byte before it
//
// Version 1 of a 1024 -> 500 -> 500 head takes about 3 MB.
const (
	headMagic   = "ZNRHEAD\n"
	headVersion = 1
	headerSize  = len(headMagic) + 4*6
	// maxWidth and maxParams bound what ReadHead allocates, so that a
	// corrupt header cannot ask for gigabytes.
	maxWidth  = 1 << 16
	maxParams = 1 << 28
)

// ErrCorruptHead is wrapped by the errors ReadHead returns for files that
// are not valid heads.
var ErrCorruptHead = errors.New("corrupt projection head")

// WriteTo writes the head in the format ReadHead reads. It implements
// io.WriterTo.
func (h *Head) WriteTo(w io.Writer) (int64, error) {
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, headMagic...)
	for _, v := range []uint32{headVersion, uint32(h.in), uint32(h.hidden), uint32(h.out),
		math.Float32bits(h.dropout), math.Float32bits(h.margin)} {
		hdr = binary.LittleEndian.AppendUint32(hdr, v)
	}
	bw.Write(hdr)
	var buf [4]byte
	for _, v := range h.p.all {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		bw.Write(buf[:])
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("write head: %w", err)
	}
	binary.LittleEndian.PutUint32(buf[:], crc.Sum32())
	if _, err := w.Write(buf[:]); err != nil {
		return 0, fmt.Errorf("write head: %w", err)
	}
	return int64(headerSize + 4*len(h.p.all) + 4), nil
}

// ReadHead reads a head written by WriteTo. A file that is not a head, of
// another version, truncated, with impossible dimensions, a bad checksum or
// non-finite weights is an error wrapping ErrCorruptHead. It reads exactly
// the head's bytes and no further.
func ReadHead(r io.Reader) (*Head, error) {
	crc := crc32.NewIEEE()
	tr := io.TeeReader(r, crc)
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(tr, hdr); err != nil {
		return nil, corrupt("header: %w", noEOF(err))
	}
	if string(hdr[:len(headMagic)]) != headMagic {
		return nil, corrupt("not a projection head file (magic %q)", hdr[:len(headMagic)])
	}
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(hdr[len(headMagic)+4*i:]) }
	if v := u(0); v != headVersion {
		return nil, corrupt("version %d, this build reads version %d", v, headVersion)
	}
	in, hidden, out := u(1), u(2), u(3)
	for _, d := range []uint32{in, hidden, out} {
		if d == 0 || d > maxWidth {
			return nil, corrupt("dimensions %d -> %d -> %d out of range", in, hidden, out)
		}
	}
	n := uint64(in)*uint64(hidden) + uint64(hidden) + uint64(hidden)*uint64(out) + uint64(out)
	if n > maxParams {
		return nil, corrupt("dimensions %d -> %d -> %d: %d weights, more than %d", in, hidden, out, n, maxParams)
	}
	dropout, margin := math.Float32frombits(u(4)), math.Float32frombits(u(5))
	if !(dropout >= 0 && dropout < 1) || !(margin >= 0 && margin <= math.MaxFloat32) {
		return nil, corrupt("dropout %v or margin %v out of range", dropout, margin)
	}
	h := newHead(int(in), int(hidden), int(out))
	h.dropout, h.margin = dropout, margin
	buf := make([]byte, 1<<16)
	for done := 0; done < len(h.p.all); {
		k := min(len(buf)/4, len(h.p.all)-done)
		if _, err := io.ReadFull(tr, buf[:4*k]); err != nil {
			return nil, corrupt("weights: %w", noEOF(err))
		}
		for i := range k {
			h.p.all[done+i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		done += k
	}
	sum := crc.Sum32()
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return nil, corrupt("checksum: %w", noEOF(err))
	}
	if want := binary.LittleEndian.Uint32(buf[:4]); want != sum {
		return nil, corrupt("checksum mismatch: file says %08x, content is %08x", want, sum)
	}
	for i, v := range h.p.all {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, corrupt("weight %d is %v", i, v)
		}
	}
	return h, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("read head: %w: %w", ErrCorruptHead, fmt.Errorf(format, args...))
}

// noEOF reports a clean end of file inside the data as what it is: a
// truncated file.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
