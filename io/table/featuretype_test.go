package table

import (
	"reflect"
	"testing"
)

func TestFeatureTypeRoundTrip(t *testing.T) {
	rows := []FeatureType{
		{"*", 0, "O", 0.83, 1000, 830, nil},
		{"suf3=ion", 1<<63 + 5, "B-task", 0.71, 40, 29, []string{"regression", "classification"}},
	}
	got, err := ReadFeatureTypes(open(writeAll(t, NewFeatureTypeWriter, rows)))
	if err != nil || !reflect.DeepEqual(got, rows) {
		t.Errorf("feature types: %+v, %v; want %+v", got, err, rows)
	}
}
