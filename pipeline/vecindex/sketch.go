package vecindex

import (
	"math/bits"
	"math/rand/v2"
)

// Sketches. A vector's sketch is the signs of its coordinates after each of
// several pseudo-random rotations; the Hamming distance between two
// sketches of B bits estimates the angle between the vectors as
// pi*distance/B, with a standard error that shrinks as 1/sqrt(B). A
// rotation is a few rounds of random sign flips, each followed by a
// Walsh-Hadamard transform: O(d log d) instead of the O(d²) of a dense
// random matrix, and mixing as well for this purpose.

// rounds of sign flip and Hadamard transform per rotation: one leaves
// sparse vectors poorly mixed, three is the usual choice.
const rounds = 3

// maxBits bounds a sketch so that a Hamming distance fits a uint16.
const maxBits = 1 << 15

type sketcher struct {
	dim   int
	pad   int // padDim(dim)
	rots  int // rotations; sketch bits = rots*pad
	flips []uint64
	signs []float32 // flips as ±1: rots*rounds rows of pad
}

// padDim is dim rounded up to a power of two, and to at least 64: a
// rotation of fewer coordinates has too few distinct outcomes to make
// independent bits, and a rotation then fills whole words.
func padDim(dim int) int {
	p := 64
	for p < dim {
		p *= 2
	}
	return p
}

// sketchBits rounds the requested sketch length up to whole rotations and
// whole words.
func sketchBits(dim, want int) int {
	unit := padDim(dim)
	return (want + unit - 1) / unit * unit
}

// newSketcher draws the rotations for sketches of b bits; b comes from
// sketchBits.
func newSketcher(dim, b int, seed uint64) *sketcher {
	pad := padDim(dim)
	nflips := b / pad * rounds * pad
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	flips := make([]uint64, (nflips+63)/64)
	for i := range flips {
		flips[i] = r.Uint64()
	}
	return sketcherFrom(dim, b, flips)
}

// sketcherFrom rebuilds a sketcher from its sign flips, as saved.
func sketcherFrom(dim, b int, flips []uint64) *sketcher {
	pad := padDim(dim)
	s := &sketcher{dim: dim, pad: pad, rots: b / pad, flips: flips}
	s.signs = make([]float32, s.rots*rounds*pad)
	for i := range s.signs {
		s.signs[i] = 1
		if flips[i/64]>>(i%64)&1 == 1 {
			s.signs[i] = -1
		}
	}
	return s
}

// words is the length of a sketch in uint64s.
func (s *sketcher) words() int { return s.rots * s.pad / 64 }

// encode writes v's sketch to out, using buf (of length pad) as scratch.
func (s *sketcher) encode(v []float32, buf []float32, out []uint64) {
	clear(out)
	for rot := range s.rots {
		copy(buf, v)
		clear(buf[len(v):])
		for r := range rounds {
			sg := s.signs[(rot*rounds+r)*s.pad:][:s.pad]
			for i := range buf {
				buf[i] *= sg[i]
			}
			hadamard(buf)
		}
		base := rot * s.pad
		for i, x := range buf {
			if x > 0 {
				b := base + i
				out[b/64] |= 1 << (b % 64)
			}
		}
	}
}

// hadamard applies the unnormalised Walsh-Hadamard transform in place;
// len(a) is a power of two. The scale does not change any sign.
func hadamard(a []float32) {
	n := len(a)
	// The first two stages together, four elements at a time.
	if n >= 4 {
		for i := 0; i+4 <= n; i += 4 {
			x := a[i : i+4 : i+4]
			s0, d0 := x[0]+x[1], x[0]-x[1]
			s1, d1 := x[2]+x[3], x[2]-x[3]
			x[0], x[1], x[2], x[3] = s0+s1, d0+d1, s0-s1, d0-d1
		}
	} else if n == 2 {
		a[0], a[1] = a[0]+a[1], a[0]-a[1]
		return
	} else {
		return
	}
	for h := 4; h < n; h *= 2 {
		for i := 0; i < n; i += 2 * h {
			x := a[i : i+h : i+h]
			y := a[i+h : i+2*h : i+2*h]
			for j := range x {
				x[j], y[j] = x[j]+y[j], x[j]-y[j]
			}
		}
	}
}

// hamming writes the Hamming distance between q and each sketch in codes
// (len(dist) sketches of len(q) words) to dist, and counts the distances
// in hist.
func hamming(codes, q []uint64, dist []uint16, hist []int32) {
	w := len(q)
	if w%16 != 0 {
		for i := range dist {
			c := codes[i*w : (i+1)*w : (i+1)*w]
			var d int
			for j, x := range c {
				d += bits.OnesCount64(x ^ q[j])
			}
			dist[i] = uint16(d)
			hist[d]++
		}
		return
	}
	// Sketches of whole 16-word groups, unrolled: a quarter faster than the
	// loop above at 1024 bits.
	for i := range dist {
		c := codes[i*w : (i+1)*w : (i+1)*w]
		var d int
		for j := 0; j < w; j += 16 {
			x, y := (*[16]uint64)(c[j:]), (*[16]uint64)(q[j:])
			d += bits.OnesCount64(x[0]^y[0]) + bits.OnesCount64(x[1]^y[1]) +
				bits.OnesCount64(x[2]^y[2]) + bits.OnesCount64(x[3]^y[3]) +
				bits.OnesCount64(x[4]^y[4]) + bits.OnesCount64(x[5]^y[5]) +
				bits.OnesCount64(x[6]^y[6]) + bits.OnesCount64(x[7]^y[7]) +
				bits.OnesCount64(x[8]^y[8]) + bits.OnesCount64(x[9]^y[9]) +
				bits.OnesCount64(x[10]^y[10]) + bits.OnesCount64(x[11]^y[11]) +
				bits.OnesCount64(x[12]^y[12]) + bits.OnesCount64(x[13]^y[13]) +
				bits.OnesCount64(x[14]^y[14]) + bits.OnesCount64(x[15]^y[15])
		}
		dist[i] = uint16(d)
		hist[d]++
	}
}
