package table

import (
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/zeroner/zeroner/io/blob"
)

// FeatureType is one row of an SAE-NER feature -> type map (see
// pipeline/sae): how precisely a sparse feature signals a BIO class.
// Feature "*" rows hold each class's prior (Hits of Support sample tokens).
//
//	column     Arrow type
//	feature    utf8     readable name, e.g. "suf3=ion"
//	id         uint64
//	type       utf8     class: "O", "B-person", "I-person"
//	precision  float64  smoothed
//	support    int64    tokens where the feature is active
//	hits       int64    of those, tokens of the class
//	examples   list<utf8>
type FeatureType struct {
	Feature   string
	ID        uint64
	Type      string
	Precision float64
	Support   int64
	Hits      int64
	Examples  []string
}

var uint64Type = arrow.PrimitiveTypes.Uint64

var featureTypeCodec = &codec[FeatureType]{
	name: "feature types",
	schema: arrow.NewSchema([]arrow.Field{
		field("feature", utf8Type),
		field("id", uint64Type),
		field("type", utf8Type),
		field("precision", floatType),
		field("support", int64Type),
		field("hits", int64Type),
		field("examples", stringList),
	}, nil),
	add: func(b *array.RecordBuilder, r FeatureType) int {
		b.Field(0).(*array.StringBuilder).Append(r.Feature)
		b.Field(1).(*array.Uint64Builder).Append(r.ID)
		b.Field(2).(*array.StringBuilder).Append(r.Type)
		b.Field(3).(*array.Float64Builder).Append(r.Precision)
		b.Field(4).(*array.Int64Builder).Append(r.Support)
		b.Field(5).(*array.Int64Builder).Append(r.Hits)
		return len(r.Feature) + len(r.Type) + 32 + appendStrings(b.Field(6).(*array.ListBuilder), r.Examples)
	},
	decode: func(cols []arrow.Array, out []FeatureType) []FeatureType {
		feat, id, typ, prec := strs(cols[0]), uint64s(cols[1]), strs(cols[2]), float64s(cols[3])
		sup, hits, ex := int64s(cols[4]), int64s(cols[5]), lists(cols[6])
		for i := range feat {
			out = append(out, FeatureType{Feature: feat[i], ID: id[i], Type: typ[i], Precision: prec[i],
				Support: sup[i], Hits: hits[i], Examples: ex[i]})
		}
		return out
	},
}

// NewFeatureTypeWriter returns a Writer of a feature -> type map to w.
func NewFeatureTypeWriter(w io.Writer) *Writer[FeatureType] { return newWriter(featureTypeCodec, w) }

// ReadFeatureTypes reads a whole feature -> type map.
func ReadFeatureTypes(r blob.ReaderAt) ([]FeatureType, error) { return read(featureTypeCodec, r) }

func uint64s(a arrow.Array) []uint64 {
	v := a.(*array.Uint64)
	out := make([]uint64, v.Len())
	for i := range out {
		if v.IsValid(i) {
			out[i] = v.Value(i)
		}
	}
	return out
}
