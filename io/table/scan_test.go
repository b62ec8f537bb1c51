package table

import (
	"errors"
	"fmt"
	"reflect"
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
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
