package sae

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
)

// genText makes seeded text of the generated corpus's kind: sentences of
// mixed-case words, names, numbers and punctuation.
func genText(seed uint64, sentences int) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the of and in to a was is for on as by with from at his that which were an " +
		"album band released university research learning network election party minister novel poem " +
		"Paris London Geoffrey Hinton Beatles Nobel Prize Labour ImageNet LSTM protein 1984 3.5 U.S.")
	out := make([]string, sentences)
	for i := range out {
		var b strings.Builder
		n := 15 + r.IntN(20)
		for j := range n {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(10) == 0 {
				b.WriteString(" ,")
			}
		}
		b.WriteString(" .")
		out[i] = b.String()
	}
	return out
}

// BenchmarkTagger measures the local tagger (tokenize, features, decode) on
// one goroutine, in tokens per second.
func BenchmarkTagger(b *testing.B) {
	ctx := context.Background()
	src := NewLocal([]Lexicon{{"city", []string{"Paris", "London"}}})
	types := []string{"person", "location", "organisation", "misc"}
	m, err := Estimate(ctx, src, synth(1, 2000, types), Options{})
	if err != nil {
		b.Fatal(err)
	}
	texts := genText(1, 2000)
	var toks int
	for _, ts := range mustFeatures(b, src, texts) {
		toks += len(ts)
	}
	tg := NewTagger(m, src)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := tg.Tag(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(toks)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func mustFeatures(b *testing.B, src Source, texts []string) [][]Token {
	ts, err := src.Features(context.Background(), texts)
	if err != nil {
		b.Fatal(err)
	}
	return ts
}
