package retriever

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/featurehash"
)

// Sample is the head's training material: a bounded sample of each label's
// mention vectors, the same whatever order they are offered in. It keeps
// per label the PerLabel mentions the run is most confident of (by their
// label score), ties broken by a hash of their keys.
type Sample struct {
	per    int
	labels map[string]*bestK
}

// SampleFloats bounds a training sample, in floats of vectors kept: 64 Mi,
// 256 MiB, whatever the number of labels and the width of the vectors.
// With the default 5,000 mentions per label it leaves 1024-wide vectors of
// up to 13 labels whole.
const SampleFloats = 64 << 20

// SamplePerLabel is how many mentions per label a sample of labels labels
// of dim-wide vectors keeps: perLabel, fewer if that would pass
// SampleFloats, and at least one.
func SamplePerLabel(perLabel, labels, dim int) int {
	if labels < 1 || dim < 1 {
		return max(perLabel, 1)
	}
	return max(1, min(perLabel, SampleFloats/(labels*dim)))
}

// NewSample returns an empty sample of perLabel mentions per label.
func NewSample(perLabel int) *Sample {
	return &Sample{per: perLabel, labels: make(map[string]*bestK)}
}

// Add offers a mention's vector under its label, with its score and the key
// that breaks ties. The vector is copied if kept.
func (s *Sample) Add(label string, score float64, key string, vec []float32) {
	b := s.labels[label]
	if b == nil {
		b = &bestK{k: s.per}
		s.labels[label] = b
	}
	b.add(ranked{score: score, h: hashID(key), vec: vec})
}

// Labels counts the labels with a mention in the sample.
func (s *Sample) Labels() int { return len(s.labels) }

// Vectors returns the sample's vectors and their labels: labels in order,
// each label's mentions best first.
func (s *Sample) Vectors() (vecs [][]float32, labels []string) {
	for _, l := range slices.Sorted(maps.Keys(s.labels)) {
		for _, it := range s.labels[l].sorted() {
			vecs = append(vecs, it.vec)
			labels = append(labels, l)
		}
	}
	return vecs, labels
}

// Anchors encodes each label of the schema twice: by its description,
// which is how the schema's labels are queried, and by its name, so that the
// head also learns where short queries go. The first set is the queries.
func Anchors(ctx context.Context, enc Encoder, schema *pipeline.Schema) ([]map[string][]float32, error) {
	names := schema.Names()
	anchors := make([]map[string][]float32, 0, 2)
	for _, by := range []func(l *pipeline.Label) string{(*pipeline.Label).Query, (*pipeline.Label).Words} {
		texts := make([]string, len(names))
		for i, n := range names {
			texts[i] = by(schema.Label(n))
		}
		vecs, err := enc.Queries(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("encode the labels: %w", err)
		}
		queries := make(map[string][]float32, len(names))
		for i, n := range names {
			queries[n] = vecs[i]
		}
		anchors = append(anchors, queries)
	}
	return anchors, nil
}

// TrainingSet returns the triplets of every anchor set in turn (a label's
// description, then its name, say): set i draws with opt.Seed+i.
func TrainingSet(anchors []map[string][]float32, vecs [][]float32, labels []string, opt TripletOptions) []Triplet {
	var trips []Triplet
	for i, queries := range anchors {
		o := opt
		o.Seed += uint64(i)
		trips = append(trips, Triplets(queries, vecs, labels, o)...)
	}
	return trips
}

// TripletLabels lists, sorted, the labels that trips train.
func TripletLabels(trips []Triplet) []string {
	var out []string
	for _, t := range trips {
		if len(out) == 0 || out[len(out)-1] != t.Label {
			out = append(out, t.Label)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(out)))
}

func hashID(s string) uint64 { return uint64(fnv(featurehash.Offset).str(s)) }

// bestK keeps the k best items: highest score, then lowest hash.
type bestK struct {
	k     int
	items rankHeap
}

type ranked struct {
	score float64
	h     uint64
	vec   []float32
}

// before reports whether x ranks before y.
func (x ranked) before(y ranked) bool {
	return x.score > y.score || (x.score == y.score && x.h < y.h)
}

// rankHeap is a heap whose root is the worst item kept, dropped first.
type rankHeap []ranked

func (h rankHeap) Len() int { return len(h) }

func (h rankHeap) Less(i, j int) bool { return h[j].before(h[i]) }

func (h rankHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *rankHeap) Push(x any) { *h = append(*h, x.(ranked)) }

func (h *rankHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// add offers r. A kept vector is copied: the rows of a vector table share
// one backing array per batch, and keeping a slice of it would keep the
// whole batch alive.
func (b *bestK) add(r ranked) {
	if len(b.items) < b.k {
		r.vec = slices.Clone(r.vec)
		heap.Push(&b.items, r)
		return
	}
	if r.before(b.items[0]) {
		r.vec = slices.Clone(r.vec)
		b.items[0] = r
		heap.Fix(&b.items, 0)
	}
}

// sorted returns the items kept, best first.
func (b *bestK) sorted() []ranked {
	out := slices.Clone(b.items)
	slices.SortFunc(out, func(x, y ranked) int {
		if x.before(y) {
			return -1
		}
		if y.before(x) {
			return 1
		}
		return 0
	})
	return out
}
