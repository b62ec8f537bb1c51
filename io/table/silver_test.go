package table

import (
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

var testTags = []string{"O", "B-person", "I-person", "B-city", "I-city"}

func newTestTaggedWriter(w io.Writer) *Writer[Tagged] { return NewTaggedWriter(w, testTags) }

func TestTaggedRoundTrip(t *testing.T) {
	rows := []Tagged{
		{"d1@1", []string{"Ada", "Lovelace", "wrote", "."}, []int32{1, 2, 0, 0}},
		{"d1@2", nil, nil},
		{"d2@1", []string{"Zürich"}, []int32{3}},
	}
	got, err := ReadTagged(open(writeAll(t, newTestTaggedWriter, rows)))
	if err != nil || !reflect.DeepEqual(got, rows) {
		t.Errorf("tagged: %+v, %v; want %+v", got, err, rows)
	}
	// Files of earlier exports: ner_tags list<int32>, no features.
	got, err = ReadTagged(open(writeAll(t, func(w io.Writer) *Writer[Tagged] { return newWriter(taggedCodec32, w) }, rows)))
	if err != nil || !reflect.DeepEqual(got, rows) {
		t.Errorf("tagged with int32 tags: %+v, %v; want %+v", got, err, rows)
	}
	if _, err := ReadTagged(open(writeAll(t, NewRejectWriter, []Reject{{RunID: "r"}}))); err == nil {
		t.Error("ReadTagged of a rejects table: no error")
	}
}

// TestTaggedHuggingFaceFeatures reads the schema metadata of a tagged file
// as datasets.Features.from_arrow_schema does: every column has its feature,
// of the column's type, and ner_tags's ClassLabel names are the tags by id.
func TestTaggedHuggingFaceFeatures(t *testing.T) {
	rows := []Tagged{{"d1@1", []string{"Ada", "Lovelace", "in", "Zürich"}, []int32{1, 2, 0, 3}}}
	b := writeAll(t, newTestTaggedWriter, rows)
	pf, schema := openParquet(t, b)
	defer pf.Close()
	// pyarrow's schema metadata is the file's key-value metadata; Go's
	// pqarrow leaves it out of Schema() when the file has no ARROW:schema.
	kv := pf.MetaData().KeyValueMetadata()
	if len(kv) != 1 {
		t.Errorf("key-value metadata %v: want only %q", kv.Keys(), HFMetadataKey)
	}
	p := kv.FindValue(HFMetadataKey)
	if p == nil {
		t.Fatalf("no %q key in the key-value metadata %v", HFMetadataKey, kv.Keys())
	}
	v := *p
	var md struct {
		Info struct {
			Features map[string]hfFeature `json:"features"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(v), &md); err != nil {
		t.Fatalf("metadata %s: %v", v, err)
	}
	feats := md.Info.Features
	if len(feats) != schema.NumFields() {
		t.Errorf("%d features for %d columns: %s", len(feats), schema.NumFields(), v)
	}
	for _, f := range schema.Fields() {
		feat, ok := feats[f.Name]
		if !ok {
			t.Errorf("column %s has no feature: %s", f.Name, v)
			continue
		}
		// datasets takes a feature only if its Arrow field equals the
		// file's, and a feature's fields are nullable.
		if !f.Nullable {
			t.Errorf("column %s is not nullable", f.Name)
		}
		if l, ok := f.Type.(*arrow.ListType); ok && !l.ElemField().Nullable {
			t.Errorf("column %s: list items are not nullable", f.Name)
		}
		if err := feat.matches(f.Type); err != "" {
			t.Errorf("column %s (%s): %s", f.Name, f.Type, err)
		}
	}
	tags := feats["ner_tags"]
	if tags.Type != "Sequence" || tags.Feature == nil || tags.Feature.Type != "ClassLabel" ||
		!reflect.DeepEqual(tags.Feature.Names, testTags) {
		t.Errorf("ner_tags feature %+v: want a Sequence of ClassLabel with names %q", tags, testTags)
	}
	got, err := ReadTagged(open(b))
	if err != nil || !reflect.DeepEqual(got, rows) {
		t.Fatalf("tagged: %+v, %v; want %+v", got, err, rows)
	}
	for i, id := range got[0].Tags {
		if want := []string{"B-person", "I-person", "O", "B-city"}[i]; tags.Feature.Names[id] != want {
			t.Errorf("tag %d: id %d is %q, want %q", i, id, tags.Feature.Names[id], want)
		}
	}
}

// hfFeature is a Hugging Face datasets feature as its JSON holds it.
type hfFeature struct {
	Type    string     `json:"_type"`
	Dtype   string     `json:"dtype"`   // Value
	Names   []string   `json:"names"`   // ClassLabel
	Feature *hfFeature `json:"feature"` // Sequence
}

// hfDtypes are the Arrow types of datasets' Value dtypes.
var hfDtypes = map[string]arrow.Type{"string": arrow.STRING, "int32": arrow.INT32, "int64": arrow.INT64}

// matches says why f does not describe a column of type t, or "".
func (f hfFeature) matches(t arrow.DataType) string {
	switch f.Type {
	case "Value":
		if want, ok := hfDtypes[f.Dtype]; !ok || t.ID() != want {
			return "Value dtype " + f.Dtype
		}
	case "ClassLabel":
		if t.ID() != arrow.INT64 {
			return "ClassLabel, which is int64"
		}
		if len(f.Names) == 0 {
			return "ClassLabel without names"
		}
	case "Sequence":
		l, ok := t.(*arrow.ListType)
		if !ok || f.Feature == nil {
			return "Sequence of a non-list or without feature"
		}
		return f.Feature.matches(l.Elem())
	default:
		return "feature type " + f.Type
	}
	return ""
}
