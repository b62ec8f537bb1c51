package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/workflows"
)

const runHelp = `Usage: run --corpus URI --schema URI [--out URI] [--dev] [flags]

Annotates every object under the corpus prefix with the entities of the
schema and writes the tables under the output prefix. The job's workflow id
is derived from --job, so running the same command again re-attaches to a
running job, or re-runs a finished one without redoing finished shards.

URIs are local paths, file:// or gs:// URIs. With --dev, an embedded Temporal
server on a SQLite file (--dev-db) and an in-process worker run the whole job
in this process; kill it at any time and run the same command to resume.
Without --dev, workers (cmd/worker) must be running against --address.`

// runFlags are the flags of a command that runs annotation jobs: the
// session's and the job's.
type runFlags struct {
	sessionFlags
	llm         llmFlags
	corpora     listFlag
	from, to    string
	full        bool
	maxTokens   int64
	retryFailed bool
	schema      string
	out         string
	job         string
	backend     string
	reader      corpus.Options
	shardSize   int
	window      int
}

// sessionFlags are the flags of every command that talks to Temporal:
// connection, logging, metrics, storage, --dev and --detach.
type sessionFlags struct {
	conn          connFlags
	logs          logFlags
	metrics       metricsFlags
	dev           bool
	devDB         string
	gcs           string
	detach        bool
	activitySlots int
}

func (f *runFlags) register(fs *flag.FlagSet, env Env) {
	f.sessionFlags.register(fs, env)
	f.llm.register(fs, env)
	fs.Var(&f.corpora, "corpus", "corpus `URI` prefix: every object under it is read (required; repeat for a backfill over several prefixes; {date} in it is replaced by each day from --from to --to)")
	fs.StringVar(&f.from, "from", "", "first `day` (YYYY-MM-DD) for {date} in --corpus")
	fs.StringVar(&f.to, "to", "", "last `day` (YYYY-MM-DD) for {date} in --corpus, inclusive")
	fs.Int64Var(&f.maxTokens, "max-tokens", 0, "stop the job at a shard boundary once the run has used this many model tokens (0: no ceiling); a later run with a higher ceiling resumes")
	fs.BoolVar(&f.retryFailed, "retry-failed", false, "re-run the failed chunks of the job's last completed run (the rest comes from stage outputs and the response cache)")
	fs.BoolVar(&f.full, "full", false, "annotate every object, not only those new or changed since the job's last completed run")
	fs.StringVar(&f.schema, "schema", "", "schema file `URI`, YAML or JSON (required)")
	fs.StringVar(&f.out, "out", "out", "output `URI` prefix")
	fs.StringVar(&f.job, "job", "", "job `name`; default: derived from corpus, schema and output")
	fs.StringVar(&f.backend, "backend", "auto", "pipeline `backend`: rules, sam (SAM-NER over an LLM), or auto: sam when an LLM endpoint is set")
	fs.StringVar(&f.reader.Format, "format", "auto", "corpus `format`: auto (by extension), jsonl, txt, parquet, bio")
	fs.StringVar(&f.reader.IDField, "id-field", "id", "JSONL/Parquet document id `field`")
	fs.StringVar(&f.reader.TextField, "text-field", "text", "JSONL/Parquet document text `field`")
	fs.StringVar(&f.reader.BIOOrder, "bio-order", "auto", "BIO column `order`: auto, token-tag, tag-token")
	fs.IntVar(&f.reader.SentencesPerDoc, "sentences-per-doc", 1, "BIO: sentences grouped into one document")
	fs.IntVar(&f.shardSize, "shard-size", 1000, "documents per shard")
	fs.IntVar(&f.window, "window", 8, "shards annotated at once")
}

func (f *sessionFlags) register(fs *flag.FlagSet, env Env) {
	f.conn.register(fs, env)
	f.logs.register(fs, env)
	f.metrics.register(fs, env)
	fs.BoolVar(&f.dev, "dev", false, "run an embedded Temporal server and worker in this process")
	fs.StringVar(&f.devDB, "dev-db", filepath.Join(".zeroner", "temporal.db"), "with --dev: the server's SQLite `file`")
	fs.StringVar(&f.gcs, "gcs-endpoint", env.Getenv("ZERONER_GCS_ENDPOINT"), gcsHelp)
	fs.BoolVar(&f.detach, "detach", false, "start the job (or workflow) and return without waiting for it")
	fs.IntVar(&f.activitySlots, "activities", 0, "with --dev: activities run at once (0: twice the cores)")
}

// config validates the flags and turns them into the job's configuration,
// then checks the job's inputs (see checkInputs). Every mistake in the
// flags, the schema or the paths is an error with exit code ExitUsage, found
// before any workflow starts.
func (f *runFlags) config() (activities.Config, error) {
	cfg, err := f.settings()
	if err != nil {
		return activities.Config{}, err
	}
	if err := f.checkInputs(cfg); err != nil {
		return activities.Config{}, err
	}
	return cfg, nil
}

// corpusFormats are the values of --format.
var corpusFormats = []string{"auto", corpus.FormatJSONL, corpus.FormatText, corpus.FormatParquet, corpus.FormatBIO}

// settings validates the flags and turns them into the job's configuration,
// without reading anything: enum flags against their values, every URI
// flag through one function (uriFlag), and an output that the corpus would
// list (the next run would annotate this one's outputs).
func (f *runFlags) settings() (activities.Config, error) {
	if err := f.check(); err != nil {
		return activities.Config{}, err
	}
	prefixes, shown, err := f.prefixes()
	if err != nil {
		return activities.Config{}, usageError(err)
	}
	schema, err := uriFlag("schema", f.schema)
	if err != nil {
		return activities.Config{}, usageError(err)
	}
	out, err := uriFlag("out", f.out)
	if err != nil {
		return activities.Config{}, usageError(err)
	}
	backend, err := f.llm.spec(f.backend, out)
	if err != nil {
		return activities.Config{}, usageError(err)
	}
	if err := f.outsideCorpus(prefixes, shown, out, backend.Batch.Dir); err != nil {
		return activities.Config{}, usageError(err)
	}
	cfg := activities.Config{
		Job: f.job, Corpus: prefixes[0], Schema: schema, Output: out,
		Backend: backend, Reader: activities.Reader(f.reader), ShardSize: f.shardSize, Window: f.window, Full: f.full, MaxTokens: f.maxTokens, RetryFailed: f.retryFailed,
	}
	if len(prefixes) > 1 {
		cfg.Prefixes = prefixes
	}
	if cfg.Job == "" {
		cfg.Job = defaultJob(cfg)
	}
	if !validJob.MatchString(cfg.Job) {
		return activities.Config{}, usageError(fmt.Errorf("--job %q: use letters, digits, '.', '_' and '-' only", cfg.Job))
	}
	return cfg, nil
}

// check checks the flags' values one by one, reporting every mistake at
// once.
func (f *runFlags) check() error {
	var errs []error
	if len(f.corpora) == 0 {
		errs = append(errs, errors.New("--corpus is required"))
	}
	if f.schema == "" {
		errs = append(errs, errors.New("--schema is required"))
	}
	if f.shardSize < 1 {
		errs = append(errs, fmt.Errorf("--shard-size must be at least 1, not %d", f.shardSize))
	}
	if f.window < 1 {
		errs = append(errs, fmt.Errorf("--window must be at least 1, not %d", f.window))
	}
	if f.maxTokens < 0 {
		errs = append(errs, fmt.Errorf("--max-tokens must not be negative, not %d", f.maxTokens))
	}
	if f.reader.SentencesPerDoc < 0 {
		errs = append(errs, fmt.Errorf("--sentences-per-doc must be at least 1, not %d", f.reader.SentencesPerDoc))
	}
	if format := strings.ToLower(f.reader.Format); format != "" {
		errs = append(errs, oneOf("format", format, corpusFormats...))
	}
	if f.reader.BIOOrder != "" {
		errs = append(errs, oneOf("bio-order", f.reader.BIOOrder, corpus.OrderAuto, corpus.OrderTokenTag, corpus.OrderTagToken))
	}
	if f.backend != "" {
		errs = append(errs, oneOf("backend", f.backend, "auto", "rules", "sam"))
	}
	errs = append(errs, f.logs.check())
	errs = append(errs, f.llm.check()...)
	if f.gcs != "" {
		if _, err := blob.New(context.Background(), blob.Options{GCSEndpoint: f.gcs}); err != nil {
			errs = append(errs, fmt.Errorf("--gcs-endpoint %q: want http://host:port or https://host:port", f.gcs))
		}
	}
	return usageError(errs...)
}

// prefixes are the corpus prefixes as URIs, each day of a {date} prefix
// one, and shown the same prefixes as the user wrote them, to name them in
// messages.
func (f *runFlags) prefixes() (prefixes, shown []string, err error) {
	prefixes, err = expandDates(f.corpora, f.from, f.to)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range f.corpora {
		days := []string{c}
		if strings.Contains(c, "{date}") {
			days, _ = expandDates(days, f.from, f.to)
		}
		shown = append(shown, days...)
	}
	for i, p := range prefixes {
		u, err := uriFlag("corpus", p)
		if err != nil {
			return nil, nil, err
		}
		// A local corpus folder lists as a folder, not as a prefix of
		// names ("corpus" would also match "corpus-old/").
		if st, err := os.Stat(p); err == nil && st.IsDir() && !strings.HasSuffix(u, "/") {
			u += "/"
		}
		prefixes[i] = u
	}
	return prefixes, shown, nil
}

// outsideCorpus checks that no corpus prefix lists the output or the batch
// exchange folder. A prefix lists every object whose URI starts with it: an
// output (or an exchange) there would be read as corpus by the next run,
// which would annotate this one's outputs.
func (f *runFlags) outsideCorpus(prefixes, shown []string, out, batchDir string) error {
	for i, p := range prefixes {
		if lists(p, out) {
			return fmt.Errorf("--out %s is inside --corpus %s: the next run would annotate this run's outputs; choose an --out outside the corpus", f.out, shown[i])
		}
		if batchDir != "" && f.llm.batch.dir != "" && lists(p, batchDir) {
			return fmt.Errorf("--batch-dir %s is inside --corpus %s: the next run would annotate the batch files; choose a --batch-dir outside the corpus", f.llm.batch.dir, shown[i])
		}
	}
	return nil
}

// checkInputs checks what the job reads before it starts: a local corpus
// prefix must name something (a {date} prefix: on one day at least), and
// the schema must be there and parse.
func (f *runFlags) checkInputs(cfg activities.Config) error {
	for _, c := range f.corpora {
		days := []string{c}
		if strings.Contains(c, "{date}") {
			var err error
			if days, err = expandDates(days, f.from, f.to); err != nil {
				return usageError(err)
			}
		}
		found := false
		for _, d := range days {
			u, err := uriFlag("corpus", d)
			if err != nil {
				return usageError(err)
			}
			if found = checkLocalPrefix(u); found {
				break
			}
		}
		if !found {
			what := "no such file or folder"
			if len(days) > 1 {
				what = fmt.Sprintf("nothing there on any day from %s to %s", f.from, f.to)
			}
			return usageError(fmt.Errorf("--corpus %s: %s", c, what))
		}
	}
	return checkSchema(f.gcs, "schema", f.schema, cfg.Schema)
}

// expandDates replaces {date} in each prefix by every day from from to to,
// inclusive, for corpora laid out by date (gs://b/news/{date}/).
func expandDates(prefixes []string, from, to string) ([]string, error) {
	dated := slices.ContainsFunc(prefixes, func(p string) bool { return strings.Contains(p, "{date}") })
	if !dated {
		if from != "" || to != "" {
			return nil, errors.New("--from and --to need {date} in --corpus")
		}
		return slices.Clone(prefixes), nil
	}
	first, err1 := time.Parse(time.DateOnly, from)
	last, err2 := time.Parse(time.DateOnly, to)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("{date} in --corpus needs --from and --to as YYYY-MM-DD: %w", err)
	}
	if last.Before(first) {
		return nil, fmt.Errorf("--to %s is before --from %s", to, from)
	}
	if days := last.Sub(first).Hours() / 24; days > 36600 {
		return nil, fmt.Errorf("--from %s --to %s: %.0f days is too many", from, to, days)
	}
	var out []string
	for _, p := range prefixes {
		if !strings.Contains(p, "{date}") {
			out = append(out, p)
			continue
		}
		for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
			out = append(out, strings.ReplaceAll(p, "{date}", d.Format(time.DateOnly)))
		}
	}
	return out, nil
}

var validJob = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// defaultJob names a job after its corpus, with a hash of what identifies it,
// so the same command always finds the same job.
func defaultJob(cfg activities.Config) string {
	h := sha256.Sum256([]byte(cfg.Corpus + "\x00" + cfg.Schema + "\x00" + cfg.Output))
	base := strings.TrimSuffix(path.Base(strings.TrimRight(cfg.Corpus, "/")), path.Ext(cfg.Corpus))
	base = regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(base, "-")
	base = strings.Trim(base, "-.")
	if base == "" {
		base = "job"
	}
	if len(base) > 40 {
		base = base[:40]
	}
	return base + "-" + hex.EncodeToString(h[:3])
}

func runCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("run", runHelp, env)
	var f runFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	o, err := f.open(ctx, env)
	if err != nil {
		return interrupted(ctx, cfg.Job, err)
	}
	defer o.close()
	cl, log := o.client, o.log

	start := time.Now()
	wr, err := startJob(ctx, cl, f.conn.taskQueue, cfg, env.Stdout)
	if err != nil || f.detach {
		return err
	}
	sum, err := waitJob(ctx, cl, wr, cfg, env.Stdout, log)
	if err != nil {
		return err
	}
	printSummary(env.Stdout, sum, time.Since(start))
	return outcome(sum)
}

// opened is what a command that starts jobs has open: the log, the
// store and a Temporal client (see connect).
type opened struct {
	client client.Client
	log    *slog.Logger
	store  blob.Store
	close  func() // undoes all of it
}

// open sets up what a command that starts jobs needs.
func (f *sessionFlags) open(ctx context.Context, env Env) (opened, error) {
	log, err := f.logs.logger(env.Stderr)
	if err != nil {
		return opened{}, err
	}
	store, err := openStore(ctx, f.gcs)
	if err != nil {
		return opened{}, err
	}
	cl, closeAll, err := f.connect(ctx, env, store, log)
	if err != nil {
		return opened{}, err
	}
	return opened{client: cl, log: log, store: store, close: closeAll}, nil
}

// gcsCheckTimeout bounds the check that a --gcs-endpoint answers.
const gcsCheckTimeout = 5 * time.Second

// openStore opens storage, with Cloud Storage at endpoint (empty: Google's).
// An emulator endpoint is checked first, so that one that is down is
// named at once, not after the job's storage requests have waited out
// their retries.
func openStore(ctx context.Context, endpoint string) (blob.Store, error) {
	if endpoint != "" {
		if err := blob.CheckGCSEndpoint(ctx, endpoint, gcsCheckTimeout); err != nil {
			return nil, err
		}
	}
	return blob.New(ctx, blob.Options{GCSEndpoint: endpoint})
}

// connect dials Temporal: with --dev, an embedded server it starts first,
// and an in-process worker over store. closeAll undoes all of it.
func (f *sessionFlags) connect(ctx context.Context, env Env, store blob.Store, log *slog.Logger) (cl client.Client, closeAll func(), err error) {
	var undo []func()
	// A local, not the named result: an error return sets that to nil
	// before the deferred cleanup runs.
	undoAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			undoAll()
		}
	}()
	if f.dev {
		if env.DevServer == nil {
			return nil, nil, errors.New("--dev is not available in this build")
		}
		if err := os.MkdirAll(filepath.Dir(f.devDB), 0o755); err != nil {
			return nil, nil, fmt.Errorf("--dev-db: %w", err)
		}
		addr, stop, err := env.DevServer(ctx, f.devDB, 0, log)
		if err != nil {
			return nil, nil, fmt.Errorf("start embedded Temporal server on %s: %w", f.devDB, err)
		}
		undo = append(undo, func() { stop() })
		f.conn.useLocal(addr)
		stopMetrics, err := f.metrics.start(ctx, log)
		if err != nil {
			return nil, nil, err
		}
		undo = append(undo, stopMetrics)
	}
	cl, err = dialWith(ctx, f.conn, log, f.metrics.sdk())
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, cl.Close)
	if f.dev {
		w := newWorker(cl, f.conn.taskQueue, store, log, f.activitySlots, env, f.metrics.recorder())
		if err := w.Start(); err != nil {
			return nil, nil, fmt.Errorf("start worker: %w", err)
		}
		undo = append(undo, func() {
			if ctx.Err() != nil {
				fmt.Fprintln(env.Stderr, "stopping the in-process worker: it finishes the activities it holds, up to 30 s (interrupt again to quit at once)")
			}
			w.Stop()
		})
	}
	return &session{Client: cl, dev: f.dev, address: f.conn.address, queue: f.conn.taskQueue}, undoAll, nil
}

// interrupted is err, or when ctx ended (Ctrl-C, SIGTERM) what that means
// for the job: nothing is lost, and the same command resumes it. The job's
// workflow is neither cancelled nor failed: this process only stops
// waiting (with --dev, its server and worker stop, and the job waits on
// the file for the next run).
func interrupted(ctx context.Context, job string, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return withCode(ExitInterrupted, fmt.Errorf("interrupted: job %s keeps its progress; run the same command to resume", job))
}

// startJob starts the job's workflow, or attaches to it while it runs (its
// id comes from the job name), and says so on w. Attached to a run that was
// already running, it says since when: with --dev, that is a job that an
// earlier process left when it was interrupted.
func startJob(ctx context.Context, cl client.Client, queue string, cfg activities.Config, w io.Writer) (client.WorkflowRun, error) {
	begin := time.Now()
	wr, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.WorkflowID(cfg.Job),
		TaskQueue:                queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.AnnotateCorpus, workflows.CorpusState{Config: cfg})
	if err != nil {
		return nil, interrupted(ctx, cfg.Job, fmt.Errorf("start job %s: %w", cfg.Job, err))
	}
	fmt.Fprintf(w, "job %s: workflow %s, run %s\n", cfg.Job, wr.GetID(), wr.GetRunID())
	sess := sessionOf(cl)
	// Without --dev the server's clock is not this machine's: allow for
	// some skew before calling a run older than this command.
	skew := 5 * time.Second
	if sess.dev {
		skew = 0
	}
	if started, ok := jobStarted(ctx, cl, wr.GetID(), wr.GetRunID()); ok && started.Before(begin.Add(-skew)) {
		when := started.Local().Format(time.DateTime)
		if sess.dev {
			fmt.Fprintf(w, "resuming job %s, interrupted earlier (started %s)\n", cfg.Job, when)
		} else {
			fmt.Fprintf(w, "job %s was already running (started %s): following it\n", cfg.Job, when)
		}
	}
	return wr, nil
}

// jobStarted is when the job whose workflow run is id, runID started: its
// first run's start, if it continued as new since.
func jobStarted(ctx context.Context, cl client.Client, id, runID string) (time.Time, bool) {
	d, err := cl.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return time.Time{}, false
	}
	info := d.GetWorkflowExecutionInfo()
	if first := info.GetFirstRunId(); first != "" && first != runID {
		if fd, err := cl.DescribeWorkflowExecution(ctx, id, first); err == nil {
			info = fd.GetWorkflowExecutionInfo()
		}
	}
	if info.GetStartTime() == nil {
		return time.Time{}, false
	}
	return info.GetStartTime().AsTime(), true
}

// waitJob shows the job's progress on w until it ends and returns its
// summary. It also says what the job waits for (see watchJob). Interrupted
// (ctx ends), it returns at once with ExitInterrupted; the job goes on.
func waitJob(ctx context.Context, cl client.Client, wr client.WorkflowRun, cfg activities.Config, w io.Writer, log *slog.Logger) (activities.Summary, error) {
	stop := showProgress(ctx, cl, wr.GetID(), w)
	stopWatch := watchJob(ctx, cl, wr.GetID(), sessionOf(cl), w)
	var sum activities.Summary
	err := wr.Get(ctx, &sum)
	stopWatch()
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return sum, interrupted(ctx, cfg.Job, err)
		}
		log.Debug("job failed", "job", cfg.Job, "error", err)
		return sum, fmt.Errorf("job %s failed: %s", cfg.Job, rootCause(err))
	}
	return sum, nil
}

// rootCause is the message of the error an activity returned, found in err's
// chain: Temporal wraps it in several layers that each repeat it.
func rootCause(err error) string {
	var act *temporal.ActivityError
	if !errors.As(err, &act) {
		// A workflow's own error, such as a refusal that stopped the job.
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return app.Message()
		}
		return err.Error()
	}
	var app *temporal.ApplicationError
	if errors.As(act.Unwrap(), &app) {
		return app.Message()
	}
	return act.Unwrap().Error()
}

// peakRSS is the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // Linux reports KiB
}
