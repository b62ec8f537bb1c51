package table

import (
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/zeroner/zeroner/io/blob"
)

// Vector is one row of a NER Retriever index: a mention and its vector.
//
// Vector table (one file per index shard; dim is the same for every row of
// a file and is part of the column type):
//
//	column      Arrow type
//	mention_id  utf8
//	doc_id      utf8
//	start       int64
//	end         int64
//	text        utf8
//	label       utf8
//	vector      fixed_size_list<float32>[dim]
type Vector struct {
	MentionID  string // stable within a run: see MentionID
	DocID      string
	Start, End int64 // code point offsets into the document text, half-open
	Text       string
	Label      string
	Vector     []float32
}

// MentionID is the id of the mention [start, end) of a document: unique in
// a run, since a run has one mention per span of a document.
func MentionID(docID string, start, end int64) string {
	return fmt.Sprintf("%s:%d-%d", docID, start, end)
}

var float32Type = arrow.PrimitiveTypes.Float32

// vectorType is the vector column's type: the size is in the type, so
// readers (pyarrow, DuckDB, Arrow's own) see fixed-length vectors.
func vectorType(dim int) *arrow.FixedSizeListType {
	return arrow.FixedSizeListOfNonNullable(int32(dim), float32Type)
}

// vectorCodec is the codec of vectors of the column type vec: a
// fixed-size list on write; on read, whatever the file holds, a fixed-size
// list or (from a writer that dropped the Arrow schema) a plain list.
func vectorCodec(vec arrow.DataType) *codec[Vector] {
	return &codec[Vector]{
		name: "vectors",
		schema: arrow.NewSchema([]arrow.Field{
			field("mention_id", utf8Type),
			field("doc_id", utf8Type),
			field("start", int64Type),
			field("end", int64Type),
			field("text", utf8Type),
			field("label", utf8Type),
			// Nullable: Arrow v17 writes every element of a non-nullable
			// fixed-size list column as null.
			{Name: "vector", Type: vec, Nullable: true},
		}, nil),
		add: func(b *array.RecordBuilder, r Vector) int {
			b.Field(0).(*array.StringBuilder).Append(r.MentionID)
			b.Field(1).(*array.StringBuilder).Append(r.DocID)
			b.Field(2).(*array.Int64Builder).Append(r.Start)
			b.Field(3).(*array.Int64Builder).Append(r.End)
			b.Field(4).(*array.StringBuilder).Append(r.Text)
			b.Field(5).(*array.StringBuilder).Append(r.Label)
			lb := b.Field(6).(*array.FixedSizeListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Float32Builder).AppendValues(r.Vector, nil)
			return len(r.MentionID) + len(r.DocID) + len(r.Text) + len(r.Label) + 16 + 4*len(r.Vector)
		},
		decode: func(cols []arrow.Array, out []Vector) []Vector {
			id, doc := strs(cols[0]), strs(cols[1])
			start, end := int64s(cols[2]), int64s(cols[3])
			text, label := strs(cols[4]), strs(cols[5])
			vecs := float32Lists(cols[6])
			for i := range id {
				out = append(out, Vector{MentionID: id[i], DocID: doc[i], Start: start[i], End: end[i],
					Text: text[i], Label: label[i], Vector: vecs[i]})
			}
			return out
		},
	}
}

// VectorWriter streams index rows of one dimension to a Parquet file.
// Nothing is complete until Close. It is not safe for concurrent use.
type VectorWriter struct {
	w   *Writer[Vector]
	dim int
}

// A vector writer buffers less than the others, as its rows are large and
// an index build writes several shards at once: a row group is held in
// memory until it is cut, and 64 MiB of it per shard was most of a build's
// peak.
const (
	vectorBatchBytes = 4 << 20
	vectorGroupBytes = 8 << 20
)

// NewVectorWriter returns a writer of dim-wide vectors to w. A dim below 1
// makes every call fail.
func NewVectorWriter(w io.Writer, dim int) *VectorWriter {
	if dim < 1 {
		tw := &Writer[Vector]{c: &codec[Vector]{name: "vectors"}, sink: &sink{w: w}}
		tw.err = fmt.Errorf("write vectors table: dimension %d, want at least 1", dim)
		return &VectorWriter{w: tw, dim: dim}
	}
	tw := newWriter(vectorCodec(vectorType(dim)), w)
	tw.batchBytes, tw.groupBytes = vectorBatchBytes, vectorGroupBytes
	// The file writer is made here rather than by Writer.open so that it
	// stores the Arrow schema: without it the fixed size is lost and the
	// column reads back as a plain list.
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(rowGroupRows),
	)
	fw, err := pqarrow.NewFileWriter(tw.c.schema, tw.sink, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		tw.fail(err)
	} else {
		tw.fw = fw
		tw.b = array.NewRecordBuilder(memory.DefaultAllocator, tw.c.schema)
	}
	return &VectorWriter{w: tw, dim: dim}
}

// Write buffers rows, writing a batch to the file whenever enough are
// buffered. A vector of another length than the writer's fails the call
// before any of its rows is buffered.
func (v *VectorWriter) Write(rows []Vector) error {
	if v.w.err != nil {
		return v.w.err
	}
	for i, r := range rows {
		if len(r.Vector) != v.dim {
			return fmt.Errorf("write vectors table: row %d (%s) has %d values, want %d", i, r.MentionID, len(r.Vector), v.dim)
		}
	}
	return v.w.Write(rows)
}

// Close writes the buffered rows and the file footer. It does not close the
// io.Writer. A table with no rows is a valid file with the schema.
func (v *VectorWriter) Close() error {
	if v.w.fw == nil { // dim < 1: nothing was opened
		return v.w.err
	}
	return v.w.Close()
}

// ReadVectors reads a whole vector table and returns its rows and their
// dimension. The vectors of each batch of rows share one backing array.
func ReadVectors(r blob.ReaderAt) ([]Vector, int, error) {
	vec, dim, err := vectorColumn(r)
	if err != nil {
		return nil, 0, fmt.Errorf("read vectors table: %w", err)
	}
	rows, err := read(vectorCodec(vec), r)
	if err != nil {
		return nil, 0, err
	}
	for i, row := range rows {
		if row.Vector == nil {
			return nil, 0, fmt.Errorf("read vectors table: row %d (%s) has a null vector", i, row.MentionID)
		}
		if dim == 0 {
			dim = len(row.Vector)
		}
		if len(row.Vector) != dim {
			return nil, 0, fmt.Errorf("read vectors table: row %d (%s) has %d values, want %d", i, row.MentionID, len(row.Vector), dim)
		}
	}
	return rows, dim, nil
}

// metaCodec reads a vector table's columns but the vector.
var metaCodec = func() *codec[Vector] {
	c := vectorCodec(vectorType(1))
	fields := c.schema.Fields()
	c.schema = arrow.NewSchema(fields[:len(fields)-1], nil)
	c.decode = func(cols []arrow.Array, out []Vector) []Vector {
		id, doc := strs(cols[0]), strs(cols[1])
		start, end := int64s(cols[2]), int64s(cols[3])
		text, label := strs(cols[4]), strs(cols[5])
		for i := range id {
			out = append(out, Vector{MentionID: id[i], DocID: doc[i], Start: start[i], End: end[i], Text: text[i], Label: label[i]})
		}
		return out
	}
	return c
}()

// ReadVectorMeta reads a vector table's rows without their vectors, which
// it does not decode: what a search needs of the rows it found.
func ReadVectorMeta(r blob.ReaderAt) ([]Vector, error) {
	if _, _, err := vectorColumn(r); err != nil {
		return nil, fmt.Errorf("read vectors table: %w", err)
	}
	return read(metaCodec, r)
}

// VectorDim returns the dimension of a vector table from its footer, without
// reading the rows; 0 when the file does not say (a plain list column).
func VectorDim(r blob.ReaderAt) (int, error) {
	_, dim, err := vectorColumn(r)
	if err != nil {
		return 0, fmt.Errorf("read vectors table: %w", err)
	}
	return dim, nil
}

// vectorColumn returns the type of the file's vector column and its fixed
// size (0 for a plain list).
func vectorColumn(r sizedReaderAt) (t arrow.DataType, dim int, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, dim, err = nil, 0, fmt.Errorf("corrupt parquet: %v", p)
		}
	}()
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		return nil, 0, fmt.Errorf("not a parquet file: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, 0, err
	}
	s, err := fr.Schema()
	if err != nil {
		return nil, 0, err
	}
	idx := s.FieldIndices("vector")
	if len(idx) == 0 {
		return nil, 0, fmt.Errorf("missing column %q", "vector")
	}
	switch vt := s.Field(idx[0]).Type.(type) {
	case *arrow.FixedSizeListType:
		if vt.Elem().ID() == arrow.FLOAT32 {
			return vt, int(vt.Len()), nil
		}
	case *arrow.ListType:
		if vt.Elem().ID() == arrow.FLOAT32 {
			return vt, 0, nil
		}
	}
	return nil, 0, fmt.Errorf("column %q has type %s, want fixed_size_list<float32>", "vector", s.Field(idx[0]).Type)
}

// float32Lists reads a fixed-size or plain list<float32> column. The rows
// share one copy of the values, each capped so that appending to it cannot
// overwrite the next row; a null row is nil.
func float32Lists(a arrow.Array) [][]float32 {
	var (
		vals  *array.Float32
		bound func(i int) (int64, int64)
	)
	switch l := a.(type) {
	case *array.FixedSizeList:
		vals = l.ListValues().(*array.Float32)
		n := int64(l.DataType().(*arrow.FixedSizeListType).Len())
		off := int64(l.Offset())
		bound = func(i int) (int64, int64) { return (off + int64(i)) * n, (off + int64(i) + 1) * n }
	case *array.List:
		vals = l.ListValues().(*array.Float32)
		bound = l.ValueOffsets
	}
	all := vals.Float32Values()
	flat := make([]float32, len(all))
	copy(flat, all)
	out := make([][]float32, a.Len())
	for i := range out {
		if a.IsNull(i) {
			continue
		}
		start, end := bound(i)
		out[i] = flat[start:end:end]
	}
	return out
}
