// Command llmbench measures the SAM-NER backend's cost and LLM-bound
// efficiency through the real job (embedded Temporal server, worker,
// activities, io/llm client) against the LLM test server, on the five
// CrossNER dev splits run as five concurrent jobs:
//
//   - requests and tokens per sentence, zeroner's batched protocol against
//     one sentence per request (the reference protocol's shape: four
//     requests per sentence);
//   - efficiency at each capacity: the ideal time (requests x latency /
//     capacity) over the measured wall time, the test server answering
//     after a fixed latency and serving at most capacity requests at once.
//
// The test server is a test double: nothing here says anything about a
// model's quality.
//
//	go run ./scripts/llmbench -latency 100ms -capacities 8,64
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/internal/devserver"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

var domains = []string{"ai", "literature", "music", "politics", "science"}

func main() {
	latency := flag.Duration("latency", 100*time.Millisecond, "test server latency per request")
	caps := flag.String("capacities", "8,64", "test server capacities to measure")
	passages := flag.Int("passages", 1, "passages per request in the efficiency runs (1: four requests per sentence)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the efficiency runs to `file`")
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "llmbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	b, err := newBench(ctx, dir)
	if err != nil {
		log.Fatal(err)
	}
	defer b.stop()

	fmt.Printf("CrossNER dev, 5 domains, %d sentences\n\n", b.sentences)
	fmt.Println("protocol                           requests/sentence  tokens/sentence  (prompt + completion)")
	var ref float64
	for _, p := range []struct {
		name     string
		passages int
	}{{"one sentence per request (ref.)", 1}, {"zeroner default (batched)", 0}} {
		r, err := b.run(ctx, llmsim.Options{}, p.passages, 16)
		if err != nil {
			log.Fatal(err)
		}
		n := float64(b.sentences)
		tok := float64(r.usage.PromptTokens+r.usage.CompletionTokens) / n
		if p.passages == 1 {
			ref = tok
		}
		fmt.Printf("%-34s %17.2f %16.0f  (%.0f + %.0f)  %.0f%% of ref.\n", p.name, float64(r.usage.Requests)/n, tok,
			float64(r.usage.PromptTokens)/n, float64(r.usage.CompletionTokens)/n, 100*tok/ref)
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("\nefficiency: latency %s, passages per request %d\n", *latency, *passages)
	fmt.Println("capacity  requests  ideal s  wall s  efficiency  max in flight")
	for _, c := range strings.Split(*caps, ",") {
		capacity, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil {
			log.Fatalf("-capacities: %v", err)
		}
		r, err := b.run(ctx, llmsim.Options{TTFT: *latency, MaxConcurrent: capacity}, *passages, capacity)
		if err != nil {
			log.Fatal(err)
		}
		ideal := time.Duration(r.sim.Requests) * *latency / time.Duration(capacity)
		fmt.Printf("%8d  %8d  %7.1f  %6.1f  %10.2f  %13d\n", capacity, r.sim.Requests, ideal.Seconds(), r.wall.Seconds(),
			ideal.Seconds()/r.wall.Seconds(), r.sim.MaxInFlight)
	}
}

type bench struct {
	dir       string
	store     blob.Store
	client    client.Client
	stopAll   func()
	schemas   []*pipeline.Schema
	sentences int
	runs      int
}

// newBench starts the embedded server and a worker sized for LLM-bound work.
func newBench(ctx context.Context, dir string) (*bench, error) {
	quiet := slog.New(slog.DiscardHandler)
	addr, stopServer, err := devserver.StartFile(ctx, filepath.Join(dir, "temporal.db"), 0, quiet)
	if err != nil {
		return nil, err
	}
	cl, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		return nil, err
	}
	store, err := blob.New(ctx, blob.Options{})
	if err != nil {
		return nil, err
	}
	w := worker.New(cl, workflows.TaskQueue, worker.Options{MaxConcurrentActivityExecutionSize: 512})
	workflows.Register(w)
	registry.Register(w, wire.New(store, quiet, wire.Options{}))
	if err := w.Start(); err != nil {
		return nil, err
	}
	b := &bench{dir: dir, store: store, client: cl, stopAll: func() { w.Stop(); cl.Close(); stopServer() }}
	for _, d := range domains {
		data, err := os.ReadFile(filepath.Join("schemas", "crossner-"+d+".yaml"))
		if err != nil {
			return nil, err
		}
		s, err := pipeline.ParseSchema(data)
		if err != nil {
			return nil, err
		}
		b.schemas = append(b.schemas, s)
		f, err := os.Open(b.data(d))
		if err != nil {
			return nil, err
		}
		err = corpus.ReadBIO(f, d, corpus.Options{}, func(corpus.Doc) error { b.sentences++; return nil })
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *bench) stop() { b.stopAll() }

func (b *bench) data(domain string) string {
	d, err := dataset.Dir()
	if err != nil {
		log.Fatal(err)
	}
	return filepath.Join(d, "crossner", domain, "dev.txt")
}

type result struct {
	usage pipeline.Usage
	sim   llmsim.Stats
	wall  time.Duration
}

// run annotates the five dev splits as five concurrent jobs against a fresh
// test server, with a fresh response cache, and measures them.
func (b *bench) run(ctx context.Context, opt llmsim.Options, passages, concurrency int) (result, error) {
	for _, d := range domains {
		opt.Gold = append(opt.Gold, b.data(d))
	}
	opt.Schemas = b.schemas
	srv, err := llmsim.New(opt)
	if err != nil {
		return result{}, err
	}
	hs := httptest.NewServer(srv)
	defer func() { srv.Close(); hs.Close() }()
	b.runs++
	out := blob.Join("file://"+b.dir, fmt.Sprintf("run-%d", b.runs))

	var (
		mu   sync.Mutex
		res  result
		wg   sync.WaitGroup
		err1 error
	)
	start := time.Now()
	for _, d := range domains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			schema, _ := blob.Normalize(filepath.Join("schemas", "crossner-"+d+".yaml"))
			corpusURI, _ := blob.Normalize(b.data(d))
			cfg := activities.Config{
				Job: fmt.Sprintf("bench-%d-%s", b.runs, d), Corpus: corpusURI, Schema: schema, Output: blob.Join(out, d),
				Backend: activities.BackendSpec{Name: "sam", Cache: blob.Join(out, d, "cache"), LLM: activities.LLMConfig{
					BaseURL: hs.URL + "/v1", Model: "llmsim", MaxConcurrent: concurrency, PassagesPerRequest: passages,
				}},
				Reader: activities.Reader{Format: corpus.FormatBIO}, ShardSize: 20, Window: 64,
			}
			wr, err := b.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(cfg.Job), TaskQueue: workflows.TaskQueue},
				workflows.AnnotateCorpus, workflows.CorpusState{Config: cfg})
			var sum activities.Summary
			if err == nil {
				err = wr.Get(ctx, &sum)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				err1 = fmt.Errorf("job %s: %w", cfg.Job, err)
				return
			}
			if sum.Failures > 0 {
				err1 = fmt.Errorf("job %s: %d failures", cfg.Job, sum.Failures)
			}
			res.usage.Add(sum.Usage)
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	res.sim = srv.Stats()
	return res, err1
}
