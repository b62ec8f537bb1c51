package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/activities/runs"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
	"github.com/zeroner/zeroner/pipeline/silver"
)

const exportHelp = `Usage: export --run RUN --format bio|jsonl|parquet|neo4j|all --out DIR [flags]

Exports a finished run (its folder: a path, file:// or gs:// URI) as silver
training data and knowledge-graph files. Documents are split into train and
dev by a hash of their id (sha256), the same in every export.

Writes, under --out:
  train.bio  dev.bio          token<TAB>tag, IOB2, a blank line after each sentence
  train.jsonl  dev.jsonl      per document: id, text, spans (code point offsets, label, text)
  train.parquet  dev.parquet  per sentence: id, tokens, ner_tags (ids of label_map.json;
                              the tag names are in the files' Hugging Face features)
  label_map.json              tag id -> IOB2 tag, Hugging Face's id2label
  entities.csv  cooccurs.csv  Neo4j nodes and relationships for neo4j-admin database import
  export.json                 the settings and counts of the export

Which mentions are kept: by default those scoring at least --min-score and
proposed by at least --min-votes extractors, and documents on which a stage
failed are left out (their annotation may be incomplete). --recall favours
recall, since missed entities hurt silver data most: it keeps every mention
(--min-score 0 --min-votes 1) and the documents with failures. Documents of
shards that failed for good are always left out: they have no annotation.`

// exportFlags are export's flags.
type exportFlags struct {
	run, format, out string
	minScore         float64
	minVotes         int
	recall           bool
	devShare         float64
	seedFree         bool
	gcs              string
}

// exportFormats are the --format values; "all" is every one of them.
var exportFormats = []string{"bio", "jsonl", "parquet", "neo4j"}

func (f *exportFlags) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&f.run, "run", "", "the run's `folder`: <out>/runs/<run-id> as a path, file:// or gs:// URI")
	fs.StringVar(&f.format, "format", "all", "what to write: bio, jsonl, parquet, neo4j or all (comma-separated list allowed)")
	fs.StringVar(&f.out, "out", "", "output `folder` (path, file:// or gs:// URI)")
	fs.Float64Var(&f.minScore, "min-score", 0.5, "keep mentions whose label `score` is at least this")
	fs.IntVar(&f.minVotes, "min-votes", 1, "keep mentions proposed by at least this many extractors")
	fs.BoolVar(&f.recall, "recall", false, "favour recall: keep every mention and the documents a stage failed on")
	fs.Float64Var(&f.devShare, "dev-share", 0.1, "`share` of documents in the dev split, 0 to 1")
	fs.BoolVar(&f.seedFree, "seed-free", false, "the schema's gazetteer (seed names) does not vote; mentions only it proposed are dropped")
	fs.StringVar(&f.gcs, "gcs-endpoint", env.Getenv("ZERONER_GCS_ENDPOINT"), gcsHelp)
}

// formats returns the formats --format asks for.
func (f *exportFlags) formats() (map[string]bool, error) {
	out := make(map[string]bool)
	for _, s := range strings.Split(f.format, ",") {
		switch s = strings.TrimSpace(s); {
		case s == "all":
			for _, x := range exportFormats {
				out[x] = true
			}
		case slices.Contains(exportFormats, s):
			out[s] = true
		default:
			return nil, fmt.Errorf("--format %q: want bio, jsonl, parquet, neo4j or all", s)
		}
	}
	return out, nil
}

// exportStats is export.json.
type exportStats struct {
	RunID    string        `json:"run_id"`
	Filter   silver.Filter `json:"filter"`
	Recall   bool          `json:"recall"`
	DevShare float64       `json:"dev_share"`
	Train    splitStats    `json:"train"`
	Dev      splitStats    `json:"dev"`
	Dropped  dropStats     `json:"dropped"`
	Files    []string      `json:"files"`
}

type splitStats struct {
	Documents int `json:"documents"`
	Sentences int `json:"sentences"`
	Mentions  int `json:"mentions"`
}

type dropStats struct {
	Mentions     int `json:"mentions"`      // filtered out
	Failed       int `json:"failed"`        // documents a stage failed on
	FailedShards int `json:"failed_shards"` // shards never annotated
}

func exportCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("export", exportHelp, env)
	var f exportFlags
	f.register(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := make(map[string]bool)
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case f.run == "":
		return usageError(errors.New("--run is required"))
	case f.out == "":
		return usageError(errors.New("--out is required"))
	case f.devShare < 0 || f.devShare > 1:
		return usageError(fmt.Errorf("--dev-share %v: want 0 to 1", f.devShare))
	case f.recall && (set["min-score"] || set["min-votes"]):
		return usageError(errors.New("--recall keeps every mention: drop --min-score and --min-votes"))
	}
	formats, err := f.formats()
	if err != nil {
		return usageError(err)
	}
	filter := silver.Filter{MinScore: f.minScore, MinVotes: f.minVotes, SeedFree: f.seedFree}
	if f.recall {
		filter.MinScore, filter.MinVotes = 0, 1
	}
	store, err := blob.New(ctx, blob.Options{GCSEndpoint: f.gcs})
	if err != nil {
		return err
	}
	defer store.Close()
	out, err := blob.Normalize(f.out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	r, err := openRun(ctx, store, f.run)
	if err != nil {
		return err
	}
	st, err := export(ctx, store, r, out, formats, filter, f.recall, f.devShare)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "run %s: %d train and %d dev documents, %d and %d mentions (%d mentions filtered out, %d documents with failures left out)\n",
		st.RunID, st.Train.Documents, st.Dev.Documents, st.Train.Mentions, st.Dev.Mentions, st.Dropped.Mentions, st.Dropped.Failed)
	for _, name := range st.Files {
		fmt.Fprintf(env.Stdout, "  %s\n", blob.Join(out, name))
	}
	return nil
}

// export writes the formats of run r under out, reading the run's documents
// once.
func export(ctx context.Context, store blob.Store, r *runFolder, out string, formats map[string]bool,
	filter silver.Filter, recall bool, devShare float64) (exportStats, error) {
	st := exportStats{RunID: r.run.ID, Filter: filter, Recall: recall, DevShare: devShare,
		Dropped: dropStats{FailedShards: len(r.sum.FailedShards)}}
	kept := make(map[string][]pipeline.Mention, len(r.mentions))
	for id, ms := range r.mentions {
		for _, m := range ms {
			if filter.Keep(m) {
				kept[id] = append(kept[id], m)
			} else {
				st.Dropped.Mentions++
			}
		}
	}
	labels := r.labels()
	lm := silver.NewLabelMap(labels)

	// One file per format and split; index 0 is train, 1 is dev.
	var names []string
	for _, fm := range []string{"bio", "jsonl", "parquet"} {
		if formats[fm] {
			names = append(names, "train."+fm, "dev."+fm)
		}
	}
	uris := make([]string, len(names))
	for i, n := range names {
		uris[i] = blob.Join(out, n)
	}
	var graph *kg.Builder
	if formats["neo4j"] {
		graph = kg.NewBuilder()
	}
	err := replaceAll(ctx, store, uris, func(ws []io.Writer) error {
		var bio, jsonl [2]*bufio.Writer
		var pq [2]*table.Writer[table.Tagged]
		k := 0
		for _, fm := range []string{"bio", "jsonl", "parquet"} {
			if !formats[fm] {
				continue
			}
			for split := range 2 {
				switch fm {
				case "bio":
					bio[split] = bufio.NewWriter(ws[k])
				case "jsonl":
					jsonl[split] = bufio.NewWriter(ws[k])
				case "parquet":
					pq[split] = table.NewTaggedWriter(ws[k], lm.Tags())
				}
				k++
			}
		}
		err := r.eachDoc(ctx, func(d pipeline.Document) error {
			if r.failed[d.ID] && !recall {
				st.Dropped.Failed++
				return nil
			}
			ms := kept[d.ID]
			split, ss := 0, &st.Train
			if silver.Dev(d.ID, devShare) {
				split, ss = 1, &st.Dev
			}
			ss.Documents++
			ss.Mentions += len(ms)
			if graph != nil {
				graph.Add(d, ms)
			}
			if jsonl[split] != nil {
				if err := silver.WriteJSONL(jsonl[split], d, ms); err != nil {
					return err
				}
			}
			if bio[split] == nil && pq[split] == nil {
				return nil
			}
			sents := silver.Sentences(d, ms)
			ss.Sentences += len(sents)
			if bio[split] != nil {
				if err := silver.WriteBIO(bio[split], sents); err != nil {
					return err
				}
			}
			if pq[split] != nil {
				rows := make([]table.Tagged, len(sents))
				for i, s := range sents {
					ids, err := lm.IDs(s.Tags)
					if err != nil {
						return fmt.Errorf("document %s: %w", d.ID, err)
					}
					rows[i] = table.Tagged{ID: s.ID, Tokens: s.Tokens, Tags: ids}
				}
				return pq[split].Write(rows)
			}
			return nil
		})
		for _, w := range append(bio[:], jsonl[:]...) {
			if w != nil && err == nil {
				err = w.Flush()
			}
		}
		for _, w := range pq {
			if w != nil {
				if cerr := w.Close(); err == nil {
					err = cerr
				}
			}
		}
		return err
	})
	if err != nil {
		return st, err
	}
	st.Files = names
	write := func(name string, fn func(io.Writer) error) error {
		if err := store.Replace(ctx, blob.Join(out, name), fn); err != nil {
			return fmt.Errorf("write %s: %w", blob.Join(out, name), err)
		}
		st.Files = append(st.Files, name)
		return nil
	}
	if formats["parquet"] {
		if err := write("label_map.json", func(w io.Writer) error { return runs.WriteJSON(w, lm) }); err != nil {
			return st, err
		}
	}
	if graph != nil {
		g := graph.Graph()
		if err := write("entities.csv", func(w io.Writer) error { return kg.WriteNeo4jNodes(w, g.Entities) }); err != nil {
			return st, err
		}
		if err := write("cooccurs.csv", func(w io.Writer) error { return kg.WriteNeo4jRelationships(w, g.Edges) }); err != nil {
			return st, err
		}
	}
	st.Files = append(st.Files, "export.json")
	if err := store.Replace(ctx, blob.Join(out, "export.json"), func(w io.Writer) error { return runs.WriteJSON(w, st) }); err != nil {
		return st, fmt.Errorf("write %s: %w", blob.Join(out, "export.json"), err)
	}
	return st, nil
}

// replaceAll writes several objects in one pass: write gets one writer per
// uri, each streaming into store.Replace of that uri. Each object is
// replaced atomically; if write fails, none of them is.
func replaceAll(ctx context.Context, store blob.Store, uris []string, write func([]io.Writer) error) error {
	ws := make([]io.Writer, len(uris))
	pws := make([]*io.PipeWriter, len(uris))
	errs := make([]chan error, len(uris))
	for i, uri := range uris {
		pr, pw := io.Pipe()
		ws[i], pws[i], errs[i] = pw, pw, make(chan error, 1)
		go func() {
			err := store.Replace(ctx, uri, func(w io.Writer) error {
				_, err := io.Copy(w, pr)
				return err
			})
			if err != nil {
				err = fmt.Errorf("write %s: %w", uri, err)
			}
			// Unblocks the writer if the object failed before reading all.
			pr.CloseWithError(err)
			errs[i] <- err
		}()
	}
	err := write(ws)
	for _, pw := range pws {
		if err != nil {
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
	}
	for _, c := range errs {
		if e := <-c; err == nil {
			err = e
		}
	}
	return err
}

// runFolder is a finished run as export and review read it: its summary,
// its mentions by document and where its documents are.
type runFolder struct {
	store    blob.Store
	run      activities.Run
	sum      activities.Summary
	schema   *pipeline.Schema              // nil if the run's copy does not parse
	mentions map[string][]pipeline.Mention // by document id
	failed   map[string]bool               // documents a stage failed on
}

// openRun reads a finished run's summary, mentions and failures.
func openRun(ctx context.Context, store blob.Store, uriOrPath string) (*runFolder, error) {
	uri, err := blob.Normalize(strings.TrimRight(uriOrPath, "/"))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", uriOrPath, err)
	}
	r := &runFolder{store: store, run: activities.Run{URI: uri}, mentions: make(map[string][]pipeline.Mention),
		failed: make(map[string]bool)}
	data, err := blob.ReadAll(ctx, store, runs.Dir(r.run).Summary())
	if blob.IsNotExist(err) {
		return nil, fmt.Errorf("run %s: no run.json: not a run folder, or the run has not finished", uri)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", runs.Dir(r.run).Summary(), err)
	}
	if err := json.Unmarshal(data, &r.sum); err != nil {
		return nil, fmt.Errorf("read %s: %w", runs.Dir(r.run).Summary(), err)
	}
	r.run.ID = r.sum.RunID
	if data, err := blob.ReadAll(ctx, store, runs.Dir(r.run).Schema()); err == nil {
		r.schema, _ = pipeline.ParseSchema(data) // labels come from the mentions then
	}
	rows, err := runs.Store{Store: store}.MentionsIn(ctx, runs.Dir(r.run).MentionsDir())
	if err != nil {
		return nil, err
	}
	for _, m := range rows {
		r.mentions[m.DocID] = append(r.mentions[m.DocID], pipeline.Mention{
			DocID: m.DocID, Start: int(m.Start), End: int(m.End), Text: m.Text,
			Archetype: pipeline.Archetype(m.Archetype), Label: m.Label, Score: m.Score, Extractors: m.Extractors,
		})
	}
	stages := blob.Join(r.run.URI, "stages") + "/"
	objs, err := store.List(ctx, stages)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", stages, err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(path.Base(o.URI), "failures-") {
			continue
		}
		fails, err := runs.ReadTable(ctx, store, o.URI, table.ReadRejects)
		if err != nil {
			return nil, err
		}
		for _, f := range fails {
			r.failed[f.Object] = true
		}
	}
	return r, nil
}

// labels are the schema's labels, in its order, then any other label of
// the mentions, sorted.
func (r *runFolder) labels() []string {
	var out []string
	if r.schema != nil {
		for _, l := range r.schema.Labels {
			out = append(out, l.Name)
		}
	}
	var extra []string
	for _, ms := range r.mentions {
		for _, m := range ms {
			if !slices.Contains(out, m.Label) && !slices.Contains(extra, m.Label) {
				extra = append(extra, m.Label)
			}
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// eachDoc calls fn with each document of the run, shard by shard, leaving
// out the shards that failed for good.
func (r *runFolder) eachDoc(ctx context.Context, fn func(pipeline.Document) error) error {
	failed := make(map[int]bool)
	for _, f := range r.sum.FailedShards {
		failed[f.Shard] = true
	}
	for shard := range r.sum.Shards {
		if failed[shard] {
			continue
		}
		docs, err := runs.ReadTable(ctx, r.store, runs.Dir(r.run).Documents(shard), table.ReadDocuments)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if err := fn(pipeline.Document{ID: d.DocID, Text: d.Text, Source: d.Source}); err != nil {
				return err
			}
		}
	}
	return nil
}
