package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/retriever"
)

// Store reads and writes the tables and JSON files of an output folder.
type Store struct{ blob.Store }

// ReadTable reads the whole Parquet table at uri with read. A table that
// does not decode is bad input: retrying cannot fix it.
func ReadTable[T any](ctx context.Context, s blob.Store, uri string, read func(blob.ReaderAt) ([]T, error)) ([]T, error) {
	r, err := s.OpenAt(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rows, err := read(r)
	if err != nil {
		return nil, activities.BadInput(fmt.Errorf("read %s: %w", uri, err))
	}
	return rows, nil
}

// Documents reads a documents table.
func (s Store) Documents(ctx context.Context, uri string) ([]table.Document, error) {
	return ReadTable(ctx, s.Store, uri, table.ReadDocuments)
}

// Mentions reads a mentions table.
func (s Store) Mentions(ctx context.Context, uri string) ([]table.Mention, error) {
	return ReadTable(ctx, s.Store, uri, table.ReadMentions)
}

// Rejects reads a rejects or failures table.
func (s Store) Rejects(ctx context.Context, uri string) ([]table.Reject, error) {
	return ReadTable(ctx, s.Store, uri, table.ReadRejects)
}

// Usage reads a token ledger table.
func (s Store) Usage(ctx context.Context, uri string) ([]table.Usage, error) {
	return ReadTable(ctx, s.Store, uri, table.ReadUsage)
}

// Vectors reads a vectors table and its width.
func (s Store) Vectors(ctx context.Context, uri string) ([]table.Vector, int, error) {
	var dim int
	rows, err := ReadTable(ctx, s.Store, uri, func(r blob.ReaderAt) ([]table.Vector, error) {
		rows, d, err := table.ReadVectors(r)
		dim = d
		return rows, err
	})
	if err != nil {
		return nil, 0, err
	}
	return rows, dim, nil
}

// WriteVectors replaces the vectors table at uri with rows of width dim.
func (s Store) WriteVectors(ctx context.Context, uri string, dim int, rows []table.Vector) error {
	return s.Replace(ctx, uri, func(w io.Writer) error {
		vw := table.NewVectorWriter(w, dim)
		if err := vw.Write(rows); err != nil {
			return err
		}
		return vw.Close()
	})
}

// CountRows counts a Parquet file's rows from its footer; it fails with a
// not-exist error when the file does not exist.
func (s Store) CountRows(ctx context.Context, uri string) (int64, error) {
	r, err := s.OpenAt(ctx, uri)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n, err := table.NumRows(r)
	if err != nil {
		return 0, activities.BadInput(fmt.Errorf("read %s: %w", uri, err))
	}
	return n, nil
}

// Parts lists the Parquet files of a table's folder.
func (s Store) Parts(ctx context.Context, dir string) ([]string, error) {
	objs, err := s.List(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, o := range objs {
		if strings.HasSuffix(o.URI, ".parquet") {
			out = append(out, o.URI)
		}
	}
	return out, nil
}

// Rows returns a write function for blob.Store.Create or Replace that
// writes rows as one Parquet file.
func Rows[T any](newWriter func(io.Writer) *table.Writer[T], rows []T) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := newWriter(w)
		if err := tw.Write(rows); err != nil {
			return err
		}
		return tw.Close()
	}
}

// WriteJSON atomically replaces the object at uri with v as indented JSON.
func (s Store) WriteJSON(ctx context.Context, uri string, v any) error {
	var b bytes.Buffer
	if err := WriteJSON(&b, v); err != nil {
		return fmt.Errorf("encode %s: %w", uri, err)
	}
	return s.Replace(ctx, uri, blob.WriteBytes(b.Bytes()))
}

// ReadJSON decodes the JSON object at uri into v.
func (s Store) ReadJSON(ctx context.Context, uri string, v any) error {
	data, err := blob.ReadAll(ctx, s.Store, uri)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", uri, err)
	}
	return nil
}

// CreateOnce writes data to uri unless the object exists. Outputs are
// written once: a repeated activity finds them and leaves them be.
func (s Store) CreateOnce(ctx context.Context, uri string, data []byte) error {
	err := s.Create(ctx, uri, blob.WriteBytes(data))
	if err != nil && !errors.Is(err, blob.ErrExist) {
		return err
	}
	return nil
}

// Head reads a projection head file.
func (s Store) Head(ctx context.Context, uri string) (*retriever.Head, error) {
	data, err := blob.ReadAll(ctx, s.Store, uri)
	if err != nil {
		return nil, err
	}
	h, err := retriever.ReadHead(bytes.NewReader(data))
	if err != nil {
		return nil, activities.BadInput(fmt.Errorf("%s: %w", uri, err))
	}
	return h, nil
}
