package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities/runs"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/workflows"
)

const indexHelp = `Usage: index [flags] RUN

Builds the NER Retriever index of a finished run, as a Temporal workflow:
every mention of the run becomes a vector of its type, so that "starter
search" finds the documents that mention an entity of a type described in
free text. RUN is the run's folder (<out>/runs/<run-id>, a path, file:// or
gs:// URI) or a run id under --runs.

Steps: encode the mentions in their documents (--encoder), train the
projection head on the run's own labels (each label's description and its
name in the run's schema are anchors, the run's mentions of it positives,
other labels' mentions negatives; skip with --no-head), project every
vector through it, and write the index:
Parquet shards of (mention id, doc id, offsets, text, label, vector) under
--out (default <out>/indexes/<run-id>), the head, index.json, and past
--approx-min mentions an approximate index whose recall@10 against exact
search is measured and recorded. Running the same command again re-attaches
to a running build, or returns a finished one at once.

The embeddings and hidden-state encoders send their requests with the API
key in OPENAI_API_KEY, read by the worker (and by --dev), never stored.`

// indexFlags are the flags that say how an index is built, shared by
// "index" and "retrieval-eval".
type indexFlags struct {
	encoder       string
	dim           int
	embedURL      string
	embedModel    string
	hiddenURL     string
	hiddenModel   string
	layer         int
	context       int
	queryTemplate string
	concurrency   int
	noHead        bool
	head          activities.HeadSpec
	approxMin     int64
	approx        activities.ApproxSpec
	shardRows     int
	window        int
}

func (f *indexFlags) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&f.encoder, "encoder", "local", "mention `encoder`: local (built in, no model), embeddings (an OpenAI-compatible embeddings endpoint) or hidden (a hidden-state endpoint)")
	fs.IntVar(&f.dim, "dim", 0, "vector width: local's (0: 1024), the embeddings' dimensions (0: the model's), the hidden states' (0: the server's)")
	fs.StringVar(&f.embedURL, "embed-url", env.Getenv("ZERONER_EMBED_URL"), "embeddings endpoint `URL`, e.g. http://127.0.0.1:8000/v1 (env ZERONER_EMBED_URL)")
	fs.StringVar(&f.embedModel, "embed-model", env.Getenv("ZERONER_EMBED_MODEL"), "embedding `model` (env ZERONER_EMBED_MODEL)")
	fs.StringVar(&f.hiddenURL, "hidden-url", env.Getenv("ZERONER_HIDDEN_URL"), "hidden-state endpoint `URL` (env ZERONER_HIDDEN_URL)")
	fs.StringVar(&f.hiddenModel, "hidden-model", env.Getenv("ZERONER_HIDDEN_MODEL"), "hidden-state `model` (env ZERONER_HIDDEN_MODEL)")
	fs.IntVar(&f.layer, "layer", 0, "hidden states: the `layer` (0: the server's default)")
	fs.IntVar(&f.context, "context", 0, "code points of context each side of a mention sent to an endpoint (0: the encoder's default)")
	fs.StringVar(&f.queryTemplate, "query-template", "", "embeddings: what a description becomes, {} standing for it")
	fs.IntVar(&f.concurrency, "embed-concurrency", 0, "requests in flight per activity (0: 4)")
	fs.BoolVar(&f.noHead, "no-head", false, "index the encoder's vectors as they are, without a projection head")
	fs.IntVar(&f.head.Hidden, "head-hidden", 0, "head: hidden width (0: 500)")
	fs.IntVar(&f.head.Out, "head-out", 0, "head: output width (0: 500)")
	fs.IntVar(&f.head.Epochs, "head-epochs", 0, "head: training epochs (0: 10)")
	fs.IntVar(&f.head.Positives, "head-positives", 0, "head: positives per label (0: 25)")
	fs.IntVar(&f.head.Negatives, "head-negatives", 0, "head: negatives per label (0: 25)")
	fs.IntVar(&f.head.PerLabel, "head-per-label", 0, "head: silver mentions per label read for training, the most confident first (0: 5000)")
	fs.Uint64Var(&f.head.Seed, "head-seed", 0, "head: seed of the initial weights and the sampling")
	fs.Int64Var(&f.approxMin, "approx-min", activities.DefaultApproxMin, "build the approximate index from this many mentions on (negative: never)")
	fs.IntVar(&f.approx.Bits, "approx-bits", 0, "approximate index: sketch bits per vector (0: 1024)")
	fs.IntVar(&f.approx.Rerank, "approx-rerank", 0, "approximate index: candidates rescored exactly (0: 3000)")
	fs.IntVar(&f.shardRows, "shard-rows", activities.DefaultShardRows, "mentions per index shard")
	fs.IntVar(&f.window, "window", 4, "shards encoded or projected at once")
}

// spec turns the flags into the encoder's spec.
func (f *indexFlags) spec() (activities.EncoderSpec, error) {
	s := activities.EncoderSpec{Kind: f.encoder, Dim: f.dim, Window: f.context, MaxConcurrent: f.concurrency}
	switch f.encoder {
	case "local":
	case "embeddings":
		if f.embedModel == "" {
			return s, usageError(errors.New("--encoder embeddings needs --embed-model (or ZERONER_EMBED_MODEL)"))
		}
		s.URL, s.Model, s.QueryTemplate = f.embedURL, f.embedModel, f.queryTemplate
	case "hidden":
		if f.hiddenURL == "" {
			return s, usageError(errors.New("--encoder hidden needs --hidden-url (or ZERONER_HIDDEN_URL)"))
		}
		s.URL, s.Model, s.Layer = f.hiddenURL, f.hiddenModel, f.layer
	default:
		return s, usageError(oneOf("encoder", f.encoder, "local", "embeddings", "hidden"))
	}
	if f.dim < 0 || f.context < 0 || f.layer < 0 || f.concurrency < 0 {
		return s, usageError(errors.New("--dim, --context, --layer and --embed-concurrency must not be negative"))
	}
	return s, nil
}

// config is the index workflow's input for run, written to index.
func (f *indexFlags) config(run activities.Run, index string) (activities.IndexConfig, error) {
	enc, err := f.spec()
	if err != nil {
		return activities.IndexConfig{}, err
	}
	if f.shardRows < 1 || f.window < 1 {
		return activities.IndexConfig{}, usageError(fmt.Errorf("--shard-rows %d and --window %d must be at least 1", f.shardRows, f.window))
	}
	head := f.head
	head.Skip = f.noHead
	approx := f.approx
	approx.Min = f.approxMin
	if approx.Min == 0 {
		approx.Min = 1 // 0 would mean the default
	}
	return activities.IndexConfig{Run: run, Index: index, Encoder: enc, Head: head, Approx: approx,
		ShardRows: f.shardRows, Window: f.window}, nil
}

// resolveRun finds a run from a folder (path or URI) or a run id under the
// output prefix runs.
func resolveRun(ctx context.Context, store blob.Store, arg, prefix string) (activities.Run, error) {
	uri := ""
	if !strings.ContainsAny(arg, `/\`) && !strings.Contains(arg, "://") {
		if _, err := os.Stat(arg); err != nil {
			base, err := uriFlag("runs", prefix)
			if err != nil {
				return activities.Run{}, usageError(err)
			}
			uri = blob.Join(base, "runs", arg)
		}
	}
	if uri == "" {
		u, err := blob.Normalize(arg)
		if err != nil {
			return activities.Run{}, usageError(fmt.Errorf("run %s", strings.TrimPrefix(err.Error(), "blob: ")))
		}
		uri = strings.TrimRight(u, "/")
	}
	run := activities.Run{ID: path.Base(uri), URI: uri}
	if _, err := store.Stat(ctx, runs.Dir(run).Summary()); err != nil {
		if blob.IsNotExist(err) {
			return run, usageError(fmt.Errorf("%s is not a finished run: no run.json", uri))
		}
		return run, err
	}
	return run, nil
}

func indexCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("index", indexHelp, env)
	var (
		sess   sessionFlags
		f      indexFlags
		out    string
		prefix string
		asJSON bool
	)
	sess.register(fs, env)
	f.register(fs, env)
	fs.StringVar(&out, "out", "", "index `folder` (default <out>/indexes/<run-id>, beside the run)")
	fs.StringVar(&prefix, "runs", "out", "output `prefix` under which a bare run id is looked up")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(errors.New("give one RUN (a run folder or run id)"))
	}
	if _, err := f.spec(); err != nil {
		return err
	}
	log, err := sess.logs.logger(env.Stderr)
	if err != nil {
		return err
	}
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: sess.gcs})
	if err != nil {
		return err
	}
	run, err := resolveRun(ctx, store, pos[0], prefix)
	if err != nil {
		return err
	}
	index := runs.DefaultIndexURI(run)
	if out != "" {
		if index, err = uriFlag("out", out); err != nil {
			return usageError(err)
		}
		index = strings.TrimRight(index, "/")
	}
	cfg, err := f.config(run, index)
	if err != nil {
		return err
	}
	cl, closeAll, err := sess.connect(ctx, env, store, log)
	if err != nil {
		return err
	}
	defer closeAll()
	start := time.Now()
	wr, err := startIndex(ctx, cl, sess.conn.taskQueue, cfg, env.Stdout)
	if err != nil || sess.detach {
		return err
	}
	sum, err := waitIndex(ctx, cl, wr, env.Stderr, log)
	if err != nil {
		return err
	}
	if asJSON {
		return runs.WriteJSON(env.Stdout, sum)
	}
	printIndexSummary(env.Stdout, sum, time.Since(start))
	return nil
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments ("search 'sports team' -k 5"), and returns the
// positional ones. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) (pos []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" too and drops it: what follows is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// startIndex starts the index's build, or attaches to it while it runs.
func startIndex(ctx context.Context, cl client.Client, queue string, cfg activities.IndexConfig, w io.Writer) (client.WorkflowRun, error) {
	wr, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.IndexWorkflowID(cfg.Index),
		TaskQueue:                queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.BuildIndex, cfg)
	if err != nil {
		return nil, fmt.Errorf("start index build of %s: %w", cfg.Index, err)
	}
	fmt.Fprintf(w, "index %s: workflow %s, run %s\n", cfg.Index, wr.GetID(), wr.GetRunID())
	return wr, nil
}

// waitIndex shows the build's phases on w until it ends and returns its
// summary.
func waitIndex(ctx context.Context, cl client.Client, wr client.WorkflowRun, w io.Writer, log *slog.Logger) (activities.IndexSummary, error) {
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last workflows.IndexProgress
		for {
			if v, err := cl.QueryWorkflow(qctx, wr.GetID(), "", workflows.QueryIndexProgress); err == nil {
				var p workflows.IndexProgress
				if v.Get(&p) == nil && p != last {
					fmt.Fprintf(w, "  %-8s shards %d, encoded %d, projected %d, mentions %d\n", p.Phase, p.Shards, p.Encoded, p.Projected, p.Mentions)
					last = p
				}
			}
			select {
			case <-qctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var sum activities.IndexSummary
	err := wr.Get(ctx, &sum)
	cancel()
	<-done
	if err != nil {
		log.Debug("index build failed", "workflow", wr.GetID(), "error", err)
		return sum, fmt.Errorf("index build failed: %s", rootCause(err))
	}
	return sum, nil
}

func printIndexSummary(w io.Writer, s activities.IndexSummary, elapsed time.Duration) {
	fmt.Fprintf(w, "\nindex of run %s done in %s\n", s.RunID, elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  mentions   %d in %d shards\n", s.Mentions, s.Shards)
	fmt.Fprintf(w, "  vectors    %d-wide, %s\n", s.Dim, s.Name)
	if h := s.HeadStats; h != nil {
		fmt.Fprintf(w, "  head       %d -> %d, %d triplets from %d silver mentions of %d labels, loss %.3f -> %.3f in %.1fs\n",
			h.In, h.Out, h.Triplets, h.Mentions, len(h.Labels), h.LossStart, h.LossEnd, h.Seconds)
	} else {
		fmt.Fprintln(w, "  head       none")
	}
	if a := s.Approx; a != nil {
		fmt.Fprintf(w, "  approx     %s: recall@10 %.3f against exact on %d queries (%d bits, rerank %d, built in %.1fs)\n",
			a.File, a.RecallAt10, a.Queries, a.Bits, a.Rerank, a.Seconds)
	} else {
		fmt.Fprintln(w, "  approx     none (exact search)")
	}
	fmt.Fprintf(w, "  index.json %s\n", s.Manifest)
	fmt.Fprintf(w, "\nsearch it:  starter search --index %s \"sports team\"\n", s.Index)
}
