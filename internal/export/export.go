// Package export writes a finished run as silver training data (BIO,
// JSONL, Parquet with Hugging Face features) and knowledge-graph files for
// Neo4j, split into train and dev by a hash of each document's id.
package export

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
	"github.com/zeroner/zeroner/pipeline/silver"
)

// Stats is export.json: the export's settings and counts.
type Stats struct {
	RunID    string        `json:"run_id"`
	Filter   silver.Filter `json:"filter"`
	Recall   bool          `json:"recall"`
	DevShare float64       `json:"dev_share"`
	Train    SplitStats    `json:"train"`
	Dev      SplitStats    `json:"dev"`
	Dropped  DropStats     `json:"dropped"`
	Files    []string      `json:"files"`
}

// SplitStats counts what one split holds.
type SplitStats struct {
	Documents int `json:"documents"`
	Sentences int `json:"sentences"`
	Mentions  int `json:"mentions"`
}

// DropStats counts what the export left out.
type DropStats struct {
	Mentions     int `json:"mentions"`      // filtered out
	Failed       int `json:"failed"`        // documents a stage failed on
	FailedShards int `json:"failed_shards"` // shards never annotated
}

// Formats are the formats an export can write.
var Formats = []string{"bio", "jsonl", "parquet", "neo4j"}

// Options say what an export writes.
type Options struct {
	Formats  map[string]bool // of Formats
	Filter   silver.Filter   // which mentions are kept
	Recall   bool            // keep the documents a stage failed on too
	DevShare float64         // share of documents in dev
}

// Write writes the formats of run r under out, reading the run's documents
// once.
func Write(ctx context.Context, store blob.Store, r *runs.Finished, out string, opt Options) (Stats, error) {
	st := Stats{RunID: r.Run.ID, Filter: opt.Filter, Recall: opt.Recall, DevShare: opt.DevShare,
		Dropped: DropStats{FailedShards: len(r.Summary.FailedShards)}}
	kept := make(map[string][]pipeline.Mention, len(r.Mentions))
	for id, ms := range r.Mentions {
		for _, m := range ms {
			if opt.Filter.Keep(m) {
				kept[id] = append(kept[id], m)
			} else {
				st.Dropped.Mentions++
			}
		}
	}
	lm := silver.NewLabelMap(r.Labels())
	// One file per format and split.
	var names []string
	for _, fm := range []string{"bio", "jsonl", "parquet"} {
		if opt.Formats[fm] {
			names = append(names, "train."+fm, "dev."+fm)
		}
	}
	uris := make([]string, len(names))
	for i, n := range names {
		uris[i] = blob.Join(out, n)
	}
	var graph *kg.Builder
	if opt.Formats["neo4j"] {
		graph = kg.NewBuilder()
	}
	err := replaceAll(ctx, store, uris, func(ws []io.Writer) error {
		sw := newSplitWriters(ws, opt.Formats, lm)
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
			ss.Documents++
			ss.Mentions += len(ms)
			if graph != nil {
				graph.Add(d, ms)
			}
			n, err := sw.write(split, d, ms)
			ss.Sentences += n
			return err
		})
		return sw.close(err)
	})
	if err != nil {
		return st, err
	}
	st.Files = names
	if err := writeExtras(ctx, store, out, &st, lm, graph); err != nil {
		return st, err
	}
	st.Files = append(st.Files, "export.json")
	if err := store.Replace(ctx, blob.Join(out, "export.json"), func(w io.Writer) error { return runs.WriteJSON(w, st) }); err != nil {
		return st, fmt.Errorf("write %s: %w", blob.Join(out, "export.json"), err)
	}
	return st, nil
}

// splitWriters are the writers of each format, by split (0 train, 1 dev);
// nil where the format is not exported.
type splitWriters struct {
	bio, jsonl [2]*bufio.Writer
	pq         [2]*table.Writer[table.Tagged]
	lm         *silver.LabelMap
}

// newSplitWriters wraps ws, two per format in the order bio, jsonl,
// parquet (train then dev), for the formats exported.
func newSplitWriters(ws []io.Writer, formats map[string]bool, lm *silver.LabelMap) *splitWriters {
	sw := &splitWriters{lm: lm}
	k := 0
	for _, fm := range []string{"bio", "jsonl", "parquet"} {
		if !formats[fm] {
			continue
		}
		for split := range 2 {
			switch fm {
			case "bio":
				sw.bio[split] = bufio.NewWriter(ws[k])
			case "jsonl":
				sw.jsonl[split] = bufio.NewWriter(ws[k])
			case "parquet":
				sw.pq[split] = table.NewTaggedWriter(ws[k], lm.Tags())
			}
			k++
		}
	}
	return sw
}

// write writes a document and its mentions to split's files and returns
// how many sentences it wrote (0 when no sentence-based format is
// exported).
func (sw *splitWriters) write(split int, d pipeline.Document, ms []pipeline.Mention) (int, error) {
	if sw.jsonl[split] != nil {
		if err := silver.WriteJSONL(sw.jsonl[split], d, ms); err != nil {
			return 0, err
		}
	}
	if sw.bio[split] == nil && sw.pq[split] == nil {
		return 0, nil
	}
	sents := silver.Sentences(d, ms)
	if sw.bio[split] != nil {
		if err := silver.WriteBIO(sw.bio[split], sents); err != nil {
			return len(sents), err
		}
	}
	if sw.pq[split] != nil {
		rows := make([]table.Tagged, len(sents))
		for i, s := range sents {
			ids, err := sw.lm.IDs(s.Tags)
			if err != nil {
				return len(sents), fmt.Errorf("document %s: %w", d.ID, err)
			}
			rows[i] = table.Tagged{ID: s.ID, Tokens: s.Tokens, Tags: ids}
		}
		return len(sents), sw.pq[split].Write(rows)
	}
	return len(sents), nil
}

// close flushes and closes the writers; err is the writing's error, kept
// first.
func (sw *splitWriters) close(err error) error {
	for _, w := range append(sw.bio[:], sw.jsonl[:]...) {
		if w != nil && err == nil {
			err = w.Flush()
		}
	}
	for _, w := range sw.pq {
		if w != nil {
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	}
	return err
}

// writeExtras writes the label map (with Parquet) and the Neo4j files (with
// a graph), adding them to st.Files.
func writeExtras(ctx context.Context, store blob.Store, out string, st *Stats, lm *silver.LabelMap, graph *kg.Builder) error {
	write := func(name string, fn func(io.Writer) error) error {
		if err := store.Replace(ctx, blob.Join(out, name), fn); err != nil {
			return fmt.Errorf("write %s: %w", blob.Join(out, name), err)
		}
		st.Files = append(st.Files, name)
		return nil
	}
	if slices.Contains(st.Files, "train.parquet") {
		if err := write("label_map.json", func(w io.Writer) error { return runs.WriteJSON(w, lm) }); err != nil {
			return err
		}
	}
	if graph != nil {
		g := graph.Graph()
		if err := write("entities.csv", func(w io.Writer) error { return kg.WriteNeo4jNodes(w, g.Entities) }); err != nil {
			return err
		}
		if err := write("cooccurs.csv", func(w io.Writer) error { return kg.WriteNeo4jRelationships(w, g.Edges) }); err != nil {
			return err
		}
	}
	return nil
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
