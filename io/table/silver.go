package table

import (
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

var int32List = arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int32)

var taggedCodec = &codec[Tagged]{
	name: "tagged",
	schema: arrow.NewSchema([]arrow.Field{
		field("id", utf8Type),
		field("tokens", stringList),
		field("ner_tags", int32List),
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
		id, toks, tags := strs(cols[0]), lists(cols[1]), int32Lists(cols[2])
		for i := range id {
			out = append(out, Tagged{ID: id[i], Tokens: toks[i], Tags: tags[i]})
		}
		return out
	},
}

// NewTaggedWriter returns a Writer of a tokens and ner_tags table to w.
func NewTaggedWriter(w io.Writer) *Writer[Tagged] { return newWriter(taggedCodec, w) }

// ReadTagged reads a whole tokens and ner_tags table.
func ReadTagged(r blob.ReaderAt) ([]Tagged, error) { return read(taggedCodec, r) }

// int32Lists reads a list<int32> column as lists works for strings.
func int32Lists(a arrow.Array) [][]int32 {
	l := a.(*array.List)
	v := l.ListValues().(*array.Int32)
	out := make([][]int32, l.Len())
	for i := range out {
		if l.IsNull(i) {
			continue
		}
		start, end := l.ValueOffsets(i)
		for k := start; k < end; k++ {
			out[i] = append(out[i], v.Value(int(k)))
		}
	}
	return out
}
