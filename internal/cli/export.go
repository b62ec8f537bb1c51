package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/export"
	"github.com/zeroner/zeroner/io/blob"
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
	r, err := runs.OpenFinished(ctx, store, f.run)
	if err != nil {
		return err
	}
	st, err := export.Write(ctx, store, r, out, export.Options{Formats: formats, Filter: filter, Recall: f.recall, DevShare: f.devShare})
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
