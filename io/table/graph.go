package table

import (
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/zeroner/zeroner/io/blob"
)

// Entity is one node of a run's knowledge graph: the mentions of one label
// whose surface forms normalize to the same name (see pipeline/kg).
type Entity struct {
	RunID, EntityID string
	Name            string // the most frequent surface form
	Label           string
	Archetype       string // the most frequent archetype of its mentions
	Mentions        int64
	Documents       int64
}

// Edge is a co-occurrence of two entities: Count sentences mention both.
// The pair is unordered and stored with Source < Target.
type Edge struct {
	RunID          string
	Source, Target string // entity ids
	Count          int64
	Examples       []string // up to 5 document ids, in byte order
}

// MentionEntity links one mention, keyed by (DocID, Start, End), to its
// entity.
type MentionEntity struct {
	RunID, DocID string
	Start, End   int64
	EntityID     string
}

var entityCodec = &codec[Entity]{
	name: "entities",
	schema: arrow.NewSchema([]arrow.Field{
		field("run_id", utf8Type),
		field("entity_id", utf8Type),
		field("name", utf8Type),
		field("label", utf8Type),
		field("archetype", utf8Type),
		field("mentions", int64Type),
		field("documents", int64Type),
	}, nil),
	add: func(b *array.RecordBuilder, r Entity) int {
		for i, s := range []string{r.RunID, r.EntityID, r.Name, r.Label, r.Archetype} {
			b.Field(i).(*array.StringBuilder).Append(s)
		}
		b.Field(5).(*array.Int64Builder).Append(r.Mentions)
		b.Field(6).(*array.Int64Builder).Append(r.Documents)
		return len(r.RunID) + len(r.EntityID) + len(r.Name) + len(r.Label) + len(r.Archetype) + 16
	},
	decode: func(cols []arrow.Array, out []Entity) []Entity {
		run, id, name, label, arch := strs(cols[0]), strs(cols[1]), strs(cols[2]), strs(cols[3]), strs(cols[4])
		ms, ds := int64s(cols[5]), int64s(cols[6])
		for i := range run {
			out = append(out, Entity{RunID: run[i], EntityID: id[i], Name: name[i], Label: label[i],
				Archetype: arch[i], Mentions: ms[i], Documents: ds[i]})
		}
		return out
	},
}

var edgeCodec = &codec[Edge]{
	name: "edges",
	schema: arrow.NewSchema([]arrow.Field{
		field("run_id", utf8Type),
		field("source", utf8Type),
		field("target", utf8Type),
		field("count", int64Type),
		field("examples", stringList),
	}, nil),
	add: func(b *array.RecordBuilder, r Edge) int {
		b.Field(0).(*array.StringBuilder).Append(r.RunID)
		b.Field(1).(*array.StringBuilder).Append(r.Source)
		b.Field(2).(*array.StringBuilder).Append(r.Target)
		b.Field(3).(*array.Int64Builder).Append(r.Count)
		n := len(r.RunID) + len(r.Source) + len(r.Target) + 8
		n += appendStrings(b.Field(4).(*array.ListBuilder), r.Examples)
		return n
	},
	decode: func(cols []arrow.Array, out []Edge) []Edge {
		run, src, dst, n, ex := strs(cols[0]), strs(cols[1]), strs(cols[2]), int64s(cols[3]), lists(cols[4])
		for i := range run {
			out = append(out, Edge{RunID: run[i], Source: src[i], Target: dst[i], Count: n[i], Examples: ex[i]})
		}
		return out
	},
}

var mentionEntityCodec = &codec[MentionEntity]{
	name: "mention_entities",
	schema: arrow.NewSchema([]arrow.Field{
		field("run_id", utf8Type),
		field("doc_id", utf8Type),
		field("start", int64Type),
		field("end", int64Type),
		field("entity_id", utf8Type),
	}, nil),
	add: func(b *array.RecordBuilder, r MentionEntity) int {
		b.Field(0).(*array.StringBuilder).Append(r.RunID)
		b.Field(1).(*array.StringBuilder).Append(r.DocID)
		b.Field(2).(*array.Int64Builder).Append(r.Start)
		b.Field(3).(*array.Int64Builder).Append(r.End)
		b.Field(4).(*array.StringBuilder).Append(r.EntityID)
		return len(r.RunID) + len(r.DocID) + len(r.EntityID) + 16
	},
	decode: func(cols []arrow.Array, out []MentionEntity) []MentionEntity {
		run, doc, start, end, id := strs(cols[0]), strs(cols[1]), int64s(cols[2]), int64s(cols[3]), strs(cols[4])
		for i := range run {
			out = append(out, MentionEntity{RunID: run[i], DocID: doc[i], Start: start[i], End: end[i], EntityID: id[i]})
		}
		return out
	},
}

// appendStrings appends one list<utf8> value and returns its size in bytes.
func appendStrings(lb *array.ListBuilder, ss []string) int {
	lb.Append(true)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	n := 0
	for _, s := range ss {
		vb.Append(s)
		n += len(s)
	}
	return n
}

// NewEntityWriter returns a Writer of the entities table to w.
func NewEntityWriter(w io.Writer) *Writer[Entity] { return newWriter(entityCodec, w) }

// NewEdgeWriter returns a Writer of the edges table to w.
func NewEdgeWriter(w io.Writer) *Writer[Edge] { return newWriter(edgeCodec, w) }

// NewMentionEntityWriter returns a Writer of the mention_entities table to w.
func NewMentionEntityWriter(w io.Writer) *Writer[MentionEntity] {
	return newWriter(mentionEntityCodec, w)
}

// ReadEntities reads a whole entities table.
func ReadEntities(r blob.ReaderAt) ([]Entity, error) { return read(entityCodec, r) }

// ReadEdges reads a whole edges table.
func ReadEdges(r blob.ReaderAt) ([]Edge, error) { return read(edgeCodec, r) }

// ReadMentionEntities reads a whole mention_entities table.
func ReadMentionEntities(r blob.ReaderAt) ([]MentionEntity, error) {
	return read(mentionEntityCodec, r)
}

// EntityPart is what one part of a run says of an entity, spilled while the
// knowledge graph is built in parts: the counts of its surface forms and
// archetypes there, its mentions and documents.
type EntityPart struct {
	EntityID, Label     string
	Forms               []string
	FormCounts          []int64
	Archetypes          []string
	ArchetypeCounts     []int64
	Mentions, Documents int64
}

var int64List = arrow.ListOfNonNullable(int64Type)

var entityPartCodec = &codec[EntityPart]{
	name: "entity parts",
	schema: arrow.NewSchema([]arrow.Field{
		field("entity_id", utf8Type),
		field("label", utf8Type),
		field("forms", stringList),
		field("form_counts", int64List),
		field("archetypes", stringList),
		field("archetype_counts", int64List),
		field("mentions", int64Type),
		field("documents", int64Type),
	}, nil),
	add: func(b *array.RecordBuilder, r EntityPart) int {
		b.Field(0).(*array.StringBuilder).Append(r.EntityID)
		b.Field(1).(*array.StringBuilder).Append(r.Label)
		n := len(r.EntityID) + len(r.Label) + 16 + 8*(len(r.FormCounts)+len(r.ArchetypeCounts))
		n += appendStrings(b.Field(2).(*array.ListBuilder), r.Forms)
		appendInt64s(b.Field(3).(*array.ListBuilder), r.FormCounts)
		n += appendStrings(b.Field(4).(*array.ListBuilder), r.Archetypes)
		appendInt64s(b.Field(5).(*array.ListBuilder), r.ArchetypeCounts)
		b.Field(6).(*array.Int64Builder).Append(r.Mentions)
		b.Field(7).(*array.Int64Builder).Append(r.Documents)
		return n
	},
	decode: func(cols []arrow.Array, out []EntityPart) []EntityPart {
		id, label, forms, fc := strs(cols[0]), strs(cols[1]), lists(cols[2]), listOf(cols[3], int64s)
		archs, ac, ms, ds := lists(cols[4]), listOf(cols[5], int64s), int64s(cols[6]), int64s(cols[7])
		for i := range id {
			out = append(out, EntityPart{EntityID: id[i], Label: label[i], Forms: forms[i], FormCounts: fc[i],
				Archetypes: archs[i], ArchetypeCounts: ac[i], Mentions: ms[i], Documents: ds[i]})
		}
		return out
	},
}

// appendInt64s appends one list<int64> value.
func appendInt64s(lb *array.ListBuilder, vs []int64) {
	lb.Append(true)
	lb.ValueBuilder().(*array.Int64Builder).AppendValues(vs, nil)
}

// NewEntityPartWriter returns a Writer of a spilled entity parts table.
func NewEntityPartWriter(w io.Writer) *Writer[EntityPart] { return newWriter(entityPartCodec, w) }

// The scanners of the graph's tables are made for merging many files at
// once: they hold a small batch and read ahead a little.

// NewEntityScanner streams an entities table.
func NewEntityScanner(r blob.ReaderAt) (*Scanner[Entity], error) {
	return newScanner(entityCodec, r, mergeRows, mergeBuffer)
}

// NewEdgeScanner streams an edges table.
func NewEdgeScanner(r blob.ReaderAt) (*Scanner[Edge], error) {
	return newScanner(edgeCodec, r, mergeRows, mergeBuffer)
}

// NewMentionEntityScanner streams a mention_entities table.
func NewMentionEntityScanner(r blob.ReaderAt) (*Scanner[MentionEntity], error) {
	return newScanner(mentionEntityCodec, r, mergeRows, mergeBuffer)
}

// NewEntityPartScanner streams a spilled entity parts table.
func NewEntityPartScanner(r blob.ReaderAt) (*Scanner[EntityPart], error) {
	return newScanner(entityPartCodec, r, mergeRows, mergeBuffer)
}
