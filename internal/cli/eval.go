package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/evaluate"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
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
	todo, err := f.configs(sets)
	if err != nil {
		return err
	}
	o, err := f.run.open(ctx, env)
	if err != nil {
		return err
	}
	defer o.close()

	e := evaluate.Eval{Store: o.store, Jobs: jobs{cl: o.client, queue: f.run.conn.taskQueue, w: env.Stderr, log: o.log},
		Progress: env.Stderr, Out: outURI, Misc: f.misc, Tag: f.tag, AllowFailures: f.allowFailures}
	rep, err := e.Run(ctx, eval.Report{Title: f.title, Backend: evaluate.BackendName(todo[0].Config.Backend), Commit: f.commit,
		Created: time.Now().UTC(), Note: f.note}, todo)
	if err != nil {
		return exitCodeOf(err)
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

// exitCodeOf gives an evaluation's error its exit code: ExitFailures for a
// data set the job did not annotate whole.
func exitCodeOf(err error) error {
	var inc *evaluate.Incomplete
	if errors.As(err, &inc) {
		return withCode(ExitFailures, err)
	}
	return err
}

// configs are the job configurations of the data sets.
func (f *evalFlags) configs(sets []dataset) ([]evaluate.Dataset, error) {
	out := make([]evaluate.Dataset, len(sets))
	for i, ds := range sets {
		cfg, err := f.config(ds)
		if err != nil {
			return nil, fmt.Errorf("data set %s: %w", ds.name, err)
		}
		out[i] = evaluate.Dataset{Name: ds.name, Config: cfg}
	}
	return out, nil
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
