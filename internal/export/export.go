// Package export writes a finished run as silver training data (BIO, JSONL
// and Parquet files, split into train and dev) and as knowledge-graph files
// for Neo4j.
package export

import (
	"context"
	"fmt"
	"io"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
	"github.com/zeroner/zeroner/pipeline/silver"
)

// Options are what an export writes and which mentions and documents it
// keeps.
type Options struct {
	Formats  map[string]bool // of bio, jsonl, parquet and neo4j
	Filter   silver.Filter
	Recall   bool    // keep the documents a stage failed on
	DevShare float64 // of documents in the dev split
}

// Stats is export.json.
type Stats struct {
	RunID    string        `json:"run_id"`
	Filter   silver.Filter `json:"filter"`
	Recall   bool          `json:"recall"`
	DevShare float64       `json:"dev_share"`
	Train    Split         `json:"train"`
	Dev      Split         `json:"dev"`
	Dropped  Dropped       `json:"dropped"`
	Files    []string      `json:"files"`
}

// Split counts what a split holds.
type Split struct {
	Documents int `json:"documents"`
	Sentences int `json:"sentences"`
	Mentions  int `json:"mentions"`
}

// Dropped counts what the export left out.
type Dropped struct {
	Mentions     int `json:"mentions"`      // filtered out
	Failed       int `json:"failed"`        // documents a stage failed on
	FailedShards int `json:"failed_shards"` // shards never annotated
}

// Write writes the formats of run r under out, reading the run's documents
// once.
func Write(ctx context.Context, store blob.Store, r *runs.Finished, out string, opt Options) (Stats, error) {
	st := Stats{RunID: r.Run.ID, Filter: opt.Filter, Recall: opt.Recall, DevShare: opt.DevShare,
		Dropped: Dropped{FailedShards: len(r.Summary.FailedShards)}}
	kept := keep(r.Mentions, opt.Filter, &st.Dropped)
	lm := silver.NewLabelMap(r.Labels())
	names := splitFiles(opt.Formats)
	uris := make([]string, len(names))
	for i, n := range names {
		uris[i] = blob.Join(out, n)
	}
	var graph *kg.Builder
	if opt.Formats["neo4j"] {
		graph = kg.NewBuilder()
	}
	err := replaceAll(ctx, store, uris, func(ws []io.Writer) error {
		s := newSplits(ws, opt.Formats, lm)
		err := r.EachDoc(ctx, func(d pipeline.Document) error {
			if r.Failed[d.ID] && !opt.Recall {
				st.Dropped.Failed++
				return nil
			}
			ms := kept[d.ID]
			split, ss := 0, &st.Train
			if silver.Dev(d.ID, opt.DevShare) {
				split, ss = 1, &st.Dev
			}
			if graph != nil {
				graph.Add(d, ms)
			}
			return s.write(split, d, ms, ss)
		})
		return s.close(err)
	})
	if err != nil {
		return st, err
	}
	st.Files = names
	var labels *silver.LabelMap
	if opt.Formats["parquet"] {
		labels = lm
	}
	if err := writeSideFiles(ctx, store, out, labels, graph, &st); err != nil {
		return st, err
	}
	st.Files = append(st.Files, "export.json")
	if err := store.Replace(ctx, blob.Join(out, "export.json"), func(w io.Writer) error { return runs.WriteJSON(w, st) }); err != nil {
		return st, fmt.Errorf("write %s: %w", blob.Join(out, "export.json"), err)
	}
	return st, nil
}

// keep filters the mentions of each document, counting those dropped.
func keep(mentions map[string][]pipeline.Mention, filter silver.Filter, dropped *Dropped) map[string][]pipeline.Mention {
	kept := make(map[string][]pipeline.Mention, len(mentions))
	for id, ms := range mentions {
		for _, m := range ms {
			if filter.Keep(m) {
				kept[id] = append(kept[id], m)
			} else {
				dropped.Mentions++
			}
		}
	}
	return kept
}

// splitFormats are the formats written per split, in file order.
var splitFormats = [...]string{"bio", "jsonl", "parquet"}

// splitFiles names the files of the split formats asked for: per format,
// train then dev.
func splitFiles(formats map[string]bool) []string {
	var names []string
	for _, fm := range splitFormats {
		if formats[fm] {
			names = append(names, "train."+fm, "dev."+fm)
		}
	}
	return names
}

// writeSideFiles writes the label map of the Parquet files and the graph's
// Neo4j files, each unless nil, adding their names to st.Files.
func writeSideFiles(ctx context.Context, store blob.Store, out string, lm *silver.LabelMap, graph *kg.Builder, st *Stats) error {
	write := func(name string, fn func(io.Writer) error) error {
		if err := store.Replace(ctx, blob.Join(out, name), fn); err != nil {
			return fmt.Errorf("write %s: %w", blob.Join(out, name), err)
		}
		st.Files = append(st.Files, name)
		return nil
	}
	if lm != nil {
		if err := write("label_map.json", func(w io.Writer) error { return runs.WriteJSON(w, lm) }); err != nil {
			return err
		}
	}
	if graph == nil {
		return nil
	}
	g := graph.Graph()
	if err := write("entities.csv", func(w io.Writer) error { return kg.WriteNeo4jNodes(w, g.Entities) }); err != nil {
		return err
	}
	return write("cooccurs.csv", func(w io.Writer) error { return kg.WriteNeo4jRelationships(w, g.Edges) })
}
