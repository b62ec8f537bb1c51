package corpus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/zeroner/zeroner/io/blob"
)

// parquetBatch is the number of rows decoded at a time; documents can be
// large, so it is kept modest.
const parquetBatch = 1024

// readParquet reads a text column and an optional id column, one document
// per row.
func readParquet(ctx context.Context, s blob.Store, uri string, opt Options, emit func(Doc) error, reject func(Reject)) error {
	ra, err := s.OpenAt(ctx, uri)
	if err != nil {
		return fmt.Errorf("read %s: %w", uri, err)
	}
	defer ra.Close()
	rejectObj := func(reason string) { reject(Reject{Object: uri, Reason: reason}) }
	if ra.Size() == 0 {
		rejectObj("empty object")
		return nil
	}
	err = readRows(ctx, ra, uri, opt, emit, reject)
	var ee emitError
	var bad badObject
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return fmt.Errorf("read %s: %w", uri, ee.err)
	case errors.As(err, &bad):
		rejectObj(string(bad))
		return nil
	}
	return fmt.Errorf("read %s: %w", uri, err)
}

// badObject is why a whole object is rejected (no rows, no usable text
// column) rather than failed.
type badObject string

func (b badObject) Error() string { return string(b) }

func readRows(ctx context.Context, ra blob.ReaderAt, uri string, opt Options, emit func(Doc) error, reject func(Reject)) error {
	pf, fr, sc, err := openParquet(ra)
	if err != nil {
		return err
	}
	defer pf.Close()
	if pf.NumRows() == 0 {
		return badObject("empty object")
	}
	col := func(name string, ok func(arrow.DataType) bool, want string) (int, error) {
		idx := sc.FieldIndices(name)
		if len(idx) == 0 {
			return -1, nil
		}
		f := fr.Manifest.Fields[idx[0]]
		if !f.IsLeaf() || !ok(f.Field.Type) {
			return -1, badObject(fmt.Sprintf("column %q has type %s, want %s", name, f.Field.Type, want))
		}
		return f.ColIndex, nil
	}
	textLeaf, err := col(opt.TextField, isStringType, "string")
	if err != nil {
		return err
	}
	if textLeaf < 0 {
		return badObject(fmt.Sprintf("missing text column %q", opt.TextField))
	}
	leaves := []int{textLeaf}
	idLeaf := -1
	if opt.IDField != opt.TextField {
		if idLeaf, err = col(opt.IDField, isIDType, "string or integer"); err != nil {
			return err
		}
		if idLeaf >= 0 {
			leaves = append(leaves, idLeaf)
		}
	}

	// Row group by row group, checking the row count before emitting:
	// Arrow v17 silently skips the rest of a column chunk after a corrupt
	// page header, which would shift a column against the others.
	row := 0
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		if err := ctx.Err(); err != nil {
			return emitError{err}
		}
		rows, err := readRowGroup(ctx, fr, rg, leaves, opt, idLeaf >= 0)
		if err != nil {
			return fmt.Errorf("corrupt parquet after row %d: row group %d: %w", row, rg, err)
		}
		for _, r := range rows {
			row++
			if r.reason != "" {
				reject(Reject{Object: uri, Line: row, Reason: r.reason})
				continue
			}
			d := r.doc
			if d.ID == "" {
				d.ID = fmt.Sprintf("%s#L%d", uri, row)
			}
			d.Source, d.Line = uri, row
			if err := emit(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// openParquet reads the footer and the Arrow schema.
func openParquet(ra blob.ReaderAt) (pf *file.Reader, fr *pqarrow.FileReader, sc *arrow.Schema, err error) {
	defer func() {
		if p := recover(); p != nil { // Arrow's decoders can panic on corrupt input
			if pf != nil {
				pf.Close()
			}
			pf, fr, sc, err = nil, nil, nil, fmt.Errorf("corrupt parquet: panic: %v", p)
		}
	}()
	pf, err = file.NewParquetReader(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("not a parquet file: %w", err)
	}
	fr, err = pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatch}, memory.DefaultAllocator)
	if err == nil {
		sc, err = fr.Schema()
	}
	if err != nil {
		pf.Close()
		return nil, nil, nil, fmt.Errorf("corrupt parquet: %w", err)
	}
	return pf, fr, sc, nil
}

// parquetRow is a document or the reason there is none.
type parquetRow struct {
	doc    Doc
	reason string
}

// readRowGroup decodes one row group and checks it has every row.
func readRowGroup(ctx context.Context, fr *pqarrow.FileReader, rg int, leaves []int, opt Options, hasID bool) (rows []parquetRow, err error) {
	defer func() {
		if p := recover(); p != nil { // Arrow's decoders can panic on corrupt input
			rows, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	want := fr.ParquetReader().MetaData().RowGroup(rg).NumRows()
	rr, err := fr.GetRecordReader(ctx, leaves, []int{rg})
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	rows = make([]parquetRow, 0, min(want, 64*parquetBatch)) // want is untrusted
	for rr.Next() {
		rec := rr.Record()
		texts := rec.Column(rec.Schema().FieldIndices(opt.TextField)[0])
		var ids arrow.Array
		if hasID {
			ids = rec.Column(rec.Schema().FieldIndices(opt.IDField)[0])
			if ids.Len() != texts.Len() {
				return nil, fmt.Errorf("columns of %d and %d rows", ids.Len(), texts.Len())
			}
		}
		for i := 0; i < texts.Len(); i++ {
			d, reason := parquetDoc(texts, ids, i, opt)
			rows = append(rows, parquetRow{d, reason})
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if int64(len(rows)) != want {
		return nil, fmt.Errorf("read %d of %d rows", len(rows), want)
	}
	return rows, nil
}

func parquetDoc(texts, ids arrow.Array, i int, opt Options) (Doc, string) {
	if texts.IsNull(i) {
		return Doc{}, "null text"
	}
	text := valueString(texts, i)
	if len(text) > opt.MaxDocBytes {
		return Doc{}, tooLargeReason(len(text), opt.MaxDocBytes)
	}
	if !utf8.ValidString(text) {
		return Doc{}, invalidUTF8Reason(invalidUTF8([]byte(text)))
	}
	if strings.TrimSpace(text) == "" {
		return Doc{}, "empty document"
	}
	d := Doc{Text: strings.Clone(text)} // Arrow's buffers are not ours to keep
	if ids != nil && ids.IsValid(i) {
		if isStringType(ids.DataType()) {
			id := valueString(ids, i)
			if !utf8.ValidString(id) {
				return Doc{}, "id has " + invalidUTF8Reason(invalidUTF8([]byte(id)))
			}
			d.ID = strings.Clone(id)
		} else {
			d.ID = ids.ValueStr(i) // an integer
		}
	}
	return d, ""
}

// valueString returns row i of a string or binary column, sharing Arrow's
// buffer where it can.
func valueString(a arrow.Array, i int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Binary:
		return string(a.Value(i))
	case *array.LargeBinary:
		return string(a.Value(i))
	case *array.Dictionary:
		return valueString(a.Dictionary(), a.GetValueIndex(i))
	}
	return ""
}

func isStringType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return true
	case arrow.DICTIONARY:
		return isStringType(t.(*arrow.DictionaryType).ValueType)
	}
	return false
}

func isIDType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return isStringType(t)
}
