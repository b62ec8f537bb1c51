package featurehash

import (
	"hash/fnv"
	"testing"
)

// The hashes must stay FNV-1a: stored maps and models are keyed by them.
func TestMatchesFNV1a(t *testing.T) {
	for _, s := range []string{"", "a", "Obama", "Zürich", "東京", "lw=the", "\x00\xff"} {
		ref := fnv.New64a()
		ref.Write([]byte(s))
		want := ref.Sum64()
		if got := String(Offset, s); got != want {
			t.Errorf("String(%q) = %x, want %x", s, got, want)
		}
		if got := Bytes(Offset, []byte(s)); got != want {
			t.Errorf("Bytes(%q) = %x, want %x", s, got, want)
		}
		if s == "\x00\xff" {
			continue // not valid UTF-8: no runes to compare
		}
		if got := Runes([]rune(s)); got != want {
			t.Errorf("Runes(%q) = %x, want %x", s, got, want)
		}
	}
}

func TestMixSpreads(t *testing.T) {
	if Mix(0) != 0 {
		t.Errorf("Mix(0) = %x, want 0 (SplitMix64's finaliser fixes zero)", Mix(0))
	}
	// Neighbouring inputs must differ in many bits, top and bottom.
	for x := uint64(1); x < 64; x++ {
		d := Mix(x) ^ Mix(x+1)
		if n := popcount(d); n < 16 {
			t.Errorf("Mix(%d) and Mix(%d) differ in %d bits", x, x+1, n)
		}
	}
}

func popcount(x uint64) (n int) {
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestShapeAndLower(t *testing.T) {
	tests := []struct {
		r, shape, lower rune
	}{
		{'a', 'x', 'a'},
		{'Q', 'X', 'q'},
		{'7', 'd', '7'},
		{'-', '-', '-'},
		{'É', 'X', 'é'},
		{'ß', 'x', 'ß'},
		{'٣', 'd', '٣'}, // Arabic-Indic three
		{'東', 'o', '東'},
		{'€', '€', '€'},
	}
	for _, tt := range tests {
		if got := Shape(tt.r); got != tt.shape {
			t.Errorf("Shape(%q) = %q, want %q", tt.r, got, tt.shape)
		}
		if got := Lower(tt.r); got != tt.lower {
			t.Errorf("Lower(%q) = %q, want %q", tt.r, got, tt.lower)
		}
	}
}
