package corpus

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// col is one column of a test Parquet file; a nil value is a null.
type col struct {
	name string
	typ  arrow.DataType
	vals []any
}

// writeParquet writes cols as one row group per rowGroup rows, without
// dictionaries, so that pages are easy to find and damage.
func writeParquet(t *testing.T, rowGroup int, cols ...col) []byte {
	t.Helper()
	var fields []arrow.Field
	for _, c := range cols {
		fields = append(fields, arrow.Field{Name: c.name, Type: c.typ, Nullable: true})
	}
	sc := arrow.NewSchema(fields, nil)
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithDictionaryDefault(false))
	fw, err := pqarrow.NewFileWriter(sc, &buf, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if len(cols) > 0 {
		n = len(cols[0].vals)
	}
	for lo := 0; lo < n || lo == 0 && n == 0; lo += rowGroup {
		hi := min(lo+rowGroup, n)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		for i, c := range cols {
			for _, v := range c.vals[lo:hi] {
				switch fb := b.Field(i).(type) {
				case *array.StringBuilder:
					if v == nil {
						fb.AppendNull()
					} else {
						fb.Append(v.(string))
					}
				case *array.Int64Builder:
					if v == nil {
						fb.AppendNull()
					} else {
						fb.Append(int64(v.(int)))
					}
				default:
					t.Fatalf("no builder for %T", fb)
				}
			}
		}
		rec := b.NewRecord()
		if err := fw.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
		if n == 0 {
			break
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	str = arrow.BinaryTypes.String
	i64 = arrow.PrimitiveTypes.Int64
)

func TestReadParquet(t *testing.T) {
	const uri = "gs://b/c.parquet"
	tests := []struct {
		name    string
		data    []byte
		opt     Options
		ids     []string
		texts   []string
		rejects []Reject
	}{
		{
			name: "int ids, bad rows rejected",
			data: writeParquet(t, 3,
				col{"id", i64, []any{10, 11, 12, 13, nil, 15}},
				col{"text", str, []any{"Zürich", nil, " ", "a\xffb", "no id", "last"}}),
			ids:   []string{"10", uri + "#L5", "15"},
			texts: []string{"Zürich", "no id", "last"},
			rejects: []Reject{
				{uri, 2, "null text"},
				{uri, 3, "empty document"},
				{uri, 4, "invalid UTF-8 at byte offset 1"},
			},
		},
		{
			name:  "custom columns, extra columns ignored",
			data:  writeParquet(t, 10, col{"n", i64, []any{1}}, col{"body", str, []any{"b"}}, col{"key", str, []any{"k1"}}),
			opt:   Options{IDField: "key", TextField: "body"},
			ids:   []string{"k1"},
			texts: []string{"b"},
		},
		{
			name:  "no id column",
			data:  writeParquet(t, 10, col{"text", str, []any{"a", "b"}}),
			ids:   []string{uri + "#L1", uri + "#L2"},
			texts: []string{"a", "b"},
		},
		{
			name:    "missing text column",
			data:    writeParquet(t, 10, col{"body", str, []any{"a"}}),
			rejects: []Reject{{uri, 0, `missing text column "text"`}},
		},
		{
			name:    "text column not a string",
			data:    writeParquet(t, 10, col{"text", i64, []any{1}}),
			rejects: []Reject{{uri, 0, `column "text" has type int64, want string`}},
		},
		{
			name:    "zero rows",
			data:    writeParquet(t, 10, col{"text", str, nil}),
			rejects: []Reject{{uri, 0, "empty object"}},
		},
		{
			name:    "empty object",
			data:    nil,
			rejects: []Reject{{uri, 0, "empty object"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := read(t, uri, tc.data, tc.opt)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := ids(r.docs); !reflect.DeepEqual(got, tc.ids) {
				t.Errorf("ids = %q, want %q", got, tc.ids)
			}
			if got := texts(r.docs); !reflect.DeepEqual(got, tc.texts) {
				t.Errorf("texts = %q, want %q", got, tc.texts)
			}
			if !reflect.DeepEqual(r.rejects, tc.rejects) {
				t.Errorf("rejects = %+v, want %+v", r.rejects, tc.rejects)
			}
		})
	}
}

func TestReadParquetDamaged(t *testing.T) {
	const uri = "gs://b/c.parquet"
	const rows, group = 3000, parquetBatch
	var idv, textv []any
	for i := 0; i < rows; i++ {
		idv = append(idv, i)
		textv = append(textv, fmt.Sprintf("document number %d", i))
	}
	good := writeParquet(t, group, col{"id", i64, idv}, col{"text", str, textv})

	// Damage the text column's first page header in the second row group.
	pf, err := file.NewParquetReader(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := pf.MetaData().RowGroup(1).ColumnChunk(1)
	if err != nil {
		t.Fatal(err)
	}
	off := cc.DataPageOffset()
	pf.Close()
	corrupt := bytes.Clone(good)
	copy(corrupt[off:], bytes.Repeat([]byte{0xff}, 32))

	tests := []struct {
		name    string
		data    []byte
		docs    int
		wantErr string
	}{
		{"intact", good, rows, ""},
		{"corrupt page", corrupt, group, "read " + uri + ": corrupt parquet after row 1024"},
		{"truncated", good[:len(good)-100], 0, "read " + uri + ": not a parquet file"},
		{"not parquet", []byte(`{"text":"json, not parquet"}`), 0, "read " + uri + ": not a parquet file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := read(t, uri, tc.data, Options{})
			if tc.wantErr == "" && r.err != nil || tc.wantErr != "" && (r.err == nil || !strings.HasPrefix(r.err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", r.err, tc.wantErr)
			}
			if len(r.docs) != tc.docs {
				t.Fatalf("got %d docs, want %d", len(r.docs), tc.docs)
			}
			for i, d := range r.docs {
				if d.ID != fmt.Sprint(i) || d.Text != textv[i] || d.Line != i+1 {
					t.Fatalf("doc %d: %+v", i, d)
				}
			}
		})
	}
}
