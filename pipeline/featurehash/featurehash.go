// Package featurehash hashes the parts of hashed sparse features (words,
// runes, word shapes) without allocating: 64-bit FNV-1a over UTF-8 bytes,
// and SplitMix64's finaliser to spread a hash over all its bits.
//
// The SAE-NER feature source, the distilled student and the local
// retriever encoder all hash through it, so a feature's hash is the same
// wherever it is computed; stored maps and models depend on these values.
package featurehash

import (
	"unicode"
	"unicode/utf8"
)

// Offset is FNV-1a's initial value: the hash of nothing.
const Offset uint64 = 14695981039346656037

const prime = 1099511628211

// Byte adds one byte to the running hash h.
func Byte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * prime }

// String adds the bytes of s to h.
func String(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = Byte(h, s[i])
	}
	return h
}

// Bytes adds b to h.
func Bytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = Byte(h, c)
	}
	return h
}

// Rune adds the UTF-8 encoding of r to h.
func Rune(h uint64, r rune) uint64 {
	if r < utf8.RuneSelf {
		return Byte(h, byte(r))
	}
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], r)
	return Bytes(h, b[:n])
}

// Runes is the hash of the UTF-8 encoding of rs.
func Runes(rs []rune) uint64 {
	h := Offset
	for _, r := range rs {
		h = Rune(h, r)
	}
	return h
}

// Mix is SplitMix64's finaliser. FNV's low bits are weak on short keys,
// and callers take rows or buckets from a hash's top or bottom bits.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Lower is unicode.ToLower with a fast path for ASCII.
func Lower(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

// Shape maps a rune to its shape class: X upper, x lower, d digit, o
// another letter, and punctuation or a symbol as itself.
func Shape(r rune) rune {
	switch {
	case 'a' <= r && r <= 'z':
		return 'x'
	case 'A' <= r && r <= 'Z':
		return 'X'
	case '0' <= r && r <= '9':
		return 'd'
	case r < utf8.RuneSelf:
		return r
	case unicode.IsUpper(r):
		return 'X'
	case unicode.IsLower(r):
		return 'x'
	case unicode.IsDigit(r):
		return 'd'
	case unicode.IsLetter(r):
		return 'o'
	}
	return r
}
