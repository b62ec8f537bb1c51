package retriever

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// synth makes silver-labelled mention vectors: every type has a hidden
// direction its mentions lean towards, buried in noise and in directions
// shared across types, and a description vector unrelated to it, so that
// only a trained head brings a description near its mentions. A fraction
// flip of the labels is wrong, as silver labels are.
func synth(seed uint64, types, perType, dim int, flip float64) (map[string][]float32, [][]float32, []string) {
	r := rand.New(rand.NewPCG(seed, 99))
	randVec := func(scale float64) []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(r.NormFloat64() * scale)
		}
		return v
	}
	queries := map[string][]float32{}
	dirs := make([][]float32, types)
	shared := [][]float32{randVec(1), randVec(1), randVec(1)}
	var names []string
	for t := range types {
		name := fmt.Sprintf("type%d", t)
		names = append(names, name)
		queries[name] = randVec(1)
		dirs[t] = randVec(1)
	}
	var vecs [][]float32
	var labels []string
	for i := range types * perType {
		t := i % types
		v := randVec(1.2)
		for k := range v {
			v[k] += dirs[t][k] + float32(r.NormFloat64())*shared[i%3][k]*0.5
		}
		label := names[t]
		if r.Float64() < flip {
			label = names[r.IntN(types)]
		}
		vecs = append(vecs, v)
		labels = append(labels, label)
	}
	return queries, vecs, labels
}

// split puts every fifth mention aside: held-out triplets never share a
// mention with training ones.
func split(vecs [][]float32, labels []string) (trainV [][]float32, trainL []string, testV [][]float32, testL []string) {
	for i := range vecs {
		if i%5 == 4 {
			testV, testL = append(testV, vecs[i]), append(testL, labels[i])
		} else {
			trainV, trainL = append(trainV, vecs[i]), append(trainL, labels[i])
		}
	}
	return
}

func TestTrainLowersHeldOutLoss(t *testing.T) {
	queries, vecs, labels := synth(1, 6, 120, 96, 0.1)
	trV, trL, teV, teL := split(vecs, labels)
	train := Triplets(queries, trV, trL, TripletOptions{Seed: 1})
	test := Triplets(queries, teV, teL, TripletOptions{Seed: 2})
	if len(train) != 6*625 || len(test) < 6*20*20 || len(test) > 6*25*25 {
		t.Fatalf("%d training and %d held-out triplets", len(train), len(test))
	}
	seen := map[*float32]bool{}
	for _, tr := range train {
		seen[&tr.Pos[0]], seen[&tr.Neg[0]] = true, true
	}
	for _, te := range test {
		if seen[&te.Pos[0]] || seen[&te.Neg[0]] {
			t.Fatal("a held-out triplet shares a mention with training")
		}
	}

	opt := HeadOptions{Hidden: 64, Out: 48, Seed: 7}
	topt := TrainOptions{Epochs: 4, Seed: 3, Validation: test}
	h := NewHead(96, opt)
	before := h.Loss(test)
	st, err := h.Train(train, topt)
	if err != nil {
		t.Fatal(err)
	}
	after := h.Loss(test)
	t.Logf("held-out loss %.4f -> %.4f; training %.4f -> %.4f in %v",
		before, after, st.Epochs[0].LossBefore, st.Epochs[len(st.Epochs)-1].LossAfter, st.Elapsed)
	if before < 0.3 {
		t.Fatalf("initial held-out loss %.4f: the synthetic task is too easy to tell anything", before)
	}
	if after > 0.7*before {
		t.Errorf("held-out loss %.4f -> %.4f, want below 0.7x", before, after)
	}
	if len(st.Epochs) != 4 || st.Steps != 4*((len(train)+63)/64) || st.Triplets != len(train) {
		t.Errorf("stats: %d epochs, %d steps, %d triplets", len(st.Epochs), st.Steps, st.Triplets)
	}
	last := st.Epochs[len(st.Epochs)-1]
	if last.ValAfter != after || st.Epochs[0].ValBefore != before {
		t.Errorf("validation stats %.4f -> %.4f, Loss says %.4f -> %.4f", st.Epochs[0].ValBefore, last.ValAfter, before, after)
	}
	for i := 1; i < len(st.Epochs); i++ {
		if st.Epochs[i].LossBefore != st.Epochs[i-1].LossAfter {
			t.Errorf("epoch %d starts at %v, epoch %d ended at %v", i+1, st.Epochs[i].LossBefore, i, st.Epochs[i-1].LossAfter)
		}
	}

	// Same seeds, same weights, whatever the number of workers.
	for _, workers := range []int{1, 3} {
		h2 := NewHead(96, opt)
		topt.Workers = workers
		if _, err := h2.Train(train, topt); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(h.p.all, h2.p.all) {
			t.Errorf("%d workers: a second training with the same seed gave other weights", workers)
		}
	}
	h3 := NewHead(96, opt)
	topt.Seed = 4
	if _, err := h3.Train(train, topt); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(h.p.all, h3.p.all) {
		t.Error("another seed gave the same weights")
	}
}

func TestTrainErrors(t *testing.T) {
	h := NewHead(4, HeadOptions{Hidden: 3, Out: 2})
	v4, v3 := []float32{1, 0, 0, 0}, []float32{1, 0, 0}
	if _, err := h.Train(nil, TrainOptions{}); err == nil {
		t.Error("no error without triplets")
	}
	_, err := h.Train([]Triplet{{Anchor: v4, Pos: v4, Neg: v4}, {Anchor: v4, Pos: v4, Neg: v3}}, TrainOptions{})
	if err == nil || !strings.Contains(err.Error(), "triplet 1: negative has 3 dimensions") {
		t.Errorf("err = %v, want it to name triplet 1's negative", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.TrainContext(ctx, []Triplet{{Anchor: v4, Pos: v4, Neg: v4}}, TrainOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestGradient checks the backward pass against central finite
// differences of the loss, with and without a dropout mask, on a tiny head
// whose triplets all have positive loss (margin above 2).
func TestGradient(t *testing.T) {
	const in, hidden, out = 7, 5, 4
	r := rand.New(rand.NewPCG(5, 6))
	vec := func() []float32 {
		v := make([]float32, in)
		for i := range v {
			if r.IntN(4) > 0 { // some zeros, as sparse inputs have
				v[i] = float32(r.NormFloat64())
			}
		}
		return v
	}
	a1, a2 := vec(), vec()
	var ts []Triplet
	for range 6 {
		ts = append(ts, Triplet{Anchor: a1, Pos: vec(), Neg: vec()}, Triplet{Anchor: a2, Pos: vec(), Neg: vec()})
	}
	for _, withMask := range []bool{false, true} {
		h := NewHead(in, HeadOptions{Hidden: hidden, Out: out, Dropout: -1, Margin: 2.1, Seed: 8})
		for i := range h.p.b1 { // non-zero biases, so their gradients count
			h.p.b1[i] = float32(r.NormFloat64()) * 0.3
		}
		for i := range h.p.b2 {
			h.p.b2[i] = float32(r.NormFloat64()) * 0.3
		}
		var bt batch
		bt.build(ts, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
		var mask []float32
		if withMask {
			mask = make([]float32, len(bt.x)*hidden)
			for i := range mask {
				if r.IntN(5) > 0 {
					mask[i] = 1 / 0.8
				}
			}
		}
		lossAt := func() float64 {
			var f forward
			f.run(h, bt.x, mask, 1)
			return h.tripletLoss(f.y, bt.trips, nil) / float64(len(ts))
		}
		var f forward
		var b backward
		f.run(h, bt.x, mask, 1)
		b.dz = make([]float32, len(bt.x)*out)
		h.tripletLoss(f.y, bt.trips, b.dz)
		g := newParams(in, hidden, out)
		h.backward(&f, &b, g, 2)

		const eps = 1e-3
		var worst float64
		for i := range h.p.all {
			w := h.p.all[i]
			h.p.all[i] = w + eps
			lp := lossAt()
			h.p.all[i] = w - eps
			lm := lossAt()
			h.p.all[i] = w
			num := (lp - lm) / (2 * eps)
			got := float64(g.all[i])
			if diff := math.Abs(got - num); diff > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("mask %v: weight %d: backward %.6f, finite differences %.6f", withMask, i, got, num)
			}
			worst = max(worst, math.Abs(got-num))
		}
		nonzero := 0
		for _, x := range g.all {
			if x != 0 {
				nonzero++
			}
		}
		if nonzero < len(g.all)/2 {
			t.Errorf("mask %v: only %d of %d gradients are non-zero", withMask, nonzero, len(g.all))
		}
		t.Logf("mask %v: largest gradient error %.2g", withMask, worst)
	}
}

func TestApply(t *testing.T) {
	h := NewHead(16, HeadOptions{Hidden: 12, Out: 8, Seed: 1})
	r := rand.New(rand.NewPCG(1, 1))
	var vs [][]float32
	for range 300 {
		v := make([]float32, 16)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		vs = append(vs, v)
	}
	batch := h.ApplyBatch(vs)
	for i, v := range vs {
		one := h.Apply(v)
		if !slices.Equal(one, batch[i]) {
			t.Fatalf("vector %d: Apply and ApplyBatch differ", i)
		}
		if n := math.Sqrt(float64(dot(one, one))); math.Abs(n-1) > 1e-5 {
			t.Fatalf("vector %d: output norm %v", i, n)
		}
	}
	if slices.Equal(batch[0], batch[1]) {
		t.Fatal("two inputs projected alike")
	}
	if h.In() != 16 || h.Hidden() != 12 || h.Out() != 8 || h.Margin() != 0.5 {
		t.Errorf("widths %d %d %d margin %v", h.In(), h.Hidden(), h.Out(), h.Margin())
	}
	d := NewHead(1024, HeadOptions{})
	if d.Hidden() != 500 || d.Out() != 500 || len(d.p.all) != 1024*500+500+500*500+500 {
		t.Errorf("default head: %d -> %d -> %d, %d weights", d.In(), d.Hidden(), d.Out(), len(d.p.all))
	}
}

func TestWrap(t *testing.T) {
	ctx := context.Background()
	l := NewLocal(64)
	h := NewHead(64, HeadOptions{Hidden: 32, Out: 16, Seed: 1})
	e := h.Wrap(l)
	if !strings.HasPrefix(e.Name(), "local/v1/64+head/") || e.Dim() != 16 {
		t.Errorf("wrapped encoder %q, dim %d", e.Name(), e.Dim())
	}
	ms := []Mention{mention(t, "Fans of the Boston Celtics cheered.", "Boston Celtics")}
	got, err := e.Mentions(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	raw := encodeMentions(t, l, ms...)
	if want := h.Apply(raw[0]); !slices.Equal(got[0], want) {
		t.Error("wrapped mention vector is not the head's projection")
	}
	q, err := e.Queries(ctx, []string{"sports team"})
	if err != nil {
		t.Fatal(err)
	}
	if want := h.Apply(encodeQueries(t, l, "sports team")[0]); !slices.Equal(q[0], want) {
		t.Error("wrapped query vector is not the head's projection")
	}
	h.p.w1[0] += 1
	if e2 := h.Wrap(l); e2.Name() == e.Name() {
		t.Error("changed weights, same name")
	}
	if again, _ := e.Mentions(ctx, ms); !slices.Equal(again[0], got[0]) {
		t.Error("changing the head changed an encoder wrapped before")
	}
	bad := NewHead(32, HeadOptions{Hidden: 8, Out: 8}).Wrap(l)
	if _, err := bad.Mentions(ctx, ms); err == nil {
		t.Error("no error for a head of the wrong width")
	}
}

func TestReadWriteHead(t *testing.T) {
	h := NewHead(9, HeadOptions{Hidden: 7, Out: 5, Dropout: 0.2, Margin: 0.3, Seed: 3})
	var buf bytes.Buffer
	n, err := h.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo says %d bytes, wrote %d", n, buf.Len())
	}
	file := buf.Bytes()
	buf.WriteString("trailing")
	got, err := ReadHead(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != "trailing" {
		t.Errorf("ReadHead left %q unread, want the trailing bytes", buf.String())
	}
	if got.in != 9 || got.hidden != 7 || got.out != 5 || got.dropout != 0.2 || got.margin != 0.3 || !slices.Equal(got.p.all, h.p.all) {
		t.Error("read head differs from the written one")
	}
	if got.Digest() != h.Digest() {
		t.Error("digests differ")
	}

	mod := func(f func(b []byte) []byte) []byte { return f(slices.Clone(file)) }
	put := func(b []byte, off int, v uint32) []byte {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "unexpected EOF"},
		{"not a head", []byte("PAR1 this is a parquet file, honest......"), "not a projection head"},
		{"future version", mod(func(b []byte) []byte { return put(b, 8, 2) }), "version 2"},
		{"zero width", mod(func(b []byte) []byte { return put(b, 12, 0) }), "out of range"},
		{"huge", mod(func(b []byte) []byte { put(b, 12, 65536); return put(b, 16, 65536) }), "more than"},
		{"truncated", file[:len(file)-10], "unexpected EOF"},
		{"no checksum", file[:len(file)-4], "checksum: unexpected EOF"},
		{"flipped bit", mod(func(b []byte) []byte { b[100] ^= 1; return b }), "checksum mismatch"},
		{"bad dropout", mod(func(b []byte) []byte { return put(b, 24, math.Float32bits(1.5)) }), "dropout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHead(bytes.NewReader(tt.data))
			if !errors.Is(err, ErrCorruptHead) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrCorruptHead mentioning %q", err, tt.want)
			}
		})
	}
}

// BenchmarkTrainEpoch trains the paper's head on 5,000 triplets of
// 1024-d dense vectors (8 types, 25×25 each) for one epoch on one
// goroutine.
func BenchmarkTrainEpoch(b *testing.B) {
	queries, vecs, labels := synth(2, 8, 100, 1024, 0)
	ts := Triplets(queries, vecs, labels, TripletOptions{Seed: 1})
	h := NewHead(1024, HeadOptions{Seed: 1})
	for b.Loop() {
		if _, err := h.Train(ts, TrainOptions{Epochs: 1, Workers: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ts)), "triplets")
}
