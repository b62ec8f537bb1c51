package retriever

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestTriplets(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var vecs [][]float32
	var labels []string
	add := func(label string, v []float32) {
		vecs, labels = append(vecs, v), append(labels, label)
	}
	for i := range 26 {
		label := []string{"a", "b", "c", ""}[i%4]
		add(label, []float32{float32(r.Float64()) * 0.3, float32(r.NormFloat64()), float32(r.NormFloat64()), 1})
	}
	hard1, hard2 := len(vecs), len(vecs)+1
	add("b", []float32{5, 0.1, 0, 0}) // nearest "a"'s query, then
	add("c", []float32{4, 0, 1, 0})
	add("", []float32{9, 0, 0, 0}) // nearer still, but unlabelled
	queries := map[string][]float32{
		"a": {1, 0, 0, 0},
		"b": {0, 1, 0, 0},
		"z": {0, 0, 1, 0}, // no mentions
	}
	opt := TripletOptions{Positives: 4, Negatives: 6, Hard: 2, Seed: 1}
	ts := Triplets(queries, vecs, labels, opt)
	if len(ts) != 2*4*6 {
		t.Fatalf("%d triplets, want %d", len(ts), 2*4*6)
	}
	index := map[*float32]int{}
	for i, v := range vecs {
		index[&v[0]] = i
	}
	for typ, want := range map[string]int{"a": 0, "b": 24} {
		pos, neg := map[int]bool{}, map[int]bool{}
		for _, tr := range ts[want : want+24] {
			if tr.Label != typ || &tr.Anchor[0] != &queries[typ][0] {
				t.Fatalf("triplet of %q in %q's place", tr.Label, typ)
			}
			p, okp := index[&tr.Pos[0]]
			n, okn := index[&tr.Neg[0]]
			if !okp || !okn {
				t.Fatal("triplet vectors are copies, not the given slices")
			}
			if labels[p] != typ {
				t.Errorf("%s: positive %d is labelled %q", typ, p, labels[p])
			}
			if labels[n] == typ || labels[n] == "" {
				t.Errorf("%s: negative %d is labelled %q", typ, n, labels[n])
			}
			pos[p], neg[n] = true, true
		}
		if len(pos) != 4 || len(neg) != 6 {
			t.Errorf("%s: %d distinct positives and %d negatives, want 4 and 6", typ, len(pos), len(neg))
		}
		if typ == "a" && (!neg[hard1] || !neg[hard2]) {
			t.Errorf("a: the two nearest other-label mentions are not among the negatives %v", neg)
		}
	}

	if again := Triplets(queries, vecs, labels, opt); !reflect.DeepEqual(again, ts) {
		t.Error("same seed, other triplets")
	}
	opt.Seed = 2
	if other := Triplets(queries, vecs, labels, opt); reflect.DeepEqual(other, ts) {
		t.Error("another seed, same triplets")
	}
	opt.Seed = 1
	onlyA := Triplets(map[string][]float32{"a": queries["a"]}, vecs, labels, opt)
	if !reflect.DeepEqual(onlyA, ts[:24]) {
		t.Error("dropping type b changed type a's triplets")
	}

	// Defaults: every mention of a small type, no more negatives than exist.
	all := Triplets(map[string][]float32{"c": {0, 0, 1, 0}}, vecs, labels, TripletOptions{})
	nc, others := 0, 0
	for _, l := range labels {
		switch l {
		case "c":
			nc++
		case "a", "b":
			others++
		}
	}
	if len(all) != nc*others {
		t.Errorf("%d triplets for c, want %d×%d", len(all), nc, others)
	}
	// Without hard negatives, "a" is unlikely to draw both of them.
	opt.Hard = -1
	drew := 0
	for seed := range uint64(20) {
		opt.Seed = seed
		neg := map[int]bool{}
		for _, tr := range Triplets(queries, vecs, labels, opt)[:24] {
			neg[index[&tr.Neg[0]]] = true
		}
		if neg[hard1] && neg[hard2] {
			drew++
		}
	}
	if drew == 20 {
		t.Error("Hard < 0 still picks the nearest negatives")
	}

	if got := Triplets(queries, vecs[:3], []string{"a", "a", "a"}, TripletOptions{}); len(got) != 0 {
		t.Errorf("%d triplets from a single label, want none", len(got))
	}
}
