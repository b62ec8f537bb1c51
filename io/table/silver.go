package table

import (
	"encoding/json"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/zeroner/zeroner/io/blob"
)

// Tagged is one sentence of silver training data in the layout Hugging Face
// token-classification trainers read: its tokens and one tag id per token.
type Tagged struct {
	ID     string
	Tokens []string
	Tags   []int32 // ids of a label map, as "starter export" writes it
}

// HFMetadataKey is the schema metadata key under which Hugging Face
// datasets keeps a table's features: JSON {"info": {"features": {...}}}.
const HFMetadataKey = "huggingface"

// The tagged table's columns are those a Hugging Face dataset with features
// {id: Value("string"), tokens: Sequence(Value("string")), ner_tags:
// Sequence(ClassLabel(names))} has: datasets (since 2.17) uses a column's
// feature from the metadata only if the file's Arrow field equals the one
// of the feature, so the fields and list items are nullable and ner_tags
// is int64, ClassLabel's type.
var taggedFields = []arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "tokens", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "ner_tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
}

var taggedCodec = &codec[Tagged]{
	name:   "tagged",
	schema: arrow.NewSchema(taggedFields, nil),
	add: func(b *array.RecordBuilder, r Tagged) int {
		b.Field(0).(*array.StringBuilder).Append(r.ID)
		n := len(r.ID) + appendStrings(b.Field(1).(*array.ListBuilder), r.Tokens)
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		vb := lb.ValueBuilder().(*array.Int64Builder)
		for _, t := range r.Tags {
			vb.Append(int64(t))
		}
		return n + 8*len(r.Tags)
	},
	decode: func(cols []arrow.Array, out []Tagged) []Tagged {
		id, toks, tags := strs(cols[0]), lists(cols[1]), tagLists[int64, *array.Int64](cols[2])
		for i := range id {
			out = append(out, Tagged{ID: id[i], Tokens: toks[i], Tags: tags[i]})
		}
		return out
	},
}

// taggedCodec32 reads the files of earlier exports: required columns and
// ner_tags list<int32>, without features.
var taggedCodec32 = &codec[Tagged]{
	name: "tagged",
	schema: arrow.NewSchema([]arrow.Field{
		field("id", utf8Type),
		field("tokens", stringList),
		field("ner_tags", arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int32)),
	}, nil),
	add: func(b *array.RecordBuilder, r Tagged) int {
		b.Field(0).(*array.StringBuilder).Append(r.ID)
		n := len(r.ID) + appendStrings(b.Field(1).(*array.ListBuilder), r.Tokens)
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int32Builder).AppendValues(r.Tags, nil)
		return n + 4*len(r.Tags)
	},
	decode: func(cols []arrow.Array, out []Tagged) []Tagged {
		id, toks, tags := strs(cols[0]), lists(cols[1]), tagLists[int32, *array.Int32](cols[2])
		for i := range id {
			out = append(out, Tagged{ID: id[i], Tokens: toks[i], Tags: tags[i]})
		}
		return out
	},
}

// NewTaggedWriter returns a Writer of a tokens and ner_tags table to w.
// tags are the tag names by id (a label map's Tags): the file's schema
// metadata describes its columns as Hugging Face features, ner_tags a
// sequence of ClassLabel with these names, so that datasets.load_dataset
// reads named tags.
func NewTaggedWriter(w io.Writer, tags []string) *Writer[Tagged] {
	c := *taggedCodec
	md := arrow.NewMetadata([]string{HFMetadataKey}, []string{hfFeatures(tags)})
	c.schema = arrow.NewSchema(taggedFields, &md)
	return newWriter(&c, w)
}

// hfFeatures returns the Hugging Face metadata of the tagged table, its
// columns in order: {"info": {"features": {"id": ..., "tokens": ...,
// "ner_tags": ...}}}.
//
// Lists are {"feature": ..., "_type": "Sequence"}, which every datasets
// version reads (4.0 and later as a List); datasets 4 writes "List", which
// versions before 4.0 fail on.
func hfFeatures(tags []string) string {
	type value struct {
		Dtype string `json:"dtype"`
		Type  string `json:"_type"`
	}
	type classLabel struct {
		Names []string `json:"names"`
		Type  string   `json:"_type"`
	}
	type sequence struct {
		Feature any    `json:"feature"`
		Type    string `json:"_type"`
	}
	type features struct { // the columns of taggedFields, in order
		ID      value    `json:"id"`
		Tokens  sequence `json:"tokens"`
		NerTags sequence `json:"ner_tags"`
	}
	type info struct {
		Features features `json:"features"`
	}
	str := value{"string", "Value"}
	b, err := json.Marshal(struct {
		Info info `json:"info"`
	}{info{features{
		ID:      str,
		Tokens:  sequence{str, "Sequence"},
		NerTags: sequence{classLabel{append([]string{}, tags...), "ClassLabel"}, "Sequence"},
	}}})
	if err != nil {
		panic(err) // strings only
	}
	return string(b)
}

// ReadTagged reads a whole tokens and ner_tags table, ner_tags int64 or, as
// earlier exports wrote it, int32.
func ReadTagged(r blob.ReaderAt) ([]Tagged, error) {
	rows, err := read(taggedCodec, r)
	if err != nil {
		if old, err32 := read(taggedCodec32, r); err32 == nil {
			return old, nil
		}
	}
	return rows, err
}

// tagLists reads a list column of integer tag ids (list<int32> from early
// exports, list<int64> now) as []int32 lists.
func tagLists[T int32 | int64, V interface{ Value(int) T }](a arrow.Array) [][]int32 {
	l := a.(*array.List)
	v := l.ListValues().(V)
	out := make([][]int32, l.Len())
	for i := range out {
		if l.IsNull(i) {
			continue
		}
		start, end := l.ValueOffsets(i)
		for k := start; k < end; k++ {
			out[i] = append(out[i], int32(v.Value(int(k))))
		}
	}
	return out
}
