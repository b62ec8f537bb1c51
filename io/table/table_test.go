package table

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// mem is an in-memory blob.ReaderAt.
type mem struct{ *bytes.Reader }

func (mem) Close() error { return nil }

func open(b []byte) mem { return mem{bytes.NewReader(b)} }

func writeAll[T any](t testing.TB, newW func(io.Writer) *Writer[T], batches ...[]T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := newW(&buf)
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

func rowGroups(t testing.TB, b []byte) int {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	return pf.NumRowGroups()
}

func TestDocumentsRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]Document
		want    []Document
	}{
		{"empty", nil, []Document{}},
		{"empty batch", [][]Document{{}}, []Document{}},
		{"ascii", [][]Document{{{"d1", "Alan Turing was born in London.", "file:///a.jsonl"}}},
			[]Document{{"d1", "Alan Turing was born in London.", "file:///a.jsonl"}}},
		{"unicode and empty strings", [][]Document{
			{{"é", "Zürich 🇨🇭 — 東京", "gs://b/ü.txt"}},
			{{"", "", ""}, {"x", "a\x00b\nc", "s"}},
		}, []Document{
			{"é", "Zürich 🇨🇭 — 東京", "gs://b/ü.txt"},
			{"", "", ""},
			{"x", "a\x00b\nc", "s"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := writeAll(t, NewDocumentWriter, tc.batches...)
			got, err := ReadDocuments(open(b))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMentionsRoundTrip(t *testing.T) {
	m := Mention{RunID: "r1", DocID: "d1", Start: 3, End: 9, Text: "Zürich", Archetype: "place",
		Label: "location", Score: 0.875, Extractors: []string{"gazetteer", "llm"}}
	noExt := m
	noExt.Extractors = nil
	emptyExt := m
	emptyExt.Extractors = []string{}
	uni := Mention{RunID: "r1", DocID: "文書", Start: 0, End: 2, Text: "東京", Label: "城市",
		Score: -1.5, Extractors: []string{"", "ünï"}}
	tests := []struct {
		name    string
		batches [][]Mention
		want    []Mention
	}{
		{"empty", nil, []Mention{}},
		{"one", [][]Mention{{m}}, []Mention{m}},
		{"nil and empty extractors read as nil", [][]Mention{{noExt, emptyExt, m}},
			[]Mention{noExt, noExt, m}},
		{"unicode, several batches", [][]Mention{{uni}, {m, uni}, {}}, []Mention{uni, m, uni}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := writeAll(t, NewMentionWriter, tc.batches...)
			got, err := ReadMentions(open(b))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMentionExtractorsDoNotAlias(t *testing.T) {
	m := Mention{Extractors: []string{"a"}}
	b := writeAll(t, NewMentionWriter, []Mention{m, m})
	got, err := ReadMentions(open(b))
	if err != nil {
		t.Fatal(err)
	}
	got[0].Extractors = append(got[0].Extractors, "x")
	if !reflect.DeepEqual(got[1].Extractors, []string{"a"}) {
		t.Errorf("appending to row 0 changed row 1: %q", got[1].Extractors)
	}
}

func TestRejectsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rows []Reject
	}{
		{"empty", []Reject{}},
		{"rows", []Reject{
			{"r1", "gs://b/a.jsonl", 7, "invalid JSON: unexpected end of JSON input"},
			{"r1", "file:///ü.txt", 0, "empty object"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := writeAll(t, NewRejectWriter, tc.rows)
			got, err := ReadRejects(open(b))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.rows) {
				t.Errorf("got %+v, want %+v", got, tc.rows)
			}
		})
	}
}

func TestUsageRoundTrip(t *testing.T) {
	rows := []Usage{
		{"r1", "doc-1", "discover", 2, 1, 1200, 80, 900, 0, 0},
		{"r1", "doc-2", "calibrate", 0, 3, 0, 0, 0, 0, 0},
		{"r1", "doc-3", "mediate", 0, 0, 700, 40, 0, 2, 740},
	}
	for _, want := range [][]Usage{{}, rows} {
		got, err := ReadUsage(open(writeAll(t, NewUsageWriter, want)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
}

func mentions(n int) []Mention {
	rows := make([]Mention, n)
	labels := []string{"person", "location", "organisation", "misc"}
	for i := range rows {
		rows[i] = Mention{
			RunID: "run-1", DocID: fmt.Sprintf("doc-%d", i/10),
			Start: int64(i), End: int64(i + 5), Text: fmt.Sprintf("mention %d", i),
			Archetype: "entity", Label: labels[i%len(labels)], Score: float64(i%100) / 100,
			Extractors: []string{"rules", "llm"}[:i%3%2+1],
		}
	}
	return rows
}

func TestMentions100k(t *testing.T) {
	rows := mentions(100_000)
	// Many small writes must still give few row groups.
	var batches [][]Mention
	for i := 0; i < len(rows); i += 1000 {
		batches = append(batches, rows[i:i+1000])
	}
	b := writeAll(t, NewMentionWriter, batches...)
	if n := rowGroups(t, b); n != 1 {
		t.Errorf("row groups = %d, want 1", n)
	}
	got, err := ReadMentions(open(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(got), len(rows))
	}
	for i := range rows {
		if !reflect.DeepEqual(got[i], rows[i]) {
			t.Fatalf("row %d: got %+v, want %+v", i, got[i], rows[i])
		}
	}
}

func TestEmptyTableHasSchema(t *testing.T) {
	b := writeAll[Mention](t, NewMentionWriter)
	pf, sc := openParquet(t, b)
	defer pf.Close()
	var names []string
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	want := "run_id doc_id start end text archetype label score extractors"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("columns = %q, want %q", got, want)
	}
	if pf.NumRows() != 0 {
		t.Errorf("rows = %d, want 0", pf.NumRows())
	}
}

// writeRaw writes a Parquet file with an arbitrary schema and one row.
func writeRaw(t *testing.T, sc *arrow.Schema, fill func(b *array.RecordBuilder)) []byte {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	fill(b)
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(sc, &buf, nil, pqarrow.DefaultWriterProps())
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

func TestReadErrors(t *testing.T) {
	missing := writeRaw(t, arrow.NewSchema([]arrow.Field{
		{Name: "doc_id", Type: arrow.BinaryTypes.String},
		{Name: "text", Type: arrow.BinaryTypes.String},
	}, nil), func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append("d")
		b.Field(1).(*array.StringBuilder).Append("t")
	})
	wrongType := writeRaw(t, arrow.NewSchema([]arrow.Field{
		{Name: "run_id", Type: arrow.BinaryTypes.String},
		{Name: "object", Type: arrow.BinaryTypes.String},
		{Name: "line", Type: arrow.BinaryTypes.String},
		{Name: "reason", Type: arrow.BinaryTypes.String},
	}, nil), func(b *array.RecordBuilder) {
		for i := 0; i < 4; i++ {
			b.Field(i).(*array.StringBuilder).Append("x")
		}
	})
	good := writeAll(t, NewMentionWriter, mentions(10))
	corrupt := damagePage(t, writeAll(t, NewMentionWriter, mentions(1000)), "text")
	tests := []struct {
		name string
		data []byte
		read func(mem) error
		want string
	}{
		{"not parquet", []byte("doc_id,text\nd1,hello\n"), readDocs, "read documents table: not a parquet file"},
		{"empty file", nil, readDocs, "not a parquet file"},
		{"truncated", good[:len(good)/2], readMentions, "not a parquet file"},
		{"missing column", missing, readDocs, `missing column "source"`},
		{"corrupt page", corrupt, readMentions, "read mentions table: row group 0: read 0 of 1000 rows"},
		{"wrong table", good, readRejects, `missing column "object"`},
		{"wrong type", wrongType, readRejects, `column "line" has type utf8, want int64`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read(open(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// damagePage overwrites the first data page header of a column in row
// group 0.
func damagePage(t *testing.T, b []byte, column string) []byte {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	cc, err := pf.MetaData().RowGroup(0).ColumnChunk(pf.MetaData().Schema.ColumnIndexByName(column))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Clone(b)
	copy(b[cc.DataPageOffset():], bytes.Repeat([]byte{0xff}, 32))
	return b
}

func readDocs(m mem) error     { _, err := ReadDocuments(m); return err }
func readMentions(m mem) error { _, err := ReadMentions(m); return err }
func readRejects(m mem) error  { _, err := ReadRejects(m); return err }

func TestExtraColumnsIgnored(t *testing.T) {
	b := writeRaw(t, arrow.NewSchema([]arrow.Field{
		{Name: "extra", Type: arrow.PrimitiveTypes.Int32},
		{Name: "source", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "doc_id", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil), func(b *array.RecordBuilder) {
		b.Field(0).(*array.Int32Builder).Append(1)
		b.Field(1).(*array.StringBuilder).Append("s")
		b.Field(2).(*array.StringBuilder).AppendNull()
		b.Field(3).(*array.StringBuilder).Append("d")
	})
	got, err := ReadDocuments(open(b))
	if err != nil {
		t.Fatal(err)
	}
	want := []Document{{DocID: "d", Text: "", Source: "s"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// closeRecorder fails writes after limit bytes and records Close calls.
type closeRecorder struct {
	n, limit int
	closed   bool
}

func (c *closeRecorder) Write(p []byte) (int, error) {
	if c.limit > 0 && c.n+len(p) > c.limit {
		return 0, errors.New("disk full")
	}
	c.n += len(p)
	return len(p), nil
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestWriterSink(t *testing.T) {
	t.Run("does not close the io.Writer", func(t *testing.T) {
		c := &closeRecorder{}
		w := NewRejectWriter(c)
		if err := w.Write([]Reject{{RunID: "r"}}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if c.closed {
			t.Error("Close closed the underlying writer")
		}
		if err := w.Write([]Reject{{RunID: "r"}}); err == nil {
			t.Error("Write after Close succeeded")
		}
	})
	t.Run("write error surfaces at Close", func(t *testing.T) {
		c := &closeRecorder{limit: 100}
		w := NewMentionWriter(c)
		if err := w.Write(mentions(1000)); err != nil {
			t.Fatal(err)
		}
		err := w.Close()
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("Close = %v, want disk full", err)
		}
	})
}

func BenchmarkWriteMentions(b *testing.B) {
	for _, n := range []int{100_000, 200} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkWriteMentions(b, n) })
	}
}

// 200 rows is a stage's output for a shard of a few dozen sentences: many
// small files are the LLM-bound job's regime.
func benchmarkWriteMentions(b *testing.B, n int) {
	rows := mentions(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := NewMentionWriter(io.Discard)
		if err := w.Write(rows); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkReadMentions(b *testing.B) {
	rows := mentions(100_000)
	data := writeAll(b, NewMentionWriter, rows)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := ReadMentions(open(data))
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(rows) {
			b.Fatalf("read %d rows", len(got))
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// A ledger written before batch mode has no batch columns: it reads with
// zeros there, so runs started before an upgrade still finalize.
func TestUsageWithoutBatchColumns(t *testing.T) {
	var fields []arrow.Field
	for _, n := range []string{"run_id", "doc_id", "stage"} {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String})
	}
	for _, n := range []string{"requests", "cache_hits", "prompt_tokens", "completion_tokens", "cached_tokens"} {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int64})
	}
	old := writeRaw(t, arrow.NewSchema(fields, nil), func(b *array.RecordBuilder) {
		for i, v := range []string{"r1", "d1", "discover"} {
			b.Field(i).(*array.StringBuilder).Append(v)
		}
		for i, v := range []int64{3, 1, 900, 80, 40} {
			b.Field(3 + i).(*array.Int64Builder).Append(v)
		}
	})
	got, err := ReadUsage(open(old))
	if err != nil {
		t.Fatal(err)
	}
	want := []Usage{{"r1", "d1", "discover", 3, 1, 900, 80, 40, 0, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Other tables still refuse a missing column.
	if _, err := ReadRejects(open(old)); err == nil {
		t.Error("a usage file read as rejects")
	}
}

// Rejects land in run.json (rejects_list, failures_list) with the
// snake_case keys of the rest of the file.
func TestRejectJSONKeys(t *testing.T) {
	b, err := json.Marshal(Reject{RunID: "r", Object: "o", Line: 3, Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"run_id":"r","object":"o","line":3,"reason":"x"}`; string(b) != want {
		t.Fatalf("reject as JSON: %s, want %s", b, want)
	}
}

// openParquet opens the Parquet file data and reads its Arrow schema.
func openParquet(t *testing.T, data []byte) (*file.Reader, *arrow.Schema) {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		t.Fatal(err)
	}
	sc, err := fr.Schema()
	if err != nil {
		pf.Close()
		t.Fatal(err)
	}
	return pf, sc
}
