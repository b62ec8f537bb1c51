package student

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// The artefact's header. formatVersion changes whenever the bytes or the
// meaning of the weights change (a feature template, the hashing, the
// class layout): a model is only read by the code that wrote its kind.
const (
	magic         = "ZNSTUDNT"
	formatVersion = 1
)

// MarshalBinary returns the model as a versioned artefact: the header
// (magic, format version), the table's bits and the epochs trained, the
// entity types, the lexicons, the precomputed vocabulary, the transition
// weights, the rows of the
// weight table that have a non-zero weight, in row order (row, count, then
// class and weight pairs), and a CRC-32 of all that. The same model
// gives the same bytes.
func (m *Model) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+4*len(m.trans)+6*len(m.w))
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	b = append(b, byte(m.bits))
	b = binary.AppendUvarint(b, uint64(m.epochs))
	b = binary.AppendUvarint(b, uint64(len(m.cls.types)))
	for _, t := range m.cls.types {
		b = appendString(b, t)
	}
	var lex []Lexicon
	if m.lex != nil {
		lex = m.lex.src
	}
	b = binary.AppendUvarint(b, uint64(len(lex)))
	for _, l := range lex {
		b = appendString(b, l.Name)
		b = binary.AppendUvarint(b, uint64(len(l.Entries)))
		for _, e := range l.Entries {
			b = appendString(b, e)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(m.words)))
	for _, w := range m.words {
		b = appendString(b, w)
	}
	for _, v := range m.trans {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	rows := 0
	for r := range len(m.off) - 1 {
		if m.off[r] != m.off[r+1] {
			rows++
		}
	}
	b = binary.AppendUvarint(b, uint64(rows))
	for r := range len(m.off) - 1 {
		ws := m.w[m.off[r]:m.off[r+1]]
		if len(ws) == 0 {
			continue
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(r))
		b = append(b, byte(len(ws)))
		for _, w := range ws {
			b = append(b, byte(w.class))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(w.w))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// ErrVersion is returned by Unmarshal for an artefact of another format
// version.
var ErrVersion = errors.New("student: model format version not supported")

// Unmarshal reads a model MarshalBinary wrote.
func Unmarshal(data []byte) (*Model, error) {
	if len(data) < len(magic)+8 || string(data[:len(magic)]) != magic {
		return nil, errors.New("student: not a student model")
	}
	if v := binary.LittleEndian.Uint32(data[len(magic):]); v != formatVersion {
		return nil, fmt.Errorf("%w: the artefact is version %d, this build reads version %d; train it again", ErrVersion, v, formatVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("student: model checksum mismatch: the artefact is damaged")
	}
	r := &reader{b: body[len(magic)+4:]}
	m := &Model{bits: int(r.byte()), epochs: int(r.uvarint())}
	if r.err == nil && (m.bits < minBits || m.bits > maxBits) {
		return nil, fmt.Errorf("student: model has %d bits", m.bits)
	}
	types := make([]string, r.count(maxTypes))
	for i := range types {
		types[i] = r.string()
	}
	lex := make([]Lexicon, r.count(maxLexicons))
	for i := range lex {
		lex[i].Name = r.string()
		lex[i].Entries = make([]string, r.count(len(r.b)))
		for j := range lex[i].Entries {
			lex[i].Entries[j] = r.string()
		}
	}
	m.words = make([]string, r.count(len(r.b)))
	for i := range m.words {
		m.words[i] = r.string()
	}
	if r.err != nil {
		return nil, r.err
	}
	var err error
	if m.cls, err = newClasses(types); err != nil {
		return nil, err
	}
	if len(m.cls.types) != len(types) {
		return nil, errors.New("student: model types are not sorted and distinct")
	}
	if m.lex, err = newLexicon(lex); err != nil {
		return nil, err
	}
	k := m.cls.n()
	m.trans = make([]float32, (k+1)*k)
	for i := range m.trans {
		m.trans[i] = r.float()
	}
	m.tt = transpose(m.trans, k, nil)
	m.spread = spread(m.trans, k)
	n := r.count(len(r.b) / 11) // a row, its count and one weight at least
	rows := 1 << m.bits
	m.off = make([]uint32, rows+1)
	last := -1
	for range n {
		row := int(r.uint32())
		if r.err == nil && (row <= last || row >= rows) {
			return nil, fmt.Errorf("student: model row %d out of order or range", row)
		}
		for j := last + 1; j <= row; j++ {
			m.off[j] = uint32(len(m.w))
		}
		last = row
		prev := -1
		for range int(r.byte()) {
			c, v := int(r.byte()), r.float()
			if r.err == nil && (c <= prev || c >= k) {
				return nil, fmt.Errorf("student: model row %d: class %d out of order or range", row, c)
			}
			prev = c
			m.w = append(m.w, weight{uint32(c), v})
		}
	}
	for j := last + 1; j <= rows; j++ {
		m.off[j] = uint32(len(m.w))
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("student: %d bytes after the model", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	m.precompute()
	return m, nil
}

// reader reads the artefact's fields, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("student: model truncated")
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uint32() uint32 {
	if len(r.b) < 4 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) float() float32 { return math.Float32frombits(r.uint32()) }

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length of at most limit.
func (r *reader) count(limit int) int {
	v := r.uvarint()
	if v > uint64(limit) {
		if r.err == nil {
			r.err = fmt.Errorf("student: model field of %d items, at most %d", v, limit)
		}
		r.b = nil
		return 0
	}
	return int(v)
}

func (r *reader) string() string {
	n := r.count(len(r.b))
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
