package student

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline/text"
)

// crossNER reads a CrossNER split as examples.
func crossNER(t testing.TB, domain, split string) []Example {
	t.Helper()
	path := dataset.Path(t, "crossner", domain, split+".txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Example
	err = corpus.ReadBIO(f, path, corpus.Options{}, func(d corpus.Doc) error {
		e := Example{Text: d.Text}
		for _, g := range d.Gold {
			e.Spans = append(e.Spans, Span{g.Start, g.End, g.Label})
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// benchDocs joins a split's sentences into documents of four, as a corpus
// of paragraphs.
func benchDocs(es []Example) []string {
	var docs []string
	for i := 0; i < len(es); i += 4 {
		var parts []string
		for _, e := range es[i:min(i+4, len(es))] {
			parts = append(parts, e.Text)
		}
		docs = append(docs, strings.Join(parts, " "))
	}
	return docs
}

// BenchmarkTag measures tagging on one goroutine, in tokens per second:
// tokenize, split sentences, features, scores, Viterbi and spans, with a
// model trained on CrossNER politics (train+dev, the lexicons of a test
// stand-in) over its test sentences in documents of four.
func BenchmarkTag(b *testing.B) {
	train := append(crossNER(b, "politics", "train"), crossNER(b, "politics", "dev")...)
	m, err := Train(context.Background(), train, Options{Lexicons: testLexicons})
	if err != nil {
		b.Fatal(err)
	}
	docs := benchDocs(crossNER(b, "politics", "test"))
	var toks, bytes int
	for _, d := range docs {
		toks += len(text.Tokenize(d))
		bytes += len(d)
	}
	tg := m.Tagger()
	b.SetBytes(int64(bytes))
	cpu := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		for _, d := range docs {
			tg.Tag(d)
		}
	}
	b.ReportMetric(float64(toks)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	// On a shared machine wall time counts the other processes' turns
	// too: tokens per second of this process's CPU time is the per-core
	// rate (run with -cpu 1, so that the collector shares the core).
	b.ReportMetric(float64(toks)*float64(b.N)/(cpuTime(b)-cpu).Seconds(), "tokens/cpu-s")
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTrain measures training on CrossNER politics train+dev.
func BenchmarkTrain(b *testing.B) {
	train := append(crossNER(b, "politics", "train"), crossNER(b, "politics", "dev")...)
	var toks int
	for _, e := range train {
		toks += len(text.Tokenize(e.Text))
	}
	for b.Loop() {
		if _, err := Train(context.Background(), train, Options{Lexicons: testLexicons}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(toks)*10*float64(b.N)/b.Elapsed().Seconds(), "token-epochs/s")
}
