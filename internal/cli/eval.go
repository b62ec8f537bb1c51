package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities/runs"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline/eval"
)

const evalHelp = `Usage: eval --data FILE --schema FILE [--name NAME] [--data ... --schema ...] [--out DIR] [--dev] [flags]

Evaluates the configured backend on BIO data sets (token-tag or tag-token
columns, detected): runs the real annotation job on each, one sentence per
document, then scores the mentions table against the gold tags. Give
--data and --schema (and optionally --name) once per data set, in pairs.

Writes, under the eval folder (--out):
  results.json  report.md  report.html      all data sets and their averages
  <name>/predictions.bio                    token, gold tag, predicted tag (conlleval columns)
  <name>/predictions.jsonl                  text, predicted and gold spans (code points)
  <name>/results.json                       the data set's scores
  runs/<run-id>/                            the annotation runs, as "starter run" writes them
and prints one table of F1 scores. Every other flag is a "starter run" flag.`

// evalFlags are eval's own flags; run holds the job flags it shares with
// "starter run".
type evalFlags struct {
	run     runFlags
	data    listFlag
	schemas listFlag
	names   listFlag
	out     string
	misc    string
	tag     string
	title   string
	commit  string
	note    string
	// allowFailures scores data sets with sentences the job could not
	// annotate, as unannotated, and says so in every table.
	allowFailures bool
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// evalSkips are the run flags eval sets itself for each data set.
var evalSkips = map[string]bool{
	"corpus": true, "schema": true, "out": true, "job": true, "detach": true,
	"format": true, "sentences-per-doc": true, "id-field": true, "text-field": true,
}

func (f *evalFlags) register(fs *flag.FlagSet, env Env) {
	fs.Var(&f.data, "data", "BIO data `file` (or prefix of files) to evaluate on; repeat for several data sets")
	fs.Var(&f.schemas, "schema", "schema `file` of the preceding --data; one per --data")
	fs.Var(&f.names, "name", "data set `name`, one per --data; default: from the file name (\"ai-test\")")
	fs.StringVar(&f.out, "out", "", "eval `folder`; default evals/<name>, or evals/all for several data sets")
	fs.StringVar(&f.misc, "misc", "misc", "the catch-all `label` the no-misc scores drop")
	fs.StringVar(&f.tag, "tag", "", "runs are jobs named <name>-<tag>; default the current time, so each eval annotates afresh (give an earlier tag to resume or reuse its runs)")
	fs.StringVar(&f.title, "title", "zeroner evaluation", "report `title`")
	fs.StringVar(&f.commit, "commit", buildCommit(), "source `commit` recorded in the report")
	fs.StringVar(&f.note, "note", "", "a `note` for the report, e.g. what the numbers mean")
	fs.BoolVar(&f.allowFailures, "allow-failures", false, "score a data set even when some sentences failed (they count as unannotated; the tables show how many); without it, eval writes no score then")
	// The run flags, including any added to runFlags later, minus those eval
	// sets itself.
	scratch := flag.NewFlagSet("run", flag.ContinueOnError)
	f.run.register(scratch, env)
	scratch.VisitAll(func(fl *flag.Flag) {
		if !evalSkips[fl.Name] {
			fs.Var(fl.Value, fl.Name, fl.Usage)
		}
	})
}

// dataset is one data set to evaluate.
type dataset struct {
	name, data, schema string
}

// datasets pairs the --data, --schema and --name flags.
func (f *evalFlags) datasets() ([]dataset, error) {
	switch {
	case len(f.data) == 0:
		return nil, errors.New("--data is required")
	case len(f.schemas) != len(f.data):
		return nil, fmt.Errorf("give one --schema per --data (%d --data, %d --schema)", len(f.data), len(f.schemas))
	case len(f.names) != 0 && len(f.names) != len(f.data):
		return nil, fmt.Errorf("give one --name per --data, or none (%d --data, %d --name)", len(f.data), len(f.names))
	}
	var out []dataset
	seen := map[string]bool{}
	for i, d := range f.data {
		ds := dataset{name: defaultName(d), data: d, schema: f.schemas[i]}
		if len(f.names) > 0 {
			ds.name = f.names[i]
		}
		if !validName.MatchString(ds.name) {
			return nil, fmt.Errorf("data set name %q: use letters, digits, '.', '_' and '-' only", ds.name)
		}
		if seen[ds.name] {
			return nil, fmt.Errorf("two data sets named %q: give --name", ds.name)
		}
		seen[ds.name] = true
		out = append(out, ds)
	}
	return out, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$`)

// defaultName names a data set after its file, with the folder when the
// file is only a split ("crossner/ai/test.txt" is "ai-test").
func defaultName(data string) string {
	p := strings.TrimRight(data, "/")
	base := strings.TrimSuffix(path.Base(p), path.Ext(p))
	switch strings.ToLower(base) {
	case "train", "dev", "valid", "validation", "test":
		base = path.Base(path.Dir(p)) + "-" + base
	}
	return strings.Trim(regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(base, "-"), "-.")
}

// buildCommit is the VCS revision the binary was built from, if recorded.
func buildCommit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(7, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

func evalCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("eval", evalHelp, env)
	var f evalFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sets, err := f.datasets()
	if err != nil {
		return usageError(err)
	}
	if f.out == "" {
		f.out = path.Join("evals", "all")
		if len(sets) == 1 {
			f.out = path.Join("evals", sets[0].name)
		}
	}
	if f.tag == "" {
		f.tag = time.Now().UTC().Format("20060102-150405")
	}
	outURI, err := uriFlag("out", f.out)
	if err != nil {
		return usageError(err)
	}
	// Check every data set's flags before annotating any.
	cfgs := make([]activities.Config, len(sets))
	for i, ds := range sets {
		if cfgs[i], err = f.config(ds); err != nil {
			return fmt.Errorf("data set %s: %w", ds.name, err)
		}
	}
	cl, log, store, closeAll, err := f.run.open(ctx, env)
	if err != nil {
		return err
	}
	defer closeAll()

	rep := eval.Report{Title: f.title, Backend: backendName(cfgs[0].Backend), Commit: f.commit,
		Created: time.Now().UTC(), Note: f.note}
	for i, ds := range sets {
		r, err := f.evalOne(ctx, cl, store, log, env.Stderr, ds, cfgs[i], outURI)
		if err != nil {
			return fmt.Errorf("data set %s: %w", ds.name, err)
		}
		rep.Datasets = append(rep.Datasets, r)
	}
	rep.Averages = eval.Groups(rep.Datasets)
	if rep.Averages == nil {
		rep.Averages = []eval.Average{}
	}
	for name, write := range map[string]func(io.Writer) error{
		"results.json": func(w io.Writer) error { return runs.WriteJSON(w, rep) },
		"report.md":    func(w io.Writer) error { return eval.WriteMarkdown(w, rep) },
		"report.html":  func(w io.Writer) error { return eval.WriteHTML(w, rep) },
	} {
		if err := store.Replace(ctx, blob.Join(outURI, name), write); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	fmt.Fprintln(env.Stdout)
	if err := eval.WriteTable(env.Stdout, rep); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "report: %s\n", blob.Join(outURI, "report.html"))
	if n := rep.Failed(); n > 0 {
		return withCode(ExitFailures, fmt.Errorf("%d sentences were not annotated and are scored as unannotated (--allow-failures)", n))
	}
	return nil
}

// config is the job configuration for one data set: its BIO file read one
// sentence per document, so each document is one gold sentence.
func (f *evalFlags) config(ds dataset) (activities.Config, error) {
	// The data is the job's corpus: named here by its own flag.
	u, err := uriFlag("data", ds.data)
	if err != nil {
		return activities.Config{}, usageError(err)
	}
	if !checkLocalPrefix(u) {
		return activities.Config{}, usageError(fmt.Errorf("--data %s: no such file or folder", ds.data))
	}
	rf := f.run
	rf.corpora, rf.schema, rf.out = listFlag{ds.data}, ds.schema, f.out
	rf.job = ds.name + "-" + f.tag
	rf.reader.Format = corpus.FormatBIO
	rf.reader.SentencesPerDoc = 1
	return rf.config()
}

func backendName(b activities.BackendSpec) string {
	if b.Name == "sam" && b.LLM.Model != "" {
		return b.Name + " (" + b.LLM.Model + ")"
	}
	return b.Name
}

// evalOne annotates one data set with the job, scores the mentions table
// against the gold and writes the data set's predictions and results.
func (f *evalFlags) evalOne(ctx context.Context, cl client.Client, store blob.Store, log *slog.Logger, progress io.Writer,
	ds dataset, cfg activities.Config, outURI string) (eval.Results, error) {
	// The gold, read as the job reads the corpus: the same objects, ids and
	// sentence texts.
	docs, err := readGold(ctx, store, cfg)
	if err != nil {
		return eval.Results{}, err
	}
	start := time.Now()
	fmt.Fprintf(progress, "%s: %d sentences from %s\n", ds.name, len(docs), cfg.Corpus)
	wr, err := startJob(ctx, cl, f.run.conn.taskQueue, cfg, progress)
	if err != nil {
		return eval.Results{}, err
	}
	sum, err := waitJob(ctx, cl, wr, cfg, progress, log)
	if err != nil {
		return eval.Results{}, err
	}
	fmt.Fprintf(progress, "%s: run %s, %d mentions in %s\n", ds.name, sum.RunID, sum.Mentions, time.Since(start).Round(time.Millisecond))
	for _, w := range sum.Warnings {
		fmt.Fprintf(progress, "%s: warning: %s\n", ds.name, w)
	}
	if sum.Stopped != "" {
		return eval.Results{}, withCode(ExitFailures, fmt.Errorf("the job stopped before finishing (%s); no score written", sum.Stopped))
	}
	if sum.Docs != int64(len(docs)) {
		return eval.Results{}, fmt.Errorf("the run annotated %d documents (%d rejects), the gold has %d sentences", sum.Docs, sum.Rejects, len(docs))
	}
	failed := failedDocs(sum, cfg.ShardSize, len(docs))
	if failed > 0 {
		why := "see " + sum.Outputs.Summary
		if len(sum.Problems) > 0 {
			why = sum.Problems[0].Cause
		}
		if !f.allowFailures {
			return eval.Results{}, withCode(ExitFailures, fmt.Errorf(
				"%d of %d sentences were not annotated (%s); no score written: run again with --tag %s to retry them, or add --allow-failures to score them as unannotated",
				failed, len(docs), why, f.tag))
		}
		fmt.Fprintf(progress, "%s: warning: %d of %d sentences were not annotated (%s); scored as unannotated (--allow-failures)\n",
			ds.name, failed, len(docs), why)
	}
	ms, err := runs.Store{Store: store}.MentionsIn(ctx, sum.Outputs.Mentions)
	if err != nil {
		return eval.Results{}, err
	}
	index := make(map[string]int, len(docs))
	for i, d := range docs {
		index[d.ID] = i
	}
	for _, m := range ms {
		i, ok := index[m.DocID]
		if !ok {
			return eval.Results{}, fmt.Errorf("mention %q of document %s, which is not in the gold", m.Text, m.DocID)
		}
		docs[i].Pred = append(docs[i].Pred, eval.Span{Start: int(m.Start), End: int(m.End), Label: m.Label})
	}
	r, err := eval.Score(ds.name, docs, eval.Options{Misc: f.misc})
	if err != nil {
		return eval.Results{}, err
	}
	r.Failed = failed
	dir := blob.Join(outURI, ds.name)
	for name, write := range map[string]func(io.Writer) error{
		"predictions.bio":   func(w io.Writer) error { return eval.WriteBIO(w, docs) },
		"predictions.jsonl": func(w io.Writer) error { return eval.WriteJSONL(w, docs) },
		"results.json":      func(w io.Writer) error { return runs.WriteJSON(w, r) },
	} {
		if err := store.Replace(ctx, blob.Join(dir, name), write); err != nil {
			return eval.Results{}, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return r, nil
}

// failedDocs counts the documents a run did not annotate: those of its
// failed shards (an eval's data set is one object, cut in order into shards
// of size documents) and its failed chunks.
func failedDocs(sum activities.Summary, size, docs int) int {
	n := int(sum.Failures)
	for _, f := range sum.FailedShards {
		n += max(0, min(size, docs-f.Shard*size))
	}
	return n
}

// readGold reads the sentences of every object under the job's corpus
// prefix, in the job's order. Unlike the job, it fails on a malformed line,
// so that no gold is silently lost.
func readGold(ctx context.Context, store blob.Store, cfg activities.Config) ([]eval.Doc, error) {
	objs, err := store.List(ctx, cfg.Corpus)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", cfg.Corpus, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no data at %s", cfg.Corpus)
	}
	var docs []eval.Doc
	for _, o := range objs {
		rc, err := store.Open(ctx, o.URI)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", o.URI, err)
		}
		err = corpus.ReadBIO(rc, o.URI, corpus.Options(cfg.Reader), func(d corpus.Doc) error {
			gold := make([]eval.Span, len(d.Gold))
			for i, g := range d.Gold {
				gold[i] = eval.Span{Start: g.Start, End: g.End, Label: g.Label}
			}
			docs = append(docs, eval.Doc{ID: d.ID, Text: d.Text, Gold: gold})
			return nil
		})
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}
