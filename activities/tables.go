package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

func (a *Activities) readDocuments(ctx context.Context, uri string) ([]table.Document, error) {
	r, err := a.store.OpenAt(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rows, err := table.ReadDocuments(r)
	if err != nil {
		return nil, badInput(fmt.Errorf("read %s: %w", uri, err))
	}
	return rows, nil
}

func (a *Activities) readMentions(ctx context.Context, uri string) ([]table.Mention, error) {
	r, err := a.store.OpenAt(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rows, err := table.ReadMentions(r)
	if err != nil {
		return nil, badInput(fmt.Errorf("read %s: %w", uri, err))
	}
	return rows, nil
}

func (a *Activities) readRejects(ctx context.Context, uri string) ([]table.Reject, error) {
	r, err := a.store.OpenAt(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rows, err := table.ReadRejects(r)
	if err != nil {
		return nil, badInput(fmt.Errorf("read %s: %w", uri, err))
	}
	return rows, nil
}

func (a *Activities) readUsage(ctx context.Context, uri string) ([]table.Usage, error) {
	r, err := a.store.OpenAt(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rows, err := table.ReadUsage(r)
	if err != nil {
		return nil, badInput(fmt.Errorf("read %s: %w", uri, err))
	}
	return rows, nil
}

func sumUsage(rows []table.Usage) pipeline.Usage {
	var u pipeline.Usage
	for _, r := range rows {
		u.Add(pipeline.Usage{Requests: r.Requests, CacheHits: r.CacheHits, PromptTokens: r.PromptTokens,
			CompletionTokens: r.CompletionTokens, CachedTokens: r.CachedTokens})
	}
	return u
}

func writeRejects(w io.Writer, rows []table.Reject) error {
	tw := table.NewRejectWriter(w)
	if err := tw.Write(rows); err != nil {
		return err
	}
	return tw.Close()
}

// writeJSON atomically replaces the object at uri with v as indented JSON.
func (a *Activities) writeJSON(ctx context.Context, uri string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", uri, err)
	}
	return a.store.Replace(ctx, uri, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(append(data, '\n')))
		return err
	})
}
