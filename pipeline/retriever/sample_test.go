package retriever

import (
	"context"
	"fmt"
	gofnv "hash/fnv"
	"slices"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
)

func TestBestK(t *testing.T) {
	tests := []struct {
		name string
		k    int
		in   []ranked
		want []uint64 // hashes of the items kept, best first
	}{
		{"fewer than k", 3, []ranked{{score: 1, h: 2}, {score: 2, h: 1}}, []uint64{1, 2}},
		{"best scores", 2, []ranked{{score: 1, h: 1}, {score: 3, h: 2}, {score: 2, h: 3}, {score: 0, h: 4}}, []uint64{2, 3}},
		{"ties to the lower hash", 2, []ranked{{score: 1, h: 9}, {score: 1, h: 5}, {score: 1, h: 7}}, []uint64{5, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The vectors are views of one backing array, as a vector
			// table's rows are.
			backing := make([]float32, len(tt.in))
			b := &bestK{k: tt.k}
			for i, r := range tt.in {
				backing[i] = float32(r.h)
				r.vec = backing[i : i+1 : i+1]
				b.add(r)
			}
			clear(backing)
			got := b.sorted()
			if len(got) != len(tt.want) {
				t.Fatalf("kept %d items, want %d", len(got), len(tt.want))
			}
			for i, r := range got {
				if r.h != tt.want[i] {
					t.Errorf("item %d has hash %d, want %d", i, r.h, tt.want[i])
				}
				if r.vec[0] != float32(r.h) {
					t.Errorf("item %d: vector %v changed with the caller's array: not copied", i, r.vec)
				}
			}
		})
	}
}

// hashID breaks ties of the sample: it must stay FNV-1a, or the sample (and
// the head trained on it) would change.
func TestHashIDIsFNV1a(t *testing.T) {
	for _, s := range []string{"", "a", "doc.jsonl#3:10-15", "Ünïcode"} {
		h := gofnv.New64a()
		h.Write([]byte(s))
		if got, want := hashID(s), h.Sum64(); got != want {
			t.Errorf("hashID(%q) = %x, want %x", s, got, want)
		}
	}
}

func TestSampleVectors(t *testing.T) {
	s := NewSample(2)
	s.Add("b", 1, "x", []float32{1})
	s.Add("a", 0.5, "y", []float32{2})
	s.Add("a", 0.9, "z", []float32{3})
	s.Add("a", 0.1, "w", []float32{4})
	vecs, labels := s.Vectors()
	if want := []string{"a", "a", "b"}; !slices.Equal(labels, want) {
		t.Fatalf("labels %v, want %v", labels, want)
	}
	if vecs[0][0] != 3 || vecs[1][0] != 2 || vecs[2][0] != 1 {
		t.Errorf("vectors %v, want the best of a first, then b", vecs)
	}
	if s.Labels() != 2 {
		t.Errorf("Labels = %d, want 2", s.Labels())
	}
}

// The anchors are each label's description, then its name: the first set
// is how the schema's labels are queried.
func TestAnchors(t *testing.T) {
	schema, err := pipeline.ParseSchema([]byte(`name: t
labels:
  - name: politicalparty
    description: A political party.
  - name: country
    description: A sovereign state.
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enc := NewLocal(64)
	anchors, err := Anchors(ctx, enc, schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(anchors) != 2 {
		t.Fatalf("%d anchor sets, want 2", len(anchors))
	}
	for i, by := range []func(*pipeline.Label) string{(*pipeline.Label).Query, (*pipeline.Label).Words} {
		for _, n := range schema.Names() {
			want, err := enc.Queries(ctx, []string{by(schema.Label(n))})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(anchors[i][n], want[0]) {
				t.Errorf("anchor set %d, label %s: not the encoding of %q", i, n, by(schema.Label(n)))
			}
		}
	}
}

func TestSamplePerLabel(t *testing.T) {
	tests := []struct {
		name                  string
		perLabel, labels, dim int
		want                  int
	}{
		{"the default, local vectors, 9 labels", 5000, 9, 1024, 5000},
		{"many labels", 5000, 40, 1024, SampleFloats / (40 * 1024)},
		{"wide vectors", 5000, 9, 4096, SampleFloats / (9 * 4096)},
		{"absurdly wide", 5000, 10, SampleFloats, 1},
		{"no labels", 200, 0, 1024, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SamplePerLabel(tt.perLabel, tt.labels, tt.dim)
			if got != tt.want {
				t.Errorf("SamplePerLabel(%d, %d, %d) = %d, want %d", tt.perLabel, tt.labels, tt.dim, got, tt.want)
			}
			if tt.labels > 0 && got > 1 && got*tt.labels*tt.dim > SampleFloats {
				t.Errorf("%d per label of %d labels of %d floats pass SampleFloats", got, tt.labels, tt.dim)
			}
		})
	}
}

func TestSampleIsBounded(t *testing.T) {
	// However many mentions are offered, a sample keeps per label at most
	// its bound, and the best of them.
	const per, labels, offered = 7, 3, 5000
	s := NewSample(per)
	vec := make([]float32, 4)
	for i := range offered {
		vec[0] = float32(i)
		s.Add(string(rune('a'+i%labels)), float64(i), fmt.Sprint(i), vec)
	}
	vecs, ls := s.Vectors()
	if len(vecs) != per*labels || len(ls) != per*labels {
		t.Fatalf("kept %d vectors of %d labels, want %d", len(vecs), s.Labels(), per*labels)
	}
	for i, v := range vecs {
		if v[0] < offered-per*labels {
			t.Errorf("vector %d (%s) scored %v: not among the best", i, ls[i], v[0])
		}
	}
}
