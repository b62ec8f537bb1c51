package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/pipeline/retriever"
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

// RetrievalReport is retrieval-eval's results.json.
type RetrievalReport struct {
	Created  time.Time          `json:"created"`
	Commit   string             `json:"commit,omitempty"`
	Backend  string             `json:"backend"`
	Encoder  string             `json:"encoder"`
	Datasets []RetrievalDataset `json:"datasets"`
	// Macro averages over the data sets of their macro averages.
	Macro map[string]float64 `json:"macro"`
}

// RetrievalDataset is one data set's scores.
type RetrievalDataset struct {
	Name      string                `json:"name"`
	RunID     string                `json:"run_id"`
	Sentences int                   `json:"sentences"`
	Mentions  int64                 `json:"mentions"`
	Labels    []RetrievalLabel      `json:"labels"`
	Macro     map[string]float64    `json:"macro"` // by system: raw, head, bm25; and reach
	Indexes   map[string]string     `json:"indexes"`
	Build     map[string]float64    `json:"build_seconds"` // index build time per system
	Head      *activities.HeadStats `json:"head,omitempty"`
}

// RetrievalLabel is one label's scores.
type RetrievalLabel struct {
	Label    string             `json:"label"`
	Query    string             `json:"query"`
	Relevant int                `json:"relevant"` // R
	Scores   map[string]float64 `json:"r_precision"`
	Reach    float64            `json:"reach"`
}

// retrievalSystems are the systems compared, in table order.
var retrievalSystems = []string{"raw", "head", "bm25"}

func retrievalEvalCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("retrieval-eval", retrievalHelp, env)
	var f retrievalFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
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
	if _, err := f.index.spec(); err != nil {
		return err
	}
	cfgs := make([]activities.Config, len(sets))
	for i, ds := range sets {
		if cfgs[i], err = ef.config(ds); err != nil {
			return fmt.Errorf("data set %s: %w", ds.name, err)
		}
	}
	enc, err := f.index.spec()
	if err != nil {
		return err
	}
	cl, log, store, closeAll, err := f.run.open(ctx, env)
	if err != nil {
		return err
	}
	defer closeAll()

	rep := RetrievalReport{Created: time.Now().UTC(), Commit: buildCommit(), Backend: backendName(cfgs[0].Backend), Encoder: enc.Kind,
		Macro: make(map[string]float64)}
	for i, ds := range sets {
		fmt.Fprintf(env.Stderr, "%s: annotating %s\n", ds.name, cfgs[i].Corpus)
		wr, err := startJob(ctx, cl, f.run.conn.taskQueue, cfgs[i], env.Stderr)
		if err != nil {
			return err
		}
		sum, err := waitJob(ctx, cl, wr, cfgs[i], env.Stderr, log)
		if err != nil {
			return err
		}
		run := activities.Run{ID: sum.RunID, URI: blob.Join(cfgs[i].Output, "runs", sum.RunID)}
		docs, err := readGold(ctx, store, cfgs[i])
		if err != nil {
			return err
		}
		data, err := blob.ReadAll(ctx, store, cfgs[i].Schema)
		if err != nil {
			return err
		}
		schema, err := pipeline.ParseSchema(data)
		if err != nil {
			return fmt.Errorf("schema %s: %w", cfgs[i].Schema, err)
		}
		ms, err := runs.Store{Store: store}.MentionsIn(ctx, runs.Dir(run).MentionsDir())
		if err != nil {
			return err
		}
		d := RetrievalDataset{Name: ds.name, RunID: run.ID, Sentences: len(docs), Mentions: int64(len(ms)),
			Indexes: make(map[string]string), Build: make(map[string]float64)}
		searchers := make(map[string]*search.Searcher)
		for _, sys := range []string{"raw", "head"} {
			fi := f.index
			fi.noHead = sys == "raw"
			icfg, err := fi.config(run, "")
			if err != nil {
				return err
			}
			// Named by their settings, so that other settings build anew.
			index := blob.Join(outURI, "indexes", run.ID+"-"+sys+"-"+icfg.Hash())
			icfg.Index = index
			fmt.Fprintf(env.Stderr, "%s: index %s\n", ds.name, sys)
			start := time.Now()
			wr, err := startIndex(ctx, cl, f.run.conn.taskQueue, icfg, env.Stderr)
			if err != nil {
				return err
			}
			isum, err := waitIndex(ctx, cl, wr, io.Discard, log)
			if err != nil {
				return fmt.Errorf("data set %s, index %s: %w", ds.name, sys, err)
			}
			d.Indexes[sys], d.Build[sys] = index, time.Since(start).Seconds()
			if sys == "head" {
				d.Head = isum.HeadStats
			}
			s, err := search.OpenIndex(ctx, store, index, search.SearchOptions{Exact: true, APIKey: env.Getenv("OPENAI_API_KEY")})
			if err != nil {
				return err
			}
			searchers[sys] = s
		}
		if err := scoreRetrieval(ctx, &d, docs, ms, schema, searchers); err != nil {
			return fmt.Errorf("data set %s: %w", ds.name, err)
		}
		rep.Datasets = append(rep.Datasets, d)
	}
	for _, sys := range append(slices.Clone(retrievalSystems), "reach") {
		per := make(map[string]float64)
		for _, d := range rep.Datasets {
			per[d.Name] = d.Macro[sys]
		}
		rep.Macro[sys] = retriever.MacroAverage(per)
	}
	for name, write := range map[string]func(io.Writer) error{
		"results.json": func(w io.Writer) error { return runs.WriteJSON(w, rep) },
		"report.md":    func(w io.Writer) error { return writeRetrievalMarkdown(w, rep) },
	} {
		if err := store.Replace(ctx, blob.Join(outURI, name), write); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := writeRetrievalMarkdown(env.Stdout, rep); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\nreport: %s\n", blob.Join(outURI, "report.md"))
	return nil
}

// scoreRetrieval queries every label of the schema that has relevant
// sentences by its description, with each system, and fills d's scores.
func scoreRetrieval(ctx context.Context, d *RetrievalDataset, docs []eval.Doc, ms []table.Mention,
	schema *pipeline.Schema, searchers map[string]*search.Searcher) error {
	pred := slices.Clone(docs)
	at := make(map[string]int, len(pred))
	for i, doc := range pred {
		at[doc.ID] = i
		pred[i].Pred = nil
	}
	for _, m := range ms {
		if i, ok := at[m.DocID]; ok {
			pred[i].Pred = append(pred[i].Pred, eval.Span{Start: int(m.Start), End: int(m.End), Label: m.Label})
		}
	}
	relevant, reached := eval.Relevant(pred), eval.Reached(pred)
	var labels, queries []string
	var ks []int
	for _, name := range schema.Names() {
		if r := len(relevant[name]); r > 0 {
			labels = append(labels, name)
			queries = append(queries, schema.Label(name).Query())
			ks = append(ks, r)
		}
	}
	if len(labels) == 0 {
		return errors.New("no label of the schema has a gold entity")
	}
	ranked, err := rankings(ctx, docs, queries, ks, searchers)
	if err != nil {
		return err
	}
	d.Macro = make(map[string]float64)
	per := make(map[string]map[string]float64)
	reach := make(map[string]float64)
	for i, l := range labels {
		rl := RetrievalLabel{Label: l, Query: queries[i], Relevant: ks[i], Scores: make(map[string]float64)}
		for _, sys := range retrievalSystems {
			rl.Scores[sys] = retriever.RPrecision(ranked[sys][i], relevant[l])
			if per[sys] == nil {
				per[sys] = make(map[string]float64)
			}
			per[sys][l] = rl.Scores[sys]
		}
		rl.Reach = float64(len(reached[l])) / float64(ks[i])
		reach[l] = rl.Reach
		d.Labels = append(d.Labels, rl)
	}
	for _, sys := range retrievalSystems {
		d.Macro[sys] = retriever.MacroAverage(per[sys])
	}
	d.Macro["reach"] = retriever.MacroAverage(reach)
	return nil
}

// rankings returns, per system (each searcher, and BM25 over the documents'
// texts), the ids of the documents each query ranks first, as many as
// the query's k.
func rankings(ctx context.Context, docs []eval.Doc, queries []string, ks []int, searchers map[string]*search.Searcher) (map[string][][]string, error) {
	ranked := make(map[string][][]string)
	for sys, s := range searchers {
		res, err := s.SearchEach(ctx, queries, ks)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			var ids []string
			for _, doc := range r.Docs {
				ids = append(ids, doc.DocID)
			}
			ranked[sys] = append(ranked[sys], ids)
		}
	}
	texts := make([]string, len(docs))
	for i, doc := range docs {
		texts[i] = doc.Text
	}
	bm := retriever.NewBM25(texts, retriever.BM25Options{})
	for i, q := range queries {
		var ids []string
		for _, h := range bm.Search(q, ks[i]) {
			ids = append(ids, docs[h.Index].ID)
		}
		ranked["bm25"] = append(ranked["bm25"], ids)
	}
	return ranked, nil
}

// writeRetrievalMarkdown writes the report: a table per data set, labels
// by rows, systems by columns, and the averages.
func writeRetrievalMarkdown(w io.Writer, rep RetrievalReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# NER Retriever: R-Precision per label\n\n")
	fmt.Fprintf(&b, "Backend of the runs: %s. Encoder: %s. Queries: the labels' descriptions. Exact search.\n", rep.Backend, rep.Encoder)
	if rep.Commit != "" {
		fmt.Fprintf(&b, "Commit %s, %s.\n", rep.Commit, rep.Created.Format(time.DateOnly))
	}
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprintf("%.1f", 100*v)
	}
	for _, d := range rep.Datasets {
		fmt.Fprintf(&b, "\n## %s\n\n%d sentences, %d silver mentions (run %s).", d.Name, d.Sentences, d.Mentions, d.RunID)
		if h := d.Head; h != nil {
			fmt.Fprintf(&b, " Head: %d triplets from %d silver mentions, loss %.3f -> %.3f.", h.Triplets, h.Mentions, h.LossStart, h.LossEnd)
		}
		fmt.Fprintf(&b, " Index build: raw %.1fs, head %.1fs.\n\n", d.Build["raw"], d.Build["head"])
		fmt.Fprintf(&b, "| label | R | %s raw | %s + head | BM25 | reach |\n", rep.Encoder, rep.Encoder)
		fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|")
		for _, l := range d.Labels {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", l.Label, l.Relevant, pct(l.Scores["raw"]), pct(l.Scores["head"]),
				pct(l.Scores["bm25"]), pct(l.Reach))
		}
		fmt.Fprintf(&b, "| **macro avg** | | **%s** | **%s** | **%s** | %s |\n", pct(d.Macro["raw"]), pct(d.Macro["head"]),
			pct(d.Macro["bm25"]), pct(d.Macro["reach"]))
	}
	if len(rep.Datasets) > 1 {
		fmt.Fprintf(&b, "\n## Average over the data sets\n\n| %s raw | %s + head | BM25 | reach |\n|---:|---:|---:|---:|\n| %s | %s | %s | %s |\n",
			rep.Encoder, rep.Encoder, pct(rep.Macro["raw"]), pct(rep.Macro["head"]), pct(rep.Macro["bm25"]), pct(rep.Macro["reach"]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
