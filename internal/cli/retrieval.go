package cli

import (
	"context"
	"flag"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/evaluate"
	"github.com/zeroner/zeroner/io/blob"
)

const retrievalHelp = `Usage: retrieval-eval --data FILE --schema FILE [--name NAME] [--data ... --schema ...] [--out DIR] [--dev] [flags]

Measures NER Retriever on BIO test sets (METHODS.md §2): R-Precision per
label, macro-averaged. For each data set it annotates the sentences with a
normal run (one sentence per document, the configured backend: the rules
backend unless an LLM is set), builds two indexes of the run through the
index workflow, one of the encoder's vectors (raw) and one with a
projection head trained on the run's own silver labels (head), and queries
each label of the schema by its description. A label's relevant sentences
are those holding a gold entity of it; R is their number; the first R
distinct sentences retrieved are scored. Beside them, BM25 over the
sentences with the same queries. The gold tags define relevance only:
neither the run, nor the head, nor the queries see them.

Writes, under --out (default evals/retrieval):
  results.json  report.md     every data set's scores per label and averages
  runs/<run-id>/              the annotation runs, as "starter run" writes them
  indexes/<run-id>-raw-<hash>/  indexes/<run-id>-head-<hash>/   the indexes
and prints one table per data set. "reach" is the share of a label's
relevant sentences where the run has a mention overlapping a gold entity of
the label: retrieval finds sentences through mentions, so it caps recall.
Every other flag is an "index" or "run" flag.`

type retrievalFlags struct {
	run     runFlags
	index   indexFlags
	data    listFlag
	schemas listFlag
	names   listFlag
	out     string
	tag     string
}

// retrievalSkips are the run flags retrieval-eval sets itself or that an
// index flag of the same name replaces.
var retrievalSkips = map[string]bool{"window": true}

func (f *retrievalFlags) register(fs *flag.FlagSet, env Env) {
	fs.Var(&f.data, "data", "BIO data `file`; repeat for several data sets")
	fs.Var(&f.schemas, "schema", "schema `file` of the preceding --data; one per --data")
	fs.Var(&f.names, "name", "data set `name`, one per --data; default: from the file name (\"politics-test\")")
	fs.StringVar(&f.out, "out", path.Join("evals", "retrieval"), "output `folder`")
	fs.StringVar(&f.tag, "tag", "retrieval", "runs are jobs named <name>-<tag>: the same tag finds the same runs and indexes again")
	f.index.register(fs, env)
	scratch := flag.NewFlagSet("run", flag.ContinueOnError)
	f.run.register(scratch, env)
	scratch.VisitAll(func(fl *flag.Flag) {
		if !evalSkips[fl.Name] && !retrievalSkips[fl.Name] {
			fs.Var(fl.Value, fl.Name, fl.Usage)
		}
	})
}

func retrievalEvalCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("retrieval-eval", retrievalHelp, env)
	var f retrievalFlags
	f.register(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	ef := evalFlags{run: f.run, data: f.data, schemas: f.schemas, names: f.names, out: f.out, tag: f.tag}
	sets, err := ef.datasets()
	if err != nil {
		return usageError(err)
	}
	outURI, err := uriFlag("out", f.out)
	if err != nil {
		return usageError(err)
	}
	enc, err := f.index.spec()
	if err != nil {
		return err
	}
	todo, err := ef.configs(sets)
	if err != nil {
		return err
	}
	o, err := f.run.open(ctx, env)
	if err != nil {
		return err
	}
	defer o.close()

	r := evaluate.Retrieval{Store: o.store, Jobs: jobs{cl: o.client, queue: f.run.conn.taskQueue, w: env.Stderr, log: o.log},
		Progress: env.Stderr, Out: outURI, APIKey: env.Getenv("OPENAI_API_KEY"),
		IndexConfig: func(run activities.Run, head bool) (activities.IndexConfig, error) {
			fi := f.index
			fi.noHead = !head
			return fi.config(run, "")
		}}
	rep, err := r.Run(ctx, evaluate.RetrievalReport{Created: time.Now().UTC(), Commit: buildCommit(),
		Backend: evaluate.BackendName(todo[0].Config.Backend), Encoder: enc.Kind}, todo)
	if err != nil {
		return err
	}
	if err := evaluate.WriteRetrievalMarkdown(env.Stdout, rep); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\nreport: %s\n", blob.Join(outURI, "report.md"))
	return nil
}
