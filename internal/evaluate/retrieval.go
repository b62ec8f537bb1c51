package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/pipeline/retriever"
)

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

// systems are the systems retrieval compares, in table order.
var systems = []string{"raw", "head", "bm25"}

// Retrieval measures NER Retriever on BIO data sets: it annotates each,
// builds a raw and a head index of the run and scores the R-Precision of
// each label's query, beside BM25's.
type Retrieval struct {
	Store    blob.Store
	Jobs     Jobs
	Progress io.Writer // what happens, line by line
	Out      string    // the output folder's URI
	// IndexConfig is the configuration of an index of run, with a
	// projection head or without.
	IndexConfig func(run activities.Run, head bool) (activities.IndexConfig, error)
	APIKey      string // for an index of an embeddings API
}

// Run scores each data set, writes results.json and report.md under r.Out
// and returns rep, a report's header, with the data sets and averages.
func (r Retrieval) Run(ctx context.Context, rep RetrievalReport, sets []Dataset) (RetrievalReport, error) {
	for _, ds := range sets {
		d, err := r.one(ctx, ds)
		if err != nil {
			return rep, err
		}
		rep.Datasets = append(rep.Datasets, d)
	}
	rep.Macro = make(map[string]float64)
	for _, sys := range append(slices.Clone(systems), "reach") {
		per := make(map[string]float64)
		for _, d := range rep.Datasets {
			per[d.Name] = d.Macro[sys]
		}
		rep.Macro[sys] = retriever.MacroAverage(per)
	}
	err := writeFiles(ctx, r.Store, r.Out, map[string]func(io.Writer) error{
		"results.json": func(w io.Writer) error { return runs.WriteJSON(w, rep) },
		"report.md":    func(w io.Writer) error { return WriteRetrievalMarkdown(w, rep) },
	})
	return rep, err
}

// one annotates a data set, indexes the run both ways and scores them.
func (r Retrieval) one(ctx context.Context, ds Dataset) (RetrievalDataset, error) {
	cfg := ds.Config
	fmt.Fprintf(r.Progress, "%s: annotating %s\n", ds.Name, cfg.Corpus)
	sum, err := r.Jobs.Annotate(ctx, cfg)
	if err != nil {
		return RetrievalDataset{}, err
	}
	run := activities.Run{ID: sum.RunID, URI: blob.Join(cfg.Output, "runs", sum.RunID)}
	store := runs.Store{Store: r.Store}
	docs, err := readGold(ctx, store, cfg)
	if err != nil {
		return RetrievalDataset{}, err
	}
	data, err := blob.ReadAll(ctx, r.Store, cfg.Schema)
	if err != nil {
		return RetrievalDataset{}, err
	}
	schema, err := pipeline.ParseSchema(data)
	if err != nil {
		return RetrievalDataset{}, fmt.Errorf("schema %s: %w", cfg.Schema, err)
	}
	ms, err := readMentions(ctx, store, runs.Dir(run).MentionsDir())
	if err != nil {
		return RetrievalDataset{}, err
	}
	d := RetrievalDataset{Name: ds.Name, RunID: run.ID, Sentences: len(docs), Mentions: int64(len(ms)),
		Indexes: make(map[string]string), Build: make(map[string]float64)}
	searchers := make(map[string]searcher)
	for _, sys := range []string{"raw", "head"} {
		if searchers[sys], err = r.index(ctx, &d, run, sys); err != nil {
			return RetrievalDataset{}, err
		}
	}
	if err := scoreRetrieval(ctx, &d, docs, ms, schema, searchers); err != nil {
		return RetrievalDataset{}, fmt.Errorf("data set %s: %w", ds.Name, err)
	}
	return d, nil
}

// index builds the run's index of system sys ("raw" or "head"), records it
// in d and opens it.
func (r Retrieval) index(ctx context.Context, d *RetrievalDataset, run activities.Run, sys string) (searcher, error) {
	icfg, err := r.IndexConfig(run, sys == "head")
	if err != nil {
		return nil, err
	}
	// Named by their settings, so that other settings build anew.
	index := blob.Join(r.Out, "indexes", run.ID+"-"+sys+"-"+icfg.Hash())
	icfg.Index = index
	fmt.Fprintf(r.Progress, "%s: index %s\n", d.Name, sys)
	start := time.Now()
	isum, err := r.Jobs.Index(ctx, icfg)
	if err != nil {
		return nil, fmt.Errorf("data set %s, index %s: %w", d.Name, sys, err)
	}
	d.Indexes[sys], d.Build[sys] = index, time.Since(start).Seconds()
	if sys == "head" {
		d.Head = isum.HeadStats
	}
	return search.OpenIndex(ctx, r.Store, index, search.SearchOptions{Exact: true, APIKey: r.APIKey})
}

// searcher answers a query per label with up to k documents each.
type searcher interface {
	SearchEach(ctx context.Context, descs []string, ks []int) ([]search.SearchResult, error)
}

// scoreRetrieval queries every label of the schema that has relevant
// sentences by its description, with each system, and fills d's scores.
func scoreRetrieval(ctx context.Context, d *RetrievalDataset, docs []eval.Doc, ms []eval.Mention,
	schema *pipeline.Schema, searchers map[string]searcher) error {
	relevant := eval.Relevant(docs)
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
	ranked := make(map[string][][]string) // system -> per label
	for sys, s := range searchers {
		res, err := s.SearchEach(ctx, queries, ks)
		if err != nil {
			return err
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
	scores, macro := eval.ScoreRetrieval(docs, ms, labels, ranked, systems)
	for i, s := range scores {
		d.Labels = append(d.Labels, RetrievalLabel{Label: s.Label, Query: queries[i], Relevant: s.Relevant, Scores: s.Scores, Reach: s.Reach})
	}
	d.Macro = macro
	return nil
}

// WriteRetrievalMarkdown writes the report: a table per data set, labels
// by rows, systems by columns, and the averages.
func WriteRetrievalMarkdown(w io.Writer, rep RetrievalReport) error {
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
