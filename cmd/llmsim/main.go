// Command llmsim serves zeroner's OpenAI-compatible test server. It is a
// test double, not a model: it answers zeroner's SAM-NER requests from gold
// BIO files, with seeded noise, latency, capacity limits and injected
// faults (see package internal/llmsim).
//
//	llmsim --addr 127.0.0.1:0 --gold data/crossner/ai/dev.txt
//
// prints the server's base URL (http://127.0.0.1:PORT) on its first line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/schemas"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "llmsim:", err)
		}
		os.Exit(2)
	}
}

// list is a flag that may be repeated or given comma-separated values.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

const usage = `Usage: llmsim [flags]

llmsim is zeroner's OpenAI-compatible TEST SERVER. It is a test double, not a
model: it answers zeroner's SAM-NER requests (anchor and explorer discovery,
mediation, calibration, the label -> archetype map) deterministically from gold
BIO files, with seeded noise, latency, capacity limits and injected faults.
Any other chat request gets "{}".

Endpoints: POST /v1/chat/completions, POST /v1/embeddings (deterministic unit
vectors), GET /v1/models, GET /stats (counters as JSON), and the Files and
Batch APIs (/v1/files, /v1/batches) for batches of chat completions, done
--batch-delay after their creation.

With --small-model, or some of --indent, --honor-max-tokens, --schema-order,
--off-label, --repeat-id, --lose-count and --empty-mention, it answers as a
small (7-8B) open model often does: indented, cut at max_tokens, keys in the
schema's order, with labels that are not allowed, repeated ids, ids that drift
in long lists and empty mentions; /stats counts these under small_model.

It prints its base URL (http://HOST:PORT) on the first line of standard output;
point zeroner's LLM base URL at it. Rates are probabilities in [0, 1].

Flags:
`

// run serves until ctx ends. ready, if not nil, receives the base URL.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) error {
	opt, addr, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, opt, addr, stdout, stderr, ready)
}

// parseFlags reads the command line: the server's options and address.
func parseFlags(args []string, stderr io.Writer) (llmsim.Options, string, error) {
	fs := flag.NewFlagSet("llmsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		opt     llmsim.Options
		gold    list
		schemaF list
		models  list
		addr    = fs.String("addr", "127.0.0.1:8089", "address to listen on (port 0: any free port)")
	)
	fs.Var(&gold, "gold", "gold BIO file, token<TAB>tag or tag<TAB>token (repeat or comma-separate)")
	fs.Var(&schemaF, "schema", "schema file or shipped schema name whose label archetypes pin the label -> archetype map (repeat or comma-separate)")
	fs.Uint64Var(&opt.Seed, "seed", 0, "seed of noise and faults")
	fs.Float64Var(&opt.Noise.AnchorMiss, "anchor-miss", 0, "rate: the anchor misses a gold mention")
	fs.Float64Var(&opt.Noise.ExplorerMiss, "explorer-miss", 0, "rate: the explorer misses a gold mention")
	fs.Float64Var(&opt.Noise.AnchorSpurious, "anchor-spurious", 0, "rate: the anchor proposes an ordinary lower-case word (per word)")
	fs.Float64Var(&opt.Noise.ExplorerSpurious, "explorer-spurious", 0, "rate: the explorer proposes an ordinary lower-case word (per word)")
	fs.Float64Var(&opt.Noise.Boundary, "boundary", 0, "rate: a reported gold mention has a boundary moved by a token")
	fs.Float64Var(&opt.Noise.Archetype, "archetype-noise", 0, "rate: mediation picks a wrong archetype")
	fs.Float64Var(&opt.Noise.Label, "label-noise", 0, "rate: calibration picks a wrong candidate label")
	fs.DurationVar(&opt.TTFT, "ttft", 0, "latency to the first token")
	fs.DurationVar(&opt.PerToken, "per-token", 0, "latency per completion token")
	fs.IntVar(&opt.MaxConcurrent, "max-concurrent", 0, "requests served at once (0: no cap)")
	fs.BoolVar(&opt.Reject, "reject", false, "beyond --max-concurrent answer 429 with Retry-After instead of queueing")
	fs.DurationVar(&opt.RetryAfter, "retry-after", time.Second, "Retry-After of 429 answers")
	fs.Float64Var(&opt.Faults.RateLimit, "fault-429", 0, "rate per attempt: 429 with Retry-After")
	fs.Float64Var(&opt.Faults.ServerError, "fault-500", 0, "rate per attempt: 500")
	fs.Float64Var(&opt.Faults.Timeout, "fault-timeout", 0, "rate per attempt: hold the request until the client gives up or --hang passes, then 504")
	fs.Float64Var(&opt.Faults.Malformed, "fault-malformed", 0, "rate per attempt: an answer that is not JSON")
	fs.Float64Var(&opt.Faults.Truncated, "fault-truncated", 0, "rate per attempt: JSON cut short, finish reason length")
	fs.BoolVar(&opt.NoPromptCache, "no-prompt-cache", false, "count no cached tokens (the fake prompt cache depends on the order concurrent requests arrive in)")
	fs.DurationVar(&opt.Hang, "hang", time.Minute, "longest hold of a timeout fault")
	fs.DurationVar(&opt.BatchDelay, "batch-delay", 0, "time a batch stays in progress after its creation")
	fs.Float64Var(&opt.BatchItemFail, "batch-item-fail", 0, "rate per batch request and submission: answered with 500, in the error file")
	fs.Float64Var(&opt.BatchExpire, "batch-expire", 0, "rate per batch submission: the batch expires with half its requests done")
	fs.IntVar(&opt.EmbedDim, "embed-dim", 256, "embedding dimension when a request does not ask for one")
	fs.Var(&models, "models", "model names listed by /v1/models (default llmsim)")
	p := llmsim.SmallModelPreset()
	small := fs.Bool("small-model", false, fmt.Sprintf("answer as a small (7-8B) model: --indent=%v --honor-max-tokens=%v --schema-order=%v --off-label %v --repeat-id %v --lose-count %d --empty-mention %v; those flags given override it",
		p.Indent, p.MaxTokens, p.SchemaOrder, p.OffLabel, p.RepeatID, p.LoseCount, p.EmptyMention))
	fs.BoolVar(&opt.Small.Indent, "indent", false, "pretty-print answers with two-space indentation")
	fs.BoolVar(&opt.Small.MaxTokens, "honor-max-tokens", false, "cut an answer longer than the request's max_tokens there, finish reason length")
	fs.BoolVar(&opt.Small.SchemaOrder, "schema-order", false, "write each object's keys in the order of the request's JSON schema")
	fs.Float64Var(&opt.Small.OffLabel, "off-label", 0, "rate per calibrated mention: a label that is not allowed")
	fs.Float64Var(&opt.Small.RepeatID, "repeat-id", 0, "rate per mediated or calibrated mention or discovered passage: written twice with the same id, the second time with another decision")
	fs.IntVar(&opt.Small.LoseCount, "lose-count", 0, "in a mentions list longer than this, ids drift by one from a seeded point (0: never)")
	fs.Float64Var(&opt.Small.EmptyMention, "empty-mention", 0, "rate per discovered passage: an extra mention \"\" or with occurrence 0")
	if err := fs.Parse(args); err != nil {
		return opt, "", err
	}
	if fs.NArg() > 0 {
		return opt, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *small {
		opt.Small = smallModel(fs, opt.Small)
	}
	opt.Gold, opt.Models = gold, models
	for _, f := range schemaF {
		s, err := loadSchema(f)
		if err != nil {
			return opt, "", err
		}
		opt.Schemas = append(opt.Schemas, s)
	}
	return opt, *addr, nil
}

// smallModel is the small-model preset with the small-model flags that
// were given, so that "--small-model --lose-count 50" changes one rate of
// the preset whatever the order of the flags.
func smallModel(fs *flag.FlagSet, given llmsim.SmallModel) llmsim.SmallModel {
	p := llmsim.SmallModelPreset()
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "indent":
			p.Indent = given.Indent
		case "honor-max-tokens":
			p.MaxTokens = given.MaxTokens
		case "schema-order":
			p.SchemaOrder = given.SchemaOrder
		case "off-label":
			p.OffLabel = given.OffLabel
		case "repeat-id":
			p.RepeatID = given.RepeatID
		case "lose-count":
			p.LoseCount = given.LoseCount
		case "empty-mention":
			p.EmptyMention = given.EmptyMention
		}
	})
	return p
}

// serve runs a test server with opt on addr until ctx ends.
func serve(ctx context.Context, opt llmsim.Options, addr string, stdout, stderr io.Writer, ready chan<- string) error {
	sim, err := llmsim.New(opt)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(stdout, url)
	fmt.Fprintf(stderr, "llmsim: test double serving %d gold sentences at %s/v1\n", sim.Sentences(), url)
	if ready != nil {
		ready <- url
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sim.Close() // release held requests
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// loadSchema reads a schema file, or a shipped schema by name.
func loadSchema(f string) (*pipeline.Schema, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		if s, err2 := schemas.Load(f); err2 == nil {
			return s, nil
		}
		return nil, err
	}
	s, err := pipeline.ParseSchema(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f, err)
	}
	return s, nil
}
