package export

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/silver"
)

// splits writes the documents of the train (0) and dev (1) splits in each
// split format asked for; a nil writer is a format not asked for.
type splits struct {
	bio, jsonl [2]*bufio.Writer
	pq         [2]*table.Writer[table.Tagged]
	lm         *silver.LabelMap
}

// newSplits takes one writer per file of splitFiles(formats), in order.
func newSplits(ws []io.Writer, formats map[string]bool, lm *silver.LabelMap) *splits {
	s := &splits{lm: lm}
	k := 0
	for _, fm := range splitFormats {
		if !formats[fm] {
			continue
		}
		for split := range 2 {
			switch fm {
			case "bio":
				s.bio[split] = bufio.NewWriter(ws[k])
			case "jsonl":
				s.jsonl[split] = bufio.NewWriter(ws[k])
			case "parquet":
				s.pq[split] = table.NewTaggedWriter(ws[k], lm.Tags())
			}
			k++
		}
	}
	return s
}

// write writes document d with its mentions ms to a split, counting them
// in ss.
func (s *splits) write(split int, d pipeline.Document, ms []pipeline.Mention, ss *Split) error {
	ss.Documents++
	ss.Mentions += len(ms)
	if s.jsonl[split] != nil {
		if err := silver.WriteJSONL(s.jsonl[split], d, ms); err != nil {
			return err
		}
	}
	if s.bio[split] == nil && s.pq[split] == nil {
		return nil
	}
	sents := silver.Sentences(d, ms)
	ss.Sentences += len(sents)
	if s.bio[split] != nil {
		if err := silver.WriteBIO(s.bio[split], sents); err != nil {
			return err
		}
	}
	if s.pq[split] == nil {
		return nil
	}
	rows := make([]table.Tagged, len(sents))
	for i, sent := range sents {
		ids, err := s.lm.IDs(sent.Tags)
		if err != nil {
			return fmt.Errorf("document %s: %w", d.ID, err)
		}
		rows[i] = table.Tagged{ID: sent.ID, Tokens: sent.Tokens, Tags: ids}
	}
	return s.pq[split].Write(rows)
}

// close flushes the text files unless err, the writing's error, is set,
// and closes the Parquet files; it returns the first error.
func (s *splits) close(err error) error {
	for _, w := range append(s.bio[:], s.jsonl[:]...) {
		if w != nil && err == nil {
			err = w.Flush()
		}
	}
	for _, w := range s.pq {
		if w != nil {
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	}
	return err
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
