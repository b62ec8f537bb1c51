package table

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/zeroner/zeroner/io/blob"
)

// Scanning limits: a Scanner holds one batch of rows and a read buffer per
// column, so that merging dozens of sorted files at once holds a batch of
// each rather than their whole row groups. Without a bound Arrow reads whole
// column chunks, which for a row group of vectors is tens of MiB; the
// buffer grows for a larger page.
const (
	scanRows   = 4 << 10
	scanBuffer = 128 << 10
	// A merge holds up to 64 scanners at once (the knowledge graph's
	// spilled runs): smaller batches and buffers each.
	mergeRows   = 1 << 10
	mergeBuffer = 64 << 10
)

// Scanner streams a table's rows in batches; each batch is a new slice,
// the caller's to keep. It is not safe for concurrent use.
type Scanner[T any] struct {
	c      *codec[T]
	pf     *file.Reader
	fr     *pqarrow.FileReader
	leaves []int
	rg     int                  // the next row group to open
	rr     pqarrow.RecordReader // the open row group's reader, or nil
	want   int64                // rows of the open row group
	got    int64                // and those read so far
}

// newScanner returns a Scanner of c's table in r, batch rows at a time (0:
// scanRows), reading ahead buffer bytes of each column (0: scanBuffer).
func newScanner[T any](c *codec[T], r sizedReaderAt, batch, buffer int) (*Scanner[T], error) {
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = int64(cmp.Or(buffer, scanBuffer))
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, r.Size()), file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("read %s table: not a parquet file: %w", c.name, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(cmp.Or(batch, scanRows))}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read %s table: %w", c.name, err)
	}
	leaves, err := checkSchema(fr, c.schema, c.optional)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read %s table: %w", c.name, err)
	}
	return &Scanner[T]{c: c, pf: pf, fr: fr, leaves: leaves}, nil
}

// Next returns the next batch of rows, or io.EOF after the last.
func (s *Scanner[T]) Next() (rows []T, err error) {
	defer func() {
		// Arrow's decoders can panic on corrupt input; report it as an error.
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("read %s table: corrupt parquet: %v", s.c.name, p)
		}
	}()
	for {
		if s.rr == nil {
			if s.rg >= s.pf.NumRowGroups() {
				return nil, io.EOF
			}
			if s.rr, err = s.fr.GetRecordReader(context.Background(), s.leaves, []int{s.rg}); err != nil {
				return nil, fmt.Errorf("read %s table: row group %d: %w", s.c.name, s.rg, err)
			}
			s.want, s.got = s.pf.MetaData().RowGroup(s.rg).NumRows(), 0
		}
		if s.rr.Next() {
			rec := s.rr.Record()
			if rows, err = decodeRecord(s.c, rec, make([]T, 0, rec.NumRows())); err != nil {
				return nil, fmt.Errorf("read %s table: row group %d: %w", s.c.name, s.rg, err)
			}
			s.got += int64(len(rows))
			return rows, nil
		}
		if err := s.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s table: row group %d: %w", s.c.name, s.rg, err)
		}
		// As readRows does: a corrupt page can end a column chunk early.
		if s.got != s.want {
			return nil, fmt.Errorf("read %s table: row group %d: read %d of %d rows", s.c.name, s.rg, s.got, s.want)
		}
		s.rr.Release()
		s.rr = nil
		s.rg++
	}
}

// Close releases the scanner; it does not close the blob.ReaderAt.
func (s *Scanner[T]) Close() error {
	if s.rr != nil {
		s.rr.Release()
		s.rr = nil
	}
	return s.pf.Close()
}

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

// scan calls fn with each batch of c's table in r; fn's error is returned
// as it is.
func scan[T any](c *codec[T], r sizedReaderAt, batch int, fn func([]T) error) error {
	sc, err := newScanner(c, r, max(batch, 1), 0)
	if err != nil {
		return err
	}
	defer sc.Close()
	for {
		rows, err := sc.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
}

// ScanVectorMeta is ScanVectors without the vectors, which it does not
// read: what a search needs of the rows it found.
func ScanVectorMeta(r blob.ReaderAt, batch int, fn func(rows []Vector) error) error {
	if _, _, err := vectorColumn(r); err != nil {
		return fmt.Errorf("read vectors table: %w", err)
	}
	return scan(metaCodec, r, batch, fn)
}
