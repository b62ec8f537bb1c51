package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/workflows"
)

const searchHelp = `Usage: search --index URI [-k N] [flags] "<description>" ["<description>" ...]
       search --index URI --batch FILE [-k N] [--dev] [flags]

Finds the documents that mention an entity of the type each description
describes ("sports team", "enzymes that break down starch"), in an index
built by "starter index". The description is embedded by the index's
encoder and head; the 4 x k nearest mentions are fetched and the first k
distinct documents printed, best first, with their rank, id, score and text,
the mentions found highlighted (bold on a terminal, [[...]] otherwise).

A score is the cosine of the description and a mention (-1 to 1). When the
best one is below the floor, nothing in the index fits the description
well, and search says so: "no mention fits "<description>" well (best
score X, below the floor Y)". The floor is --min-score, which also leaves
out the mentions below it, or else the index's default (0.80 for the local
encoder with a head, from measurements in docs/RESULTS.md; none for raw
vectors and model encoders), below which the nearest documents are still
printed, marked as such. Finding nothing is an answer, not a failure: the
exit status is 0. --json gives best_score, floor and weak per description.

Searches run in this process, exactly (blocked dot products over the shards
in parallel), or through the approximate index when the index has one
(--exact forces exact search). With --batch, a file of descriptions (one
per line; blank lines and lines starting with # skipped) is answered by a
workflow, a chunk of descriptions per activity, and the answers are written
as JSON lines under the index folder (batches/<id>/results.jsonl). An
embeddings or hidden-state encoder needs OPENAI_API_KEY if its server does.`

type searchFlags struct {
	sess    sessionFlags
	index   string
	run     string
	runs    string
	k       int
	exact   bool
	asJSON  bool
	context int
	color   string
	batch   string
	chunk   int
	window  int
	// minScore is --min-score; nil when not given.
	minScore *float32
}

func (f *searchFlags) register(fs *flag.FlagSet, env Env) {
	f.sess.register(fs, env)
	fs.StringVar(&f.index, "index", "", "the index `folder` (path, file:// or gs:// URI)")
	fs.StringVar(&f.run, "run", "", "search the default index of this `run` (folder or run id) instead of --index")
	fs.StringVar(&f.runs, "runs", "out", "output `prefix` under which a bare run id is looked up")
	fs.IntVar(&f.k, "k", 10, "documents per description")
	fs.BoolVar(&f.exact, "exact", false, "search every vector even when the index has an approximate index")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object per description (query, docs with rank, doc_id, score, text, mentions)")
	fs.IntVar(&f.context, "context", 150, "code points of text shown each side of a document's best mention (0: the whole text)")
	fs.StringVar(&f.color, "color", "auto", "highlight with ANSI bold: auto (on a terminal), always or never")
	fs.StringVar(&f.batch, "batch", "", "answer the descriptions in this `file` (one per line) with a workflow")
	fs.IntVar(&f.chunk, "chunk", 16, "--batch: descriptions per activity")
	fs.IntVar(&f.window, "batch-window", 4, "--batch: activities at once")
	fs.Func("min-score", "leave out mentions scoring below `F` (-1 to 1), and say so when none is left (default: keep them, and flag a best score below the index's floor)",
		func(v string) error {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 32)
			if err != nil || math.IsNaN(x) || x < -1 || x > 1 {
				return errors.New("want a score from -1 to 1")
			}
			score := float32(x)
			f.minScore = &score
			return nil
		})
}

func searchCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("search", searchHelp, env)
	var f searchFlags
	f.register(fs, env)
	descs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case f.k < 1:
		return usageError(fmt.Errorf("-k %d: want at least 1", f.k))
	case f.batch == "" && len(descs) == 0:
		return usageError(errors.New("give a description to search for, or --batch FILE"))
	case f.batch != "" && len(descs) > 0:
		return usageError(errors.New("give descriptions or --batch FILE, not both"))
	case f.chunk < 1 || f.window < 1:
		return usageError(errors.New("--chunk and --batch-window must be at least 1"))
	}
	if err := usageError(oneOf("color", f.color, "auto", "always", "never"), f.sess.logs.check()); err != nil {
		return err
	}
	for _, d := range descs {
		if strings.TrimSpace(d) == "" {
			return usageError(errors.New("an empty description"))
		}
	}
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: f.sess.gcs})
	if err != nil {
		return err
	}
	index, err := f.indexURI(ctx, store)
	if err != nil {
		return err
	}
	if f.batch != "" {
		return f.searchBatch(ctx, env, store, index)
	}
	start := time.Now()
	s, err := search.OpenIndex(ctx, store, index, search.SearchOptions{Exact: f.exact, MinScore: f.minScore,
		APIKey: env.Getenv("OPENAI_API_KEY")})
	if err != nil {
		return err
	}
	res, err := s.Search(ctx, descs, f.k)
	if err != nil {
		return err
	}
	if f.asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		for _, r := range res {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	bold := f.color == "always" || (f.color == "auto" && isTerminal(env.Stdout))
	how := "exact"
	if s.Approximate() {
		how = "approximate"
	}
	floor := "no score floor"
	if fl, ok := s.Floor(); ok {
		floor = fmt.Sprintf("floor %.2f", fl)
	}
	m := s.Manifest()
	fmt.Fprintf(env.Stdout, "%d mentions of run %s, %s search, %s, %s\n", m.Mentions, m.Run.ID, how, floor, time.Since(start).Round(time.Millisecond))
	for _, r := range res {
		printResult(env.Stdout, r, f.context, bold)
	}
	return nil
}

// indexURI is --index, or the default index of --run.
func (f *searchFlags) indexURI(ctx context.Context, store blob.Store) (string, error) {
	switch {
	case f.index != "" && f.run != "":
		return "", usageError(errors.New("give --index or --run, not both"))
	case f.index != "":
		u, err := uriFlag("index", f.index)
		if err != nil {
			return "", usageError(err)
		}
		return strings.TrimRight(u, "/"), nil
	case f.run != "":
		run, err := resolveRun(ctx, store, f.run, f.runs)
		if err != nil {
			return "", err
		}
		return runs.DefaultIndexURI(run), nil
	}
	return "", usageError(errors.New("--index is required (or --run)"))
}

// printResult prints one description's documents.
func printResult(w io.Writer, r search.SearchResult, context int, bold bool) {
	fmt.Fprintf(w, "\n%q: %d documents\n", r.Query, len(r.Docs))
	if line := weakLine(r); line != "" {
		fmt.Fprintf(w, "     %s\n", line)
	}
	for _, d := range r.Docs {
		fmt.Fprintf(w, "%3d. %s  %.3f\n", d.Rank, d.DocID, d.Score)
		fmt.Fprintf(w, "     %s\n", highlight(d.Text, d.Mentions, context, bold))
		var ms []string
		for _, m := range d.Mentions {
			ms = append(ms, fmt.Sprintf("%s (%s, %.3f)", m.Text, m.Label, m.Score))
		}
		fmt.Fprintf(w, "     mentions: %s\n", strings.Join(ms, "; "))
	}
}

// weakLine says that no mention fits a description well, or is empty when
// one does or no floor applies.
func weakLine(r search.SearchResult) string {
	if !r.Weak || r.Floor == nil {
		return ""
	}
	line := fmt.Sprintf("no mention fits %q well (best score %.3f, below the floor %.2f)", r.Query, r.Best, *r.Floor)
	if len(r.Docs) > 0 {
		line += fmt.Sprintf(": the nearest documents follow, not matches (--min-score %.2f leaves them out)", *r.Floor)
	}
	return line
}

// highlight marks the mentions in the text: the whole text, or context code
// points each side of the best (first) mention, with the mentions that fit.
// Overlapping mentions are marked once, the first by position.
func highlight(text string, ms []search.MentionHit, context int, bold bool) string {
	rs := []rune(text)
	lo, hi := 0, len(rs)
	if context > 0 && len(ms) > 0 {
		best := ms[0]
		lo = max(0, int(best.Start)-context)
		hi = min(len(rs), int(best.End)+context)
	}
	spans := slices.Clone(ms)
	slices.SortFunc(spans, func(a, b search.MentionHit) int { return int(a.Start - b.Start) })
	open, closeMark := "[[", "]]"
	if bold {
		open, closeMark = "\x1b[1m", "\x1b[0m"
	}
	var b strings.Builder
	if lo > 0 {
		b.WriteString("…")
	}
	at := lo
	for _, m := range spans {
		s, e := int(m.Start), int(m.End)
		if s < at || e > hi || s >= e || e > len(rs) {
			continue // overlaps one marked, or outside the window
		}
		b.WriteString(oneLine(string(rs[at:s])))
		b.WriteString(open)
		b.WriteString(oneLine(string(rs[s:e])))
		b.WriteString(closeMark)
		at = e
	}
	b.WriteString(oneLine(string(rs[at:hi])))
	if hi < len(rs) {
		b.WriteString("…")
	}
	return b.String()
}

// oneLine folds line breaks, so a document prints as one paragraph.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// searchBatch uploads the descriptions file into the index folder and
// answers it with the SearchBatch workflow.
func (f *searchFlags) searchBatch(ctx context.Context, env Env, store blob.Store, index string) error {
	data, err := os.ReadFile(f.batch)
	if err != nil {
		return fmt.Errorf("--batch: %w", err)
	}
	n := len(runs.ParseQueries(data))
	if n == 0 {
		return fmt.Errorf("--batch %s: no descriptions", f.batch)
	}
	if _, err := (runs.Store{Store: store}).IndexManifest(ctx, index); err != nil {
		return fmt.Errorf("index %s: %w", index, err)
	}
	// The batch is named by what decides its answers, so the same command
	// re-attaches to it or finds it done.
	h := sha256.New()
	fmt.Fprintf(h, "%d %v\x00", f.k, f.exact)
	if f.minScore != nil {
		fmt.Fprintf(h, "min-score %g\x00", *f.minScore)
	}
	h.Write(data)
	batch := hex.EncodeToString(h.Sum(nil))[:12]
	dir, err := runs.BatchDir(index, batch)
	if err != nil {
		return err
	}
	if err := store.Create(ctx, runs.BatchQueries(dir), blob.WriteBytes(data)); err != nil && !blob.IsExist(err) {
		return err
	}
	log, err := f.sess.logs.logger(env.Stderr)
	if err != nil {
		return err
	}
	cl, closeAll, err := f.sess.connect(ctx, env, store, log)
	if err != nil {
		return err
	}
	defer closeAll()
	in := activities.SearchBatchInput{Index: index, Batch: batch, K: f.k, Exact: f.exact, MinScore: f.minScore, Chunk: f.chunk, Window: f.window}
	start := time.Now()
	wr, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.SearchBatchWorkflowID(index, batch),
		TaskQueue:                f.sess.conn.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.SearchBatch, in)
	if err != nil {
		return fmt.Errorf("start batch search: %w", err)
	}
	fmt.Fprintf(env.Stdout, "batch %s: %d descriptions, workflow %s\n", batch, n, wr.GetID())
	if f.sess.detach {
		return nil
	}
	var sum activities.SearchBatchSummary
	if err := wr.Get(ctx, &sum); err != nil {
		return fmt.Errorf("batch search failed: %s", rootCause(err))
	}
	fmt.Fprintf(env.Stdout, "answered %d descriptions in %s\n  results  %s\n", sum.Queries, time.Since(start).Round(time.Millisecond), sum.Results)
	return nil
}
