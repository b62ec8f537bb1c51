package table

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/zeroner/zeroner/io/blob"
)

// scanBufferBytes is how much of a column chunk a scan reads ahead (more
// when a page is larger). Without a bound Arrow reads whole column chunks,
// which for a row group of vectors is tens of MiB.
const scanBufferBytes = 256 << 10

// ScanMentions reads a mentions table in order, at most batch rows at a
// time, and calls fn with each batch: memory is bounded by the batch, not
// the table. fn's error stops the scan and is returned as it is.
func ScanMentions(r blob.ReaderAt, batch int, fn func([]Mention) error) error {
	return scan(mentionCodec, r, batch, fn)
}

// ScanVectors is ScanMentions for a vector table: fn gets each batch of
// rows and their dimension. Each batch's vectors share one backing array.
func ScanVectors(r blob.ReaderAt, batch int, fn func(rows []Vector, dim int) error) error {
	vec, dim, err := vectorColumn(r)
	if err != nil {
		return fmt.Errorf("read vectors table: %w", err)
	}
	return scan(vectorCodec(vec), r, batch, func(rows []Vector) error {
		for i, row := range rows {
			if row.Vector == nil {
				return fmt.Errorf("read vectors table: row %s has a null vector", row.MentionID)
			}
			if dim == 0 {
				dim = len(row.Vector)
			}
			if len(row.Vector) != dim {
				return fmt.Errorf("read vectors table: row %d (%s) has %d values, want %d", i, row.MentionID, len(row.Vector), dim)
			}
		}
		return fn(rows, dim)
	})
}

// errStop carries fn's error out of scan unwrapped.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

func scan[T any](c *codec[T], r sizedReaderAt, batch int, fn func([]T) error) (err error) {
	defer func() {
		// Arrow's decoders can panic on corrupt input; report it as an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s table: corrupt parquet: %v", c.name, p)
		}
	}()
	if err := scanRows(c, r, max(batch, 1), fn); err != nil {
		if stop := (errStop{}); errors.As(err, &stop) {
			return stop.err
		}
		return fmt.Errorf("read %s table: %w", c.name, err)
	}
	return nil
}

func scanRows[T any](c *codec[T], r sizedReaderAt, batch int, fn func([]T) error) error {
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled, props.BufferSize = true, scanBufferBytes
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, r.Size()), file.WithReadProps(props))
	if err != nil {
		return fmt.Errorf("not a parquet file: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batch)}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	leaves, err := checkSchema(fr, c.schema, c.optional)
	if err != nil {
		return err
	}
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		// A row group at a time, checking its row count, as read does.
		want := pf.MetaData().RowGroup(rg).NumRows()
		n, err := scanRowGroup(c, fr, rg, leaves, fn)
		if err != nil {
			return fmt.Errorf("row group %d: %w", rg, err)
		}
		if n != want {
			return fmt.Errorf("row group %d: read %d of %d rows", rg, n, want)
		}
	}
	return nil
}

// scanRowGroup calls fn with each record batch of row group rg and returns
// the rows read.
func scanRowGroup[T any](c *codec[T], fr *pqarrow.FileReader, rg int, leaves []int, fn func([]T) error) (int64, error) {
	rr, err := fr.GetRecordReader(context.Background(), leaves, []int{rg})
	if err != nil {
		return 0, err
	}
	defer rr.Release()
	var n int64
	cols := make([]arrow.Array, c.schema.NumFields())
	for rr.Next() {
		rec := rr.Record()
		var nulls []arrow.Array
		for i, f := range c.schema.Fields() {
			idx := rec.Schema().FieldIndices(f.Name)
			if len(idx) == 0 && c.optional[f.Name] {
				cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, int(rec.NumRows()))
				nulls = append(nulls, cols[i])
				continue
			}
			if len(idx) == 0 {
				return n, fmt.Errorf("missing column %q", f.Name)
			}
			cols[i] = rec.Column(idx[0])
			if int64(cols[i].Len()) != rec.NumRows() {
				return n, fmt.Errorf("column %q has %d rows, want %d", f.Name, cols[i].Len(), rec.NumRows())
			}
		}
		// A new slice per batch: the rows are fn's to keep.
		rows := c.decode(cols, make([]T, 0, rec.NumRows()))
		for _, a := range nulls {
			a.Release()
		}
		n += int64(len(rows))
		if err := fn(rows); err != nil {
			return n, errStop{err}
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return n, err
	}
	return n, nil
}

// ScanVectorMeta is ScanVectors without the vectors, which it does not
// read: what a search needs of the rows it found.
func ScanVectorMeta(r blob.ReaderAt, batch int, fn func(rows []Vector) error) error {
	if _, _, err := vectorColumn(r); err != nil {
		return fmt.Errorf("read vectors table: %w", err)
	}
	return scan(metaCodec, r, batch, fn)
}
