// Package table reads and writes zeroner's Parquet tables (zstd-compressed)
// with Arrow v17 pqarrow.
//
// Each row type maps to one table. Column names and Arrow types:
//
// Document:
//
//	column     Arrow type
//	doc_id     utf8
//	text       utf8
//	source     utf8
//
// Mention (start and end are code point offsets into the document text,
// half-open):
//
//	column      Arrow type
//	run_id      utf8
//	doc_id      utf8
//	start       int64
//	end         int64
//	text        utf8
//	archetype   utf8
//	label       utf8
//	score       float64
//	extractors  list<utf8>
//
// Reject:
//
//	column   Arrow type
//	run_id   utf8
//	object   utf8
//	line     int64
//	reason   utf8
//
// Usage (the token ledger: one row per document and stage that called a
// model):
//
//	column             Arrow type
//	run_id             utf8
//	doc_id             utf8
//	stage              utf8
//	requests           int64
//	cache_hits         int64
//	prompt_tokens      int64
//	completion_tokens  int64
//	cached_tokens      int64
//
// Entity (a knowledge-graph node: the mentions of one label whose surface
// forms normalize alike; see pipeline/kg):
//
//	column     Arrow type
//	run_id     utf8
//	entity_id  utf8
//	name       utf8
//	label      utf8
//	archetype  utf8
//	mentions   int64
//	documents  int64
//
// Edge (two entities mentioned in the same sentence; source < target):
//
//	column    Arrow type
//	run_id    utf8
//	source    utf8
//	target    utf8
//	count     int64
//	examples  list<utf8>
//
// MentionEntity (a mention, keyed by doc_id, start and end, and its entity):
//
//	column     Arrow type
//	run_id     utf8
//	doc_id     utf8
//	start      int64
//	end        int64
//	entity_id  utf8
//
// Tagged (a sentence of silver training data, as Hugging Face
// token-classification trainers read it):
//
//	column    Arrow type
//	id        utf8
//	tokens    list<utf8>
//	ner_tags  list<int64> (nullable; Hugging Face ClassLabel names in the file metadata)
//
// Writers cut row groups at 1 Mi rows or about 64 MiB of compressed data
// (8 MiB for vector tables), whichever comes first, however rows are split
// across Write calls.
// Readers decode a row group at a time and check its row count, look
// columns up by name, ignore extra columns and fail on a missing
// column or one of another type. Nulls read as zero values; an empty or null
// extractors list reads as nil.
package table

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/zeroner/zeroner/io/blob"
)

// Document is one input document.
type Document struct {
	DocID, Text, Source string
}

// Mention is one extracted entity mention.
type Mention struct {
	RunID, DocID string
	Start, End   int64 // code point offsets into the document text, half-open
	Text         string
	Archetype    string
	Label        string
	Score        float64
	Extractors   []string
}

// Reject is one piece of input that could not be used.
type Reject struct {
	RunID  string `json:"run_id"`
	Object string `json:"object"`
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// Usage is one row of the token ledger: what one stage's model calls cost
// for one document.
type Usage struct {
	RunID, DocID, Stage string
	Requests, CacheHits int64
	PromptTokens        int64
	CompletionTokens    int64
	CachedTokens        int64
	BatchRequests       int64 // answers bought in batches
	BatchTokens         int64 // tokens of those answers
}

// Buffering limits. Every pqarrow WriteBuffered call appends to the current
// row group, so rows are batched in an Arrow builder first and row groups
// are cut by row count or buffered (compressed) bytes, whichever comes first.
const (
	batchRows     = 64 << 10
	batchBytes    = 16 << 20
	rowGroupRows  = 1 << 20
	rowGroupBytes = 64 << 20
	readBatchRows = 64 << 10
)

var (
	utf8Type   = arrow.BinaryTypes.String
	int64Type  = arrow.PrimitiveTypes.Int64
	floatType  = arrow.PrimitiveTypes.Float64
	stringList = arrow.ListOfNonNullable(arrow.BinaryTypes.String)
)

func field(name string, t arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: t}
}

// codec describes how one row type maps to Arrow columns.
type codec[T any] struct {
	name   string // table name for errors
	schema *arrow.Schema
	// add appends one row and returns its approximate size in bytes.
	add func(b *array.RecordBuilder, row T) int
	// decode appends the rows of cols (in schema order) to out.
	decode func(cols []arrow.Array, out []T) []T
	// optional are columns added after files were written without them:
	// such a file reads them as nulls (zeros).
	optional map[string]bool
}

var documentCodec = &codec[Document]{
	name: "documents",
	schema: arrow.NewSchema([]arrow.Field{
		field("doc_id", utf8Type),
		field("text", utf8Type),
		field("source", utf8Type),
	}, nil),
	add: func(b *array.RecordBuilder, r Document) int {
		b.Field(0).(*array.StringBuilder).Append(r.DocID)
		b.Field(1).(*array.StringBuilder).Append(r.Text)
		b.Field(2).(*array.StringBuilder).Append(r.Source)
		return len(r.DocID) + len(r.Text) + len(r.Source)
	},
	decode: func(cols []arrow.Array, out []Document) []Document {
		id, text, src := strs(cols[0]), strs(cols[1]), strs(cols[2])
		for i := range id {
			out = append(out, Document{DocID: id[i], Text: text[i], Source: src[i]})
		}
		return out
	},
}

var mentionCodec = &codec[Mention]{
	name: "mentions",
	schema: arrow.NewSchema([]arrow.Field{
		field("run_id", utf8Type),
		field("doc_id", utf8Type),
		field("start", int64Type),
		field("end", int64Type),
		field("text", utf8Type),
		field("archetype", utf8Type),
		field("label", utf8Type),
		field("score", floatType),
		field("extractors", stringList),
	}, nil),
	add: func(b *array.RecordBuilder, r Mention) int {
		b.Field(0).(*array.StringBuilder).Append(r.RunID)
		b.Field(1).(*array.StringBuilder).Append(r.DocID)
		b.Field(2).(*array.Int64Builder).Append(r.Start)
		b.Field(3).(*array.Int64Builder).Append(r.End)
		b.Field(4).(*array.StringBuilder).Append(r.Text)
		b.Field(5).(*array.StringBuilder).Append(r.Archetype)
		b.Field(6).(*array.StringBuilder).Append(r.Label)
		b.Field(7).(*array.Float64Builder).Append(r.Score)
		n := len(r.RunID) + len(r.DocID) + len(r.Text) + len(r.Archetype) + len(r.Label) + 24
		return n + appendStrings(b.Field(8).(*array.ListBuilder), r.Extractors)
	},
	decode: func(cols []arrow.Array, out []Mention) []Mention {
		run, doc := strs(cols[0]), strs(cols[1])
		start, end := int64s(cols[2]), int64s(cols[3])
		text, arch, label := strs(cols[4]), strs(cols[5]), strs(cols[6])
		score := float64s(cols[7])
		ext := lists(cols[8])
		for i := range run {
			out = append(out, Mention{
				RunID: run[i], DocID: doc[i], Start: start[i], End: end[i],
				Text: text[i], Archetype: arch[i], Label: label[i],
				Score: score[i], Extractors: ext[i],
			})
		}
		return out
	},
}

var rejectCodec = &codec[Reject]{
	name: "rejects",
	schema: arrow.NewSchema([]arrow.Field{
		field("run_id", utf8Type),
		field("object", utf8Type),
		field("line", int64Type),
		field("reason", utf8Type),
	}, nil),
	add: func(b *array.RecordBuilder, r Reject) int {
		b.Field(0).(*array.StringBuilder).Append(r.RunID)
		b.Field(1).(*array.StringBuilder).Append(r.Object)
		b.Field(2).(*array.Int64Builder).Append(r.Line)
		b.Field(3).(*array.StringBuilder).Append(r.Reason)
		return len(r.RunID) + len(r.Object) + len(r.Reason) + 8
	},
	decode: func(cols []arrow.Array, out []Reject) []Reject {
		run, obj, line, reason := strs(cols[0]), strs(cols[1]), int64s(cols[2]), strs(cols[3])
		for i := range run {
			out = append(out, Reject{RunID: run[i], Object: obj[i], Line: line[i], Reason: reason[i]})
		}
		return out
	},
}

var usageCodec = &codec[Usage]{
	name: "usage",
	schema: arrow.NewSchema([]arrow.Field{
		field("run_id", utf8Type),
		field("doc_id", utf8Type),
		field("stage", utf8Type),
		field("requests", int64Type),
		field("cache_hits", int64Type),
		field("prompt_tokens", int64Type),
		field("completion_tokens", int64Type),
		field("cached_tokens", int64Type),
		field("batch_requests", int64Type),
		field("batch_tokens", int64Type),
	}, nil),
	// Added with batch mode; ledgers of runs started before it lack them.
	optional: map[string]bool{"batch_requests": true, "batch_tokens": true},
	add: func(b *array.RecordBuilder, r Usage) int {
		b.Field(0).(*array.StringBuilder).Append(r.RunID)
		b.Field(1).(*array.StringBuilder).Append(r.DocID)
		b.Field(2).(*array.StringBuilder).Append(r.Stage)
		for i, v := range []int64{r.Requests, r.CacheHits, r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.BatchRequests, r.BatchTokens} {
			b.Field(3 + i).(*array.Int64Builder).Append(v)
		}
		return len(r.RunID) + len(r.DocID) + len(r.Stage) + 56
	},
	decode: func(cols []arrow.Array, out []Usage) []Usage {
		run, doc, stage := strs(cols[0]), strs(cols[1]), strs(cols[2])
		req, hits, pt, ct, cached := int64s(cols[3]), int64s(cols[4]), int64s(cols[5]), int64s(cols[6]), int64s(cols[7])
		breq, btok := int64s(cols[8]), int64s(cols[9])
		for i := range run {
			out = append(out, Usage{RunID: run[i], DocID: doc[i], Stage: stage[i], Requests: req[i], CacheHits: hits[i],
				PromptTokens: pt[i], CompletionTokens: ct[i], CachedTokens: cached[i], BatchRequests: breq[i], BatchTokens: btok[i]})
		}
		return out
	},
}

// Writer streams rows of one table to a Parquet file. Rows are buffered
// into large row groups; nothing is complete until Close. Writer is not safe
// for concurrent use.
type Writer[T any] struct {
	c      *codec[T]
	sink   *sink
	fw     *pqarrow.FileWriter
	b      *array.RecordBuilder
	size   int  // approximate bytes buffered in b
	roll   bool // start a new row group before the next batch
	err    error
	closed bool
	// batchBytes and groupBytes, when set, replace batchBytes and
	// rowGroupBytes for this writer.
	batchBytes, groupBytes int
}

// NewDocumentWriter returns a Writer of the documents table to w.
func NewDocumentWriter(w io.Writer) *Writer[Document] { return newWriter(documentCodec, w) }

// NewMentionWriter returns a Writer of the mentions table to w.
func NewMentionWriter(w io.Writer) *Writer[Mention] { return newWriter(mentionCodec, w) }

// NewRejectWriter returns a Writer of the rejects table to w.
func NewRejectWriter(w io.Writer) *Writer[Reject] { return newWriter(rejectCodec, w) }

// NewUsageWriter returns a writer of the token ledger table.
func NewUsageWriter(w io.Writer) *Writer[Usage] { return newWriter(usageCodec, w) }

func newWriter[T any](c *codec[T], w io.Writer) *Writer[T] {
	return &Writer[T]{c: c, sink: &sink{w: w}}
}

// sink hides w's Close method (pqarrow closes a writer that has one, which
// would, say, commit a storage object from inside blob.Store.Create) and
// keeps the first write error, which parquet's file writer drops at Close.
type sink struct {
	w   io.Writer
	err error
}

func (s *sink) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// open creates the file writer lazily, so that constructors need not
// return an error.
func (w *Writer[T]) open() error {
	if w.fw != nil {
		return nil
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(rowGroupRows),
	)
	fw, err := pqarrow.NewFileWriter(w.c.schema, w.sink, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return err
	}
	w.fw = fw
	w.b = array.NewRecordBuilder(memory.DefaultAllocator, w.c.schema)
	return nil
}

// Write buffers rows, writing a batch to the file whenever enough are
// buffered.
func (w *Writer[T]) Write(rows []T) error {
	if err := w.ready(); err != nil {
		return err
	}
	for _, r := range rows {
		if err := w.add(r); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// WriteRow writes one row, as Write does.
func (w *Writer[T]) WriteRow(r T) error {
	if err := w.ready(); err != nil {
		return err
	}
	if err := w.add(r); err != nil {
		return w.fail(err)
	}
	return nil
}

// ready reports whether rows can be written, opening the file writer.
func (w *Writer[T]) ready() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("write %s table: writer is closed", w.c.name)
	}
	if err := w.open(); err != nil {
		return w.fail(err)
	}
	return nil
}

// add buffers a row, writing a batch to the file once enough are buffered.
func (w *Writer[T]) add(r T) error {
	w.size += w.c.add(w.b, r)
	if w.b.Field(0).Len() >= batchRows || w.size >= cmp.Or(w.batchBytes, batchBytes) {
		return w.flush()
	}
	return nil
}

func (w *Writer[T]) flush() error {
	if w.b.Field(0).Len() == 0 {
		return nil
	}
	rec := w.b.NewRecord()
	defer rec.Release()
	w.size = 0
	if w.roll {
		w.fw.NewBufferedRowGroup()
		w.roll = false
	}
	if err := w.fw.WriteBuffered(rec); err != nil {
		return err
	}
	if w.sink.err != nil {
		return w.sink.err
	}
	// Cut here rather than after the next batch, so a row group stays near
	// rowGroupBytes; deferred so that no empty row group is left at Close.
	w.roll = w.fw.RowGroupTotalBytesWritten() >= int64(cmp.Or(w.groupBytes, rowGroupBytes))
	return nil
}

// Close writes the buffered rows and the file footer. It does not close the
// io.Writer. A table with no rows is a valid file with the schema.
func (w *Writer[T]) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.open(); err != nil {
		return w.fail(err)
	}
	defer w.b.Release()
	if err := w.flush(); err != nil {
		w.fw.Close()
		return w.fail(err)
	}
	if err := w.fw.Close(); err != nil {
		return w.fail(err)
	}
	if w.sink.err != nil {
		return w.fail(w.sink.err)
	}
	return nil
}

func (w *Writer[T]) fail(err error) error {
	w.err = fmt.Errorf("write %s table: %w", w.c.name, err)
	return w.err
}

// ReadDocuments reads a whole documents table.
func ReadDocuments(r blob.ReaderAt) ([]Document, error) { return read(documentCodec, r) }

// ReadMentions reads a whole mentions table.
func ReadMentions(r blob.ReaderAt) ([]Mention, error) { return read(mentionCodec, r) }

// ReadRejects reads a whole rejects table.
func ReadRejects(r blob.ReaderAt) ([]Reject, error) { return read(rejectCodec, r) }

// ReadUsage reads a whole token ledger file.
func ReadUsage(r blob.ReaderAt) ([]Usage, error) { return read(usageCodec, r) }

// NumRows returns the number of rows of a Parquet file from its footer,
// without reading the rows.
func NumRows(r blob.ReaderAt) (int64, error) {
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		return 0, fmt.Errorf("not a parquet file: %w", err)
	}
	defer pf.Close()
	return pf.NumRows(), nil
}

// sizedReaderAt is what the readers need from a blob.ReaderAt; Close is the
// caller's business.
type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

func read[T any](c *codec[T], r sizedReaderAt) (rows []T, err error) {
	defer func() {
		// Arrow's decoders can panic on corrupt input; report it as an error.
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("read %s table: corrupt parquet: %v", c.name, p)
		}
	}()
	rows, err = readRows(c, r)
	if err != nil {
		return nil, fmt.Errorf("read %s table: %w", c.name, err)
	}
	return rows, nil
}

func readRows[T any](c *codec[T], r sizedReaderAt) ([]T, error) {
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		return nil, fmt.Errorf("not a parquet file: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readBatchRows}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	leaves, err := checkSchema(fr, c.schema, c.optional)
	if err != nil {
		return nil, err
	}
	out := []T{}
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		// Room for the row group, so that a table of millions of rows is
		// not copied over and over as it grows. A corrupt footer can
		// claim any number of rows: cap the guess.
		want := pf.MetaData().RowGroup(rg).NumRows()
		out = slices.Grow(out, int(min(max(want, 0), rowGroupRows)))
		// One row group at a time, checking its row count: Arrow v17
		// silently skips the rest of a column chunk after a corrupt page
		// header, which would shift that column against the others.
		n := len(out)
		if out, err = readRowGroup(c, fr, rg, leaves, out); err != nil {
			return nil, fmt.Errorf("row group %d: %w", rg, err)
		}
		if int64(len(out)-n) != want {
			return nil, fmt.Errorf("row group %d: read %d of %d rows", rg, len(out)-n, want)
		}
	}
	return out, nil
}

func readRowGroup[T any](c *codec[T], fr *pqarrow.FileReader, rg int, leaves []int, out []T) ([]T, error) {
	rr, err := fr.GetRecordReader(context.Background(), leaves, []int{rg})
	if err != nil {
		return out, err
	}
	defer rr.Release()
	for rr.Next() {
		if out, err = decodeRecord(c, rr.Record(), out); err != nil {
			return out, err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}

// decodeRecord appends the rows of one record batch to out, filling an
// optional column the file lacks with nulls.
func decodeRecord[T any](c *codec[T], rec arrow.Record, out []T) ([]T, error) {
	cols := make([]arrow.Array, c.schema.NumFields())
	for i, f := range c.schema.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) == 0 && c.optional[f.Name] {
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, int(rec.NumRows()))
			defer cols[i].Release()
			continue
		}
		if len(idx) == 0 {
			return out, fmt.Errorf("missing column %q", f.Name)
		}
		cols[i] = rec.Column(idx[0])
		if int64(cols[i].Len()) != rec.NumRows() {
			return out, fmt.Errorf("column %q has %d rows, want %d", f.Name, cols[i].Len(), rec.NumRows())
		}
	}
	return c.decode(cols, out), nil
}

// checkSchema checks that the file has every column of want with a
// compatible type and returns the Parquet leaf indices to read them.
func checkSchema(fr *pqarrow.FileReader, want *arrow.Schema, optional map[string]bool) ([]int, error) {
	got, err := fr.Schema()
	if err != nil {
		return nil, err
	}
	var leaves []int
	for _, f := range want.Fields() {
		idx := got.FieldIndices(f.Name)
		if len(idx) == 0 && optional[f.Name] {
			continue
		}
		if len(idx) == 0 {
			return nil, fmt.Errorf("missing column %q", f.Name)
		}
		gt := got.Field(idx[0]).Type
		if !compatible(gt, f.Type) {
			return nil, fmt.Errorf("column %q has type %s, want %s", f.Name, gt, f.Type)
		}
		leaves = appendLeaves(leaves, fr.Manifest.Fields[idx[0]])
	}
	return leaves, nil
}

func appendLeaves(dst []int, f pqarrow.SchemaField) []int {
	if len(f.Children) == 0 {
		return append(dst, f.ColIndex)
	}
	for _, c := range f.Children {
		dst = appendLeaves(dst, c)
	}
	return dst
}

// compatible ignores nullability and list item names, which differ between
// writers (and change on a pqarrow round trip).
func compatible(got, want arrow.DataType) bool {
	if wl, ok := want.(*arrow.ListType); ok {
		gl, ok := got.(*arrow.ListType)
		return ok && compatible(gl.Elem(), wl.Elem())
	}
	return arrow.TypeEqual(got, want)
}

// strs copies a string column's values into one string and slices it, one
// allocation per batch instead of one per value.
func strs(a arrow.Array) []string {
	s := a.(*array.String)
	out := make([]string, s.Len())
	offs := s.ValueOffsets()
	data := string(s.ValueBytes())
	base := offs[0]
	for i := range out {
		if s.IsValid(i) {
			out[i] = data[offs[i]-base : offs[i+1]-base]
		}
	}
	return out
}

func int64s(a arrow.Array) []int64 {
	v := a.(*array.Int64)
	out := make([]int64, v.Len())
	for i := range out {
		if v.IsValid(i) {
			out[i] = v.Value(i)
		}
	}
	return out
}

func float64s(a arrow.Array) []float64 {
	v := a.(*array.Float64)
	out := make([]float64, v.Len())
	for i := range out {
		if v.IsValid(i) {
			out[i] = v.Value(i)
		}
	}
	return out
}

// lists reads a list<utf8> column.
func lists(a arrow.Array) [][]string { return listOf(a, strs) }

// listOf reads a list column whose values values reads; each row's slice
// shares one backing array, capped so that appending to it cannot
// overwrite the next row.
func listOf[T any](a arrow.Array, values func(arrow.Array) []T) [][]T {
	l := a.(*array.List)
	vals := values(l.ListValues())
	out := make([][]T, l.Len())
	for i := range out {
		if l.IsNull(i) {
			continue
		}
		start, end := l.ValueOffsets(i)
		if end > start {
			out[i] = vals[start:end:end]
		}
	}
	return out
}
