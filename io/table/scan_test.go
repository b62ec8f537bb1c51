package table

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestScanVectors(t *testing.T) {
	var rows []Vector
	for i := range 1000 {
		rows = append(rows, Vector{MentionID: MentionID("d", int64(i), int64(i+1)), DocID: "d", Start: int64(i), End: int64(i + 1),
			Text: fmt.Sprint(i), Label: "x", Vector: []float32{float32(i), -float32(i), 0.5}})
	}
	data := writeVectors(t, 3, rows[:300], rows[300:])
	tests := []struct {
		batch     int
		wantCalls int
	}{
		{1, 1000},
		{7, 143},
		{1000, 1},
		{4096, 1},
		{0, 1000}, // below 1: one row at a time
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.batch), func(t *testing.T) {
			var got []Vector
			calls := 0
			err := ScanVectors(open(data), tc.batch, func(b []Vector, dim int) error {
				if dim != 3 {
					t.Errorf("dim %d, want 3", dim)
				}
				if len(b) > max(tc.batch, 1) {
					t.Errorf("batch of %d rows, want at most %d", len(b), tc.batch)
				}
				calls++
				got = append(got, b...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("scanned rows differ from the rows written")
			}
			var meta []Vector
			err = ScanVectorMeta(open(data), tc.batch, func(b []Vector) error {
				meta = append(meta, b...)
				return nil
			})
			if err != nil || len(meta) != len(rows) {
				t.Fatalf("ScanVectorMeta: %d rows, %v", len(meta), err)
			}
			for i, m := range meta {
				w := rows[i]
				w.Vector = nil
				if !reflect.DeepEqual(m, w) {
					t.Fatalf("meta row %d: %+v, want %+v", i, m, w)
				}
			}
		})
	}
}

func TestScanMentions(t *testing.T) {
	var ms []Mention
	for i := range 50 {
		ms = append(ms, Mention{RunID: "r", DocID: fmt.Sprintf("d%d", i%4), Start: int64(i), End: int64(i + 2), Text: "ab",
			Label: "l", Score: float64(i) / 50, Extractors: []string{"rules"}})
	}
	data := writeAll(t, NewMentionWriter, ms)
	want, err := ReadMentions(open(data))
	if err != nil {
		t.Fatal(err)
	}
	var got []Mention
	if err := ScanMentions(open(data), 16, func(b []Mention) error { got = append(got, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ScanMentions differs from ReadMentions")
	}
}

func TestScanStops(t *testing.T) {
	data := writeAll(t, NewMentionWriter, []Mention{{DocID: "a"}, {DocID: "b"}, {DocID: "c"}})
	stop := errors.New("enough")
	calls := 0
	err := ScanMentions(open(data), 1, func([]Mention) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("ScanMentions = %v after %d calls, want fn's own error after 1", err, calls)
	}
}

func TestScanErrors(t *testing.T) {
	mentions := writeAll(t, NewMentionWriter, []Mention{{DocID: "a"}})
	vectors := writeVectors(t, 2, []Vector{{Vector: []float32{1, 2}}})
	nop := func([]Vector, int) error { return nil }
	tests := []struct {
		name string
		err  error
	}{
		{"not parquet", ScanVectors(open([]byte("not a parquet file at all")), 8, nop)},
		{"truncated", ScanVectors(open(vectors[:len(vectors)/2]), 8, nop)},
		{"mentions as vectors", ScanVectors(open(mentions), 8, nop)},
		{"vectors as mentions", ScanMentions(open(vectors), 8, func([]Mention) error { return nil })},
		{"mentions as vector meta", ScanVectorMeta(open(mentions), 8, func([]Vector) error { return nil })},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestVectorRowGroups(t *testing.T) {
	// Random floats do not compress: 24 MB of them make several row
	// groups, which a scan reads in order.
	const n, dim = 6000, 1000
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([]Vector, n)
	for i := range rows {
		v := make([]float32, dim)
		for j := range v {
			v[j] = r.Float32()
		}
		rows[i] = Vector{MentionID: fmt.Sprint(i), Vector: v}
	}
	data := writeVectors(t, dim, rows[:1000], rows[1000:])
	pf, _ := openParquet(t, data)
	defer pf.Close()
	if g := pf.NumRowGroups(); g < 2 || g > n*dim*4/vectorGroupBytes+1 {
		t.Errorf("%d row groups of %d MB of vectors, want about one per %d MiB", g, n*dim*4/1000000, vectorGroupBytes>>20)
	}
	i := 0
	err := ScanVectors(open(data), 700, func(b []Vector, _ int) error {
		for _, row := range b {
			if row.MentionID != rows[i].MentionID || !slices.Equal(row.Vector, rows[i].Vector) {
				return fmt.Errorf("row %d is %s", i, row.MentionID)
			}
			i++
		}
		return nil
	})
	if err != nil || i != n {
		t.Errorf("scanned %d of %d rows: %v", i, n, err)
	}
}
