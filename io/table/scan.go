package table

import (
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
// each rather than their whole row groups.
const (
	scanRows   = 4 << 10
	scanBuffer = 64 << 10
)

// Scanner streams a table's rows in batches. It is not safe for concurrent
// use.
type Scanner[T any] struct {
	c      *codec[T]
	pf     *file.Reader
	fr     *pqarrow.FileReader
	leaves []int
	rg     int                  // the next row group to open
	rr     pqarrow.RecordReader // the open row group's reader, or nil
	want   int64                // rows of the open row group
	got    int64                // and those read so far
	buf    []T
}

func newScanner[T any](c *codec[T], r blob.ReaderAt) (*Scanner[T], error) {
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = scanBuffer
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, r.Size()), file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("read %s table: not a parquet file: %w", c.name, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: scanRows}, memory.DefaultAllocator)
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

// Next returns the next batch of rows, valid until the next call, or
// io.EOF after the last.
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
			if s.buf, err = decodeRecord(s.c, rec, s.buf[:0]); err != nil {
				return nil, fmt.Errorf("read %s table: row group %d: %w", s.c.name, s.rg, err)
			}
			s.got += int64(len(s.buf))
			return s.buf, nil
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
