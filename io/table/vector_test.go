package table

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

func writeVectors(t testing.TB, dim int, batches ...[]Vector) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewVectorWriter(&buf, dim)
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func TestVectorsRoundTrip(t *testing.T) {
	rows := []Vector{
		{MentionID: MentionID("d1", 0, 11), DocID: "d1", Start: 0, End: 11, Text: "Alan Turing", Label: "person",
			Vector: []float32{0.5, -1, 3.25}},
		{MentionID: MentionID("Zürich 東京", 4, 9), DocID: "Zürich 東京", Start: 4, End: 9, Text: "東京", Label: "",
			Vector: []float32{float32(math.Inf(1)), 0, -0}},
		{MentionID: "", DocID: "", Vector: []float32{1e-30, 2, 1e30}},
	}
	tests := []struct {
		name    string
		batches [][]Vector
		want    []Vector
	}{
		{"empty", nil, []Vector{}},
		{"one batch", [][]Vector{rows}, rows},
		{"several batches", [][]Vector{rows[:1], {}, rows[1:]}, rows},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := writeVectors(t, 3, tc.batches...)
			got, dim, err := ReadVectors(open(b))
			if err != nil {
				t.Fatal(err)
			}
			if dim != 3 {
				t.Errorf("dim %d, want 3", dim)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			meta, err := ReadVectorMeta(open(b))
			if err != nil || len(meta) != len(tc.want) {
				t.Fatalf("ReadVectorMeta: %d rows, %v; want %d", len(meta), err, len(tc.want))
			}
			for i, m := range meta {
				w := tc.want[i]
				w.Vector = nil
				if !reflect.DeepEqual(m, w) {
					t.Errorf("meta row %d: %+v, want %+v", i, m, w)
				}
			}
			if d, err := VectorDim(open(b)); d != 3 || err != nil {
				t.Errorf("VectorDim = %d, %v; want 3", d, err)
			}
		})
	}
}

func TestMentionIDIsStable(t *testing.T) {
	if a, b := MentionID("d:1", 2, 30), MentionID("d:1", 2, 30); a != b || a != "d:1:2-30" {
		t.Errorf("MentionID = %q, %q", a, b)
	}
	if MentionID("d", 1, 23) == MentionID("d", 12, 3) {
		t.Error("different spans share an id")
	}
}

// The vector column is a fixed-size list in the file's Arrow schema, so other
// readers see the dimension too.
func TestVectorColumnIsFixedSize(t *testing.T) {
	b := writeVectors(t, 4, []Vector{{MentionID: "a", Vector: []float32{1, 2, 3, 4}}})
	pf, s := openParquet(t, b)
	defer pf.Close()
	f, ok := s.FieldsByName("vector")
	if !ok {
		t.Fatal("no vector column")
	}
	ft, ok := f[0].Type.(*arrow.FixedSizeListType)
	if !ok || ft.Len() != 4 || ft.Elem().ID() != arrow.FLOAT32 {
		t.Errorf("vector column type %s, want fixed_size_list<float32>[4]", f[0].Type)
	}
}

func TestVectorsDoNotAlias(t *testing.T) {
	b := writeVectors(t, 2, []Vector{{MentionID: "a", Vector: []float32{1, 2}}, {MentionID: "b", Vector: []float32{3, 4}}})
	got, _, err := ReadVectors(open(b))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got[0].Vector, 99)
	if got[1].Vector[0] != 3 {
		t.Errorf("appending to row 0 changed row 1: %v", got[1].Vector)
	}
}

func TestVectorWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	w := NewVectorWriter(&buf, 3)
	err := w.Write([]Vector{{MentionID: "ok", Vector: []float32{1, 2, 3}}, {MentionID: "short", Vector: []float32{1}}})
	if err == nil || !strings.Contains(err.Error(), "short") {
		t.Errorf("short vector: %v, want an error naming it", err)
	}
	// The rows before the bad one were not written either.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := ReadVectors(open(buf.Bytes())); err != nil || len(got) != 0 {
		t.Errorf("after a refused batch: %d rows, %v; want none", len(got), err)
	}

	z := NewVectorWriter(&bytes.Buffer{}, 0)
	if err := z.Write(nil); err == nil {
		t.Error("dimension 0: Write did not fail")
	}
	if err := z.Close(); err == nil {
		t.Error("dimension 0: Close did not fail")
	}
}

func TestReadVectorsErrors(t *testing.T) {
	// A mentions table has no vector column.
	ms := writeAll(t, NewMentionWriter, []Mention{{RunID: "r", DocID: "d"}})
	if _, _, err := ReadVectors(open(ms)); err == nil || !strings.Contains(err.Error(), "vector") {
		t.Errorf("mentions table: %v, want a missing vector column", err)
	}
	if _, _, err := ReadVectors(open([]byte("PAR1 not parquet PAR1"))); err == nil {
		t.Error("garbage: no error")
	}
	if _, err := ReadVectorMeta(open(ms)); err == nil {
		t.Error("ReadVectorMeta of a mentions table: no error")
	}
	good := writeVectors(t, 2, []Vector{{MentionID: "a", Vector: []float32{1, 2}}})
	if _, _, err := ReadVectors(open(good[:len(good)-10])); err == nil {
		t.Error("truncated: no error")
	}
}

// A file whose writer did not store the Arrow schema has a plain list
// column; it still reads, and every row must have the same length.
func TestReadVectorsPlainList(t *testing.T) {
	write := func(vecs [][]float32) []byte {
		schema := arrow.NewSchema([]arrow.Field{
			field("mention_id", utf8Type), field("doc_id", utf8Type), field("start", int64Type),
			field("end", int64Type), field("text", utf8Type), field("label", utf8Type),
			field("vector", arrow.ListOf(float32Type)),
		}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i, v := range vecs {
			b.Field(0).(*array.StringBuilder).Append(string(rune('a' + i)))
			for k := 1; k <= 5; k++ {
				switch fb := b.Field(k).(type) {
				case *array.StringBuilder:
					fb.Append("")
				case *array.Int64Builder:
					fb.Append(0)
				}
			}
			lb := b.Field(6).(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Float32Builder).AppendValues(v, nil)
		}
		rec := b.NewRecord()
		defer rec.Release()
		var buf bytes.Buffer
		fw, err := pqarrow.NewFileWriter(schema, &buf, nil, pqarrow.DefaultWriterProps())
		if err != nil {
			t.Fatal(err)
		}
		if err := fw.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	got, dim, err := ReadVectors(open(write([][]float32{{1, 2}, {3, 4}})))
	if err != nil || dim != 2 || len(got) != 2 || got[1].Vector[1] != 4 {
		t.Errorf("plain list: %+v, dim %d, %v", got, dim, err)
	}
	if _, _, err := ReadVectors(open(write([][]float32{{1, 2}, {3}}))); err == nil {
		t.Error("ragged plain list: no error")
	}
}

func TestVectorsManyRows(t *testing.T) {
	const n, dim = 70_000, 8 // more than one write batch
	rows := make([]Vector, n)
	for i := range rows {
		v := make([]float32, dim)
		for k := range v {
			v[k] = float32(i*dim + k)
		}
		rows[i] = Vector{MentionID: MentionID("d", int64(i), int64(i+1)), DocID: "d", Start: int64(i), End: int64(i + 1), Vector: v}
	}
	got, _, err := ReadVectors(open(writeVectors(t, dim, rows)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d rows, want %d", len(got), n)
	}
	for _, i := range []int{0, 65535, 65536, n - 1} {
		if !reflect.DeepEqual(got[i], rows[i]) {
			t.Errorf("row %d: %+v, want %+v", i, got[i], rows[i])
		}
	}
}
