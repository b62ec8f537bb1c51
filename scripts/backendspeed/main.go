// Command backendspeed measures what scripts/benchscale.sh compares a job
// with: the sentences of a corpus, counted as the pipeline splits them
// (pipeline/text.Sentences over each document as the corpus reader reads
// it), and the rules backend's own speed over a sample of the corpus's
// documents: its three stages in memory, in shards of -shard documents
// spread over -workers goroutines, no I/O. With -run, it also reads the
// annotate phase's seconds from a run's run.json.
//
//	go run ./scripts/backendspeed -corpus bench/corpus-100000 -run out/runs/<id>/run.json
//
// It prints one line of key=value pairs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/rules"
	"github.com/zeroner/zeroner/pipeline/text"
	"github.com/zeroner/zeroner/schemas"
)

func main() {
	var (
		dir     = flag.String("corpus", "bench/corpus-100000", "corpus `folder` of JSONL files")
		schema  = flag.String("schema", "crossner-politics", "shipped schema `name`")
		sample  = flag.Int("sample", 20000, "documents of the backend's sample (the corpus's first)")
		shard   = flag.Int("shard", 1000, "documents per shard of the sample")
		workers = flag.Int("workers", 2, "goroutines running the backend")
		minDur  = flag.Duration("min", 5*time.Second, "measure the backend for at least this long")
		runJSON = flag.String("run", "", "a run's `run.json`, for its annotate phase")
		apart   = flag.Bool("apart", false, "run the stages as three calls, each tokenising again, not the one-pass path")
	)
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()
	docs, sents, sampleSents, err := readCorpus(ctx, *dir, *sample)
	if err != nil {
		log.Fatal(err)
	}
	s, err := schemas.Load(*schema)
	if err != nil {
		log.Fatal(err)
	}
	var b pipeline.Backend = rules.New(s)
	if *apart {
		b = apartStages{b} // hides the one-pass method
	}
	sps, cpuSPS := backendSpeed(ctx, b, docs, sampleSents, *shard, *workers, *minDur)
	fmt.Printf("sentences=%d sample_docs=%d workers=%d backend_sps=%.0f backend_cpu_sps=%.0f", sents, len(docs), *workers, sps, cpuSPS)
	if *runJSON != "" {
		sec, err := annotateSeconds(*runJSON)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf(" annotate_s=%.1f", sec)
	}
	fmt.Println()
}

// readCorpus reads every JSONL file of dir, in name order, with the corpus
// reader. It counts all sentences and keeps the first n documents and their
// sentence count. Files are read two at a time.
func readCorpus(ctx context.Context, dir string, n int) ([]pipeline.Document, int64, int64, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(names) == 0 {
		return nil, 0, 0, fmt.Errorf("corpus %s: no .jsonl files (%v)", dir, err)
	}
	sort.Strings(names)
	store := blob.NewFile()
	perFile := make([][]pipeline.Document, len(names))
	var sents atomic.Int64
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			perFile[i], errs[i] = readFile(ctx, store, name, n, &sents)
		}()
	}
	wg.Wait()
	var docs []pipeline.Document
	for i := range names {
		if errs[i] != nil {
			return nil, 0, 0, errs[i]
		}
		docs = append(docs, perFile[i]...)
	}
	docs = docs[:min(n, len(docs))]
	var sampleSents int64
	for _, d := range docs {
		sampleSents += int64(len(text.Sentences(d.Text)))
	}
	return docs, sents.Load(), sampleSents, nil
}

// readFile counts the sentences of one corpus file into sents and returns
// its first n documents.
func readFile(ctx context.Context, store blob.Store, name string, n int, sents *atomic.Int64) ([]pipeline.Document, error) {
	uri, err := blob.Normalize(name)
	if err != nil {
		return nil, err
	}
	obj, err := store.Stat(ctx, uri)
	if err != nil {
		return nil, err
	}
	var docs []pipeline.Document
	var count int64
	err = corpus.Read(ctx, store, obj, corpus.Options{}, func(d corpus.Doc) error {
		count += int64(len(text.Sentences(d.Text)))
		if len(docs) < n {
			docs = append(docs, pipeline.Document{ID: d.ID, Text: d.Text, Source: d.Source})
		}
		return nil
	}, nil)
	sents.Add(count)
	return docs, err
}

// backendSpeed runs b's three stages over docs, in shards, on workers
// goroutines, round after round until minDur has passed, and returns the
// sentences per second of wall time, and per second of the process's CPU
// time times workers: what workers cores of its own would give, the
// figure to trust on a shared machine.
func backendSpeed(ctx context.Context, b pipeline.Backend, docs []pipeline.Document, sents int64, shard, workers int, minDur time.Duration) (float64, float64) {
	var shards [][]pipeline.Document
	for i := 0; i < len(docs); i += shard {
		shards = append(shards, docs[i:min(i+shard, len(docs))])
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	rounds := 0
	for rounds == 0 || time.Since(start) < minDur {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(shards); i = int(next.Add(1)) - 1 {
					if _, err := pipeline.Annotate(ctx, b, shards[i]); err != nil {
						log.Fatal(err)
					}
				}
			})
		}
		wg.Wait()
		rounds++
	}
	done := float64(sents) * float64(rounds)
	return done / time.Since(start).Seconds(), done / (cpuSeconds() - cpu0) * float64(workers)
}

// cpuSeconds is the user and system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// apartStages is a backend with only the three stage methods.
type apartStages struct{ pipeline.Backend }

// annotateSeconds is the time from a run's sharding to the end of its
// annotation, from run.json's timings.
func annotateSeconds(path string) (float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var r struct {
		Timings struct {
			Sharded   time.Time `json:"sharded"`
			Annotated time.Time `json:"annotated"`
		} `json:"timings"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return 0, fmt.Errorf("run.json %s: %w", path, err)
	}
	return r.Timings.Annotated.Sub(r.Timings.Sharded).Seconds(), nil
}
