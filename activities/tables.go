package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// readTable reads the whole Parquet table at uri with read. A table that
// does not decode is bad input: retrying cannot fix it.
func readTable[T any](ctx context.Context, s blob.Store, uri string, read func(blob.ReaderAt) ([]T, error)) ([]T, error) {
	r, err := s.OpenAt(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rows, err := read(r)
	if err != nil {
		return nil, badInput(fmt.Errorf("read %s: %w", uri, err))
	}
	return rows, nil
}

func (a *Activities) readDocuments(ctx context.Context, uri string) ([]table.Document, error) {
	return readTable(ctx, a.store, uri, table.ReadDocuments)
}

func (a *Activities) readMentions(ctx context.Context, uri string) ([]table.Mention, error) {
	return readTable(ctx, a.store, uri, table.ReadMentions)
}

func (a *Activities) readRejects(ctx context.Context, uri string) ([]table.Reject, error) {
	return readTable(ctx, a.store, uri, table.ReadRejects)
}

func (a *Activities) readUsage(ctx context.Context, uri string) ([]table.Usage, error) {
	return readTable(ctx, a.store, uri, table.ReadUsage)
}

// rowsTo returns a write function for blob.Store.Create or Replace that
// writes rows as one Parquet file.
func rowsTo[T any](newWriter func(io.Writer) *table.Writer[T], rows []T) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := newWriter(w)
		if err := tw.Write(rows); err != nil {
			return err
		}
		return tw.Close()
	}
}

func sumUsage(rows []table.Usage) pipeline.Usage {
	var u pipeline.Usage
	for _, r := range rows {
		u.Add(pipeline.Usage{Requests: r.Requests, CacheHits: r.CacheHits, PromptTokens: r.PromptTokens,
			CompletionTokens: r.CompletionTokens, CachedTokens: r.CachedTokens,
			BatchRequests: r.BatchRequests, BatchTokens: r.BatchTokens})
	}
	return u
}

// writeJSON atomically replaces the object at uri with v as indented JSON.
func (a *Activities) writeJSON(ctx context.Context, uri string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", uri, err)
	}
	return a.store.Replace(ctx, uri, blob.WriteBytes(append(data, '\n')))
}
