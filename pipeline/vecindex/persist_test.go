package vecindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func savedIndex(t *testing.T) (*Approx, []byte, [][]float32) {
	t.Helper()
	r := rand.New(rand.NewPCG(10, 10))
	const n, dim = 3000, 40
	a, err := BuildApprox(seqIDs(n), randUnit(r, n, dim), dim, ApproxOptions{Bits: 256, Rerank: 60, Seed: 77})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return a, buf.Bytes(), rows(randUnit(r, 10, dim), dim)
}

func TestSaveLoad(t *testing.T) {
	a, data, qs := savedIndex(t)
	b, err := LoadApprox(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b.Options() != a.Options() || b.Len() != a.Len() || b.Dim() != a.Dim() {
		t.Fatalf("loaded %+v len %d dim %d, saved %+v len %d dim %d",
			b.Options(), b.Len(), b.Dim(), a.Options(), a.Len(), a.Dim())
	}
	for i, q := range qs {
		if got, want := b.Search(q, 10), a.Search(q, 10); !slices.Equal(got, want) || len(got) != 10 {
			t.Errorf("query %d: loaded %v, saved %v", i, got, want)
		}
	}
	if _, err := LoadApprox(bytes.NewReader(append(slices.Clone(data), "tail"...))); err != nil {
		t.Fatalf("with trailing data: %v", err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	_, data, _ := savedIndex(t)
	flip := func(off int) []byte {
		d := slices.Clone(data)
		d[off] ^= 0x10
		return d
	}
	// A header with a valid checksum but other contents.
	rehead := func(edit func(h []byte)) []byte {
		d := slices.Clone(data)
		edit(d[:headerSize])
		binary.LittleEndian.PutUint32(d[headerSize:], crc32.Checksum(d[:headerSize], castagnoli))
		return d
	}
	body := headerSize + 4
	for _, tc := range []struct {
		name    string
		data    []byte
		corrupt bool
		want    string
	}{
		{"empty", nil, true, "truncated header"},
		{"not an index", []byte("PAR1 and then some bytes of something else entirely....."), true, "not an index"},
		{"short header", data[:20], true, "truncated header"},
		{"header bit", flip(14), true, "header checksum"},
		{"header checksum bit", flip(headerSize + 1), true, "header checksum"},
		{"sign flips bit", flip(body + 3), true, "body checksum"},
		{"id bit", flip(body + 8*24 + 5), true, "body checksum"},
		{"vector bit", flip(len(data) / 2), true, "body checksum"},
		{"sketch bit", flip(len(data) - 40), true, "body checksum"},
		{"body checksum bit", flip(len(data) - 1), true, "body checksum"},
		{"truncated body", data[:len(data)/3], true, "truncated body"},
		{"no body checksum", data[:len(data)-4], true, "truncated body checksum"},
		{"dimension 0", rehead(func(h []byte) { binary.LittleEndian.PutUint32(h[12:], 0) }), true, "dimension 0"},
		{"huge", rehead(func(h []byte) { binary.LittleEndian.PutUint64(h[16:], 1<<60) }), true, "rows"},
		{"odd bits", rehead(func(h []byte) { binary.LittleEndian.PutUint32(h[24:], 100) }), true, "sketch bits"},
		{"other version", rehead(func(h []byte) { binary.LittleEndian.PutUint32(h[8:], 2) }), false, "version 2"},
		{"other rounds", rehead(func(h []byte) { binary.LittleEndian.PutUint32(h[28:], 2) }), false, "2 rounds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := LoadApprox(bytes.NewReader(tc.data))
			if err == nil {
				t.Fatalf("loaded an index of %d vectors", a.Len())
			}
			if errors.Is(err, ErrCorrupt) != tc.corrupt || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (corrupt %v), want %q (corrupt %v)", err, errors.Is(err, ErrCorrupt), tc.want, tc.corrupt)
			}
		})
	}
}

// failing reads n bytes, then fails.
type failing struct {
	r io.Reader
	n int
}

var errDisk = errors.New("disk on fire")

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDisk
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestLoadReadError(t *testing.T) {
	_, data, _ := savedIndex(t)
	_, err := LoadApprox(&failing{bytes.NewReader(data), len(data) / 2})
	if !errors.Is(err, errDisk) || errors.Is(err, ErrCorrupt) {
		t.Errorf("error %v, want the read error, not corruption", err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errDisk
	}
	w.n -= len(p)
	return len(p), nil
}

func TestSaveWriteError(t *testing.T) {
	a, data, _ := savedIndex(t)
	for _, n := range []int{0, 1 << 16, len(data) - 1} {
		if err := a.Save(&failWriter{n}); !errors.Is(err, errDisk) {
			t.Errorf("writer failing after %d bytes: error %v", n, err)
		}
	}
}
