package kg

import (
	"cmp"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
)

// EntityPart is what some of a corpus's documents say of an entity: the
// counts of its surface forms and archetypes, its mentions and documents.
type EntityPart struct {
	ID, Label           string
	Forms               map[string]int
	Archetypes          map[pipeline.Archetype]int
	Mentions, Documents int
}

// Add adds the counts of o, a part of the same entity from other documents.
func (e *EntityPart) Add(o EntityPart) {
	for f, n := range o.Forms {
		e.Forms[f] += n
	}
	for a, n := range o.Archetypes {
		e.Archetypes[a] += n
	}
	e.Mentions += o.Mentions
	e.Documents += o.Documents
}

// Entity is the entity the counts give.
func (e EntityPart) Entity() Entity {
	return Entity{ID: e.ID, Name: mostFrequent(e.Forms), Label: e.Label, Archetype: mostFrequent(e.Archetypes),
		Mentions: e.Mentions, Documents: e.Documents}
}

// Add adds o, the same edge seen in other documents: counts add up, and the
// examples are the MaxExamples smallest of both.
func (e *Edge) Add(o Edge) {
	e.Count += o.Count
	for _, doc := range o.Examples {
		e.example(doc)
	}
}

// example adds doc to the examples if it is among the MaxExamples smallest.
func (e *Edge) example(doc string) {
	i, found := slices.BinarySearch(e.Examples, doc)
	if !found && i < MaxExamples {
		e.Examples = slices.Insert(e.Examples, i, doc)
		e.Examples = e.Examples[:min(len(e.Examples), MaxExamples)]
	}
}

// Part is the partial graph of some documents, each list sorted by its key:
// entities by id, edges by source and target, links in link order.
type Part struct {
	Entities []EntityPart
	Edges    []Edge
	Links    []Link
}

// Part returns the partial graph of the documents added so far and empties
// the builder, which can then take more documents for another part.
func (b *Builder) Part() Part {
	p := Part{
		Entities: make([]EntityPart, 0, len(b.ents)),
		Edges:    make([]Edge, 0, len(b.edges)),
		Links:    b.links,
	}
	for _, e := range b.ents {
		p.Entities = append(p.Entities, *e)
	}
	slices.SortFunc(p.Entities, func(x, y EntityPart) int { return strings.Compare(x.ID, y.ID) })
	for _, e := range b.edges {
		p.Edges = append(p.Edges, *e)
	}
	slices.SortFunc(p.Edges, ComparePairs)
	slices.SortFunc(p.Links, CompareLinks)
	*b = *NewBuilder()
	return p
}

// Len is the number of mentions added since the builder was made or last
// emptied.
func (b *Builder) Len() int { return len(b.links) }

// CompareEntities is the graph's entity order: most mentions first, then id.
func CompareEntities(x, y Entity) int {
	return cmp.Or(cmp.Compare(y.Mentions, x.Mentions), strings.Compare(x.ID, y.ID))
}

// CompareEdges is the graph's edge order: highest count first, then source
// and target.
func CompareEdges(x, y Edge) int {
	return cmp.Or(cmp.Compare(y.Count, x.Count), ComparePairs(x, y))
}

// ComparePairs orders edges by source and target, the key parts of one
// edge share.
func ComparePairs(x, y Edge) int {
	return cmp.Or(strings.Compare(x.Source, y.Source), strings.Compare(x.Target, y.Target))
}

// CompareLinks is the graph's link order: document, start, end, entity.
func CompareLinks(x, y Link) int {
	return cmp.Or(strings.Compare(x.DocID, y.DocID), cmp.Compare(x.Start, y.Start), cmp.Compare(x.End, y.End),
		strings.Compare(x.Entity, y.Entity))
}
