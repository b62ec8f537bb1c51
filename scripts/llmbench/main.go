// Command llmbench measures the SAM-NER backend's cost and LLM-bound
// efficiency through the real job (embedded Temporal server, worker,
// activities, io/llm client) against the LLM test server:
//
//   - requests, prompt and completion characters per sentence on CrossNER
//     politics dev for the default protocol and its variants, against
//     SAM-NER's own request sizes there (METHODS.md);
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

	// SAM-NER's own request sizes on CrossNER politics dev (541
	// sentences), rebuilt from its templates (METHODS.md, section 5):
	// prompt characters per sentence for its four one-sentence requests,
	// and its prompt and completion tokens (GPT-4o tokenizer).
	const (
		refChars      = 6003
		refPrompt     = 1226
		refCompletion = 250
	)
	fmt.Printf("CrossNER politics dev, %d sentences, against SAM-NER's protocol (%d prompt characters, %d + %d tokens a sentence)\n\n",
		b.count["politics"], refChars, refPrompt, refCompletion)
	fmt.Println("protocol                         requests/sent.  prompt chars/sent.  completion chars/sent.  prompt share  token share")
	for _, p := range []struct {
		name string
		llm  activities.LLMConfig
	}{
		{"default (large, whole schema)", activities.LLMConfig{}},
		{"narrowed calibration", activities.LLMConfig{Calibration: "narrowed"}},
		{"small profile", activities.LLMConfig{Profile: "small"}},
		{"small profile, indented answers", activities.LLMConfig{Profile: "small"}},
	} {
		opt := llmsim.Options{}
		if strings.Contains(p.name, "indented") {
			opt.Small.Indent = true
		}
		r, err := b.run(ctx, opt, p.llm, []string{"politics"}, 1000)
		if err != nil {
			log.Fatal(err)
		}
		n := float64(b.count["politics"])
		// The test server counts a token as 4 bytes; the text is ASCII but
		// for a few names, so 4 bytes a token is 4 characters.
		prompt, completion := 4*float64(r.usage.PromptTokens)/n, 4*float64(r.usage.CompletionTokens)/n
		// SAM-NER's tokens in characters, at its prompt's characters per
		// token (6,003 / 1,226).
		perToken := float64(refChars) / refPrompt
		fmt.Printf("%-32s %14.2f %19.0f %23.0f %12.0f%% %11.0f%%\n", p.name, float64(r.usage.Requests)/n, prompt, completion,
			100*prompt/refChars, 100*(prompt+completion)/(perToken*(refPrompt+refCompletion)))
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
		r, err := b.run(ctx, llmsim.Options{TTFT: *latency, MaxConcurrent: capacity},
			activities.LLMConfig{MaxConcurrent: capacity, PassagesPerRequest: *passages}, domains, 20)
		if err != nil {
			log.Fatal(err)
		}
		ideal := time.Duration(r.sim.Requests) * *latency / time.Duration(capacity)
		fmt.Printf("%8d  %8d  %7.1f  %6.1f  %10.2f  %13d\n", capacity, r.sim.Requests, ideal.Seconds(), r.wall.Seconds(),
			ideal.Seconds()/r.wall.Seconds(), r.sim.MaxInFlight)
	}
}

type bench struct {
	dir     string
	store   blob.Store
	client  client.Client
	stopAll func()
	schemas []*pipeline.Schema
	count   map[string]int // sentences of each domain's dev split
	runs    int
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
	b := &bench{dir: dir, store: store, client: cl, stopAll: func() { w.Stop(); cl.Close(); stopServer() },
		count: make(map[string]int)}
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
		err = corpus.ReadBIO(f, d, corpus.Options{}, func(corpus.Doc) error { b.count[d]++; return nil })
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

// run annotates dev splits as concurrent jobs against a fresh test server,
// with a fresh response cache, and measures them.
func (b *bench) run(ctx context.Context, opt llmsim.Options, llm activities.LLMConfig, ds []string, shardSize int) (result, error) {
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
	llm.BaseURL, llm.Model = hs.URL+"/v1", "llmsim"
	start := time.Now()
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			schema, _ := blob.Normalize(filepath.Join("schemas", "crossner-"+d+".yaml"))
			corpusURI, _ := blob.Normalize(b.data(d))
			cfg := activities.Config{
				Job: fmt.Sprintf("bench-%d-%s", b.runs, d), Corpus: corpusURI, Schema: schema, Output: blob.Join(out, d),
				Backend: activities.BackendSpec{Name: "sam", Cache: blob.Join(out, d, "cache"), LLM: llm},
				Reader:  activities.Reader{Format: corpus.FormatBIO}, ShardSize: shardSize, Window: 64,
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
