// Package kg builds a knowledge graph from a run's documents and mentions:
// entities, each mention's entity, and co-occurrence edges. It is plain Go:
// no storage, no Temporal.
//
// Entities. Mentions are grouped by label and normalized surface form, so
// "The Beatles", "the  Beatles" and "Beatles" of one label are one entity,
// while "Paris" the city and "Paris" the person are two. [Normalize] is the
// rule: Unicode NFC, lower case, typographic apostrophes read as "'", runs
// of white space as one space, then quotes, brackets, dashes and the
// punctuation . , ; : ! ? … stripped from both ends, then a leading "the "
// dropped (with what it leaves stripped again). A form that normalizes to
// nothing (all punctuation) keeps its lower-cased text. An entity's id is
// [ID]: the first 16 hex digits of sha256(label + "\x00" + normalized form),
// the same in every run, so ids can be joined across runs and corpora.
//
// An entity's name is its most frequent surface form (a mention's text with
// white space runs collapsed to one space), ties going to the smallest in
// byte order (so "Obama" wins over "obama"); its archetype is the most
// frequent of its mentions', ties likewise. Mentions counts its mentions,
// Documents the documents they are in.
//
// Edges. Two entities co-occur when one sentence (as pipeline/text.Sentences
// splits the document) mentions both; a mention belongs to the sentence it
// starts in. An edge's Count is the number of sentences that mention both
// (a sentence counts once however often it repeats them); Examples are up to
// MaxExamples ids of documents where they co-occur, the smallest in byte
// order. Edges are unordered: Source < Target. Mentions of a document whose
// text is not given make entities but no edges.
//
// Order. Entities by mentions (most first), then id; edges by count (most
// first), then source and target; links by document, start, end and entity.
// The graph depends only on its input, not on the order it is added in.
//
// Parts. A corpus too large for one Builder is built in parts: each part's
// Builder gives a [Part] (what its documents say of each entity and edge,
// sorted by key), parts of one entity combine with [EntityPart.Add], of one
// edge with [Edge.Add], and the combined rows sorted by [CompareEntities],
// [CompareEdges] and [CompareLinks] are the corpus's graph, the same as one
// Builder over all its documents gives. A document must be in one part.
package kg

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// MaxExamples bounds an edge's example documents.
const MaxExamples = 5

// Entity is one node of the graph.
type Entity struct {
	ID        string
	Name      string
	Label     string
	Archetype pipeline.Archetype
	Mentions  int
	Documents int
}

// Edge is a co-occurrence of two entities, Source < Target.
type Edge struct {
	Source, Target string
	Count          int
	Examples       []string // document ids
}

// Link is a mention, keyed by document and offsets, and its entity.
type Link struct {
	DocID      string
	Start, End int
	Entity     string
}

// Graph is the knowledge graph of a set of documents.
type Graph struct {
	Entities []Entity
	Edges    []Edge
	Links    []Link
}

// Normalize returns the form of a mention's text that decides, with its
// label, which entity it is (see the package comment).
func Normalize(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	lower := norm.NFC.String(strings.ToLower(norm.NFC.String(s)))
	s = strings.Map(func(r rune) rune {
		if r == '\u2019' || r == '\u2018' {
			return '\''
		}
		return r
	}, lower)
	s = strings.TrimFunc(s, strip)
	if rest, ok := strings.CutPrefix(s, "the "); ok {
		if rest = strings.TrimFunc(rest, strip); rest != "" {
			s = rest
		}
	}
	if s == "" {
		return lower
	}
	return s
}

// strip reports whether r is stripped from the ends of a normalized form.
// Symbols such as '#' and '+' stay: "C#" and "C++" are not "C".
func strip(r rune) bool {
	return unicode.IsSpace(r) || unicode.In(r, unicode.Ps, unicode.Pe, unicode.Pi, unicode.Pf, unicode.Pd) ||
		strings.ContainsRune("\"'.,;:!?…", r)
}

// ID is the id of the entity of a label and a normalized form.
func ID(label, normalized string) string {
	h := sha256.Sum256([]byte(label + "\x00" + normalized))
	return hex.EncodeToString(h[:8])
}

// Builder accumulates documents into a graph, so a caller can stream a
// corpus through it. The zero value is not ready: use NewBuilder.
type Builder struct {
	ents  map[string]*EntityPart
	edges map[[2]string]*Edge
	links []Link
	// names caches each label and text's entity id and form: a corpus
	// repeats its names, and normalizing and hashing them is most of Add.
	names map[labelText]named
}

type (
	labelText struct{ label, text string }
	named     struct{ id, form string }
)

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{ents: make(map[string]*EntityPart), edges: make(map[[2]string]*Edge), names: make(map[labelText]named)}
}

// Build is the graph of docs and their mentions ms.
func Build(docs []pipeline.Document, ms []pipeline.Mention) Graph {
	b := NewBuilder()
	b.AddAll(docs, ms)
	return b.Graph()
}

// AddAll adds docs with their mentions, found in ms by document id; the
// mentions of a document not in docs make entities, but no edges.
func (b *Builder) AddAll(docs []pipeline.Document, ms []pipeline.Mention) {
	byDoc := make(map[string][]pipeline.Mention)
	for _, m := range ms {
		byDoc[m.DocID] = append(byDoc[m.DocID], m)
	}
	for _, d := range docs {
		if dm, ok := byDoc[d.ID]; ok {
			b.Add(d, dm)
			delete(byDoc, d.ID)
		}
	}
	for id, dm := range byDoc {
		b.Add(pipeline.Document{ID: id}, dm)
	}
}

// Add adds a document with all its mentions. Call it once per document:
// a document added twice counts twice.
func (b *Builder) Add(doc pipeline.Document, ms []pipeline.Mention) {
	if len(ms) == 0 {
		return
	}
	var sents []text.Span
	if doc.Text != "" {
		sents = text.Sentences(doc.Text)
	}
	inDoc := make(map[string]bool)
	bySent := make(map[int][]string)
	b.links = slices.Grow(b.links, len(ms))
	for _, m := range ms {
		nm, ok := b.names[labelText{m.Label, m.Text}]
		if !ok {
			nm = named{ID(m.Label, Normalize(m.Text)), strings.Join(strings.Fields(m.Text), " ")}
			b.names[labelText{m.Label, m.Text}] = nm
		}
		id := nm.id
		e := b.ents[id]
		if e == nil {
			e = &EntityPart{ID: id, Label: m.Label, Forms: make(map[string]int), Archetypes: make(map[pipeline.Archetype]int)}
			b.ents[id] = e
		}
		e.Forms[nm.form]++
		e.Archetypes[m.Archetype]++
		e.Mentions++
		if !inDoc[id] {
			inDoc[id] = true
			e.Documents++
		}
		b.links = append(b.links, Link{DocID: doc.ID, Start: m.Start, End: m.End, Entity: id})
		if len(sents) > 0 {
			// The sentence the mention starts in: the last one starting at
			// or before it.
			s := sort.Search(len(sents), func(i int) bool { return sents[i].Start > m.Start }) - 1
			bySent[max(s, 0)] = append(bySent[max(s, 0)], id)
		}
	}
	for _, ids := range bySent {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		for i, a := range ids {
			for _, c := range ids[i+1:] {
				b.cooccur(a, c, doc.ID)
			}
		}
	}
}

func (b *Builder) cooccur(a, c, doc string) {
	k := [2]string{a, c}
	e := b.edges[k]
	if e == nil {
		e = &Edge{Source: a, Target: c}
		b.edges[k] = e
	}
	e.Count++
	e.example(doc)
}

// Graph returns the graph of the documents added so far and empties the
// builder.
func (b *Builder) Graph() Graph {
	p := b.Part()
	g := Graph{Entities: make([]Entity, len(p.Entities)), Edges: p.Edges, Links: p.Links}
	for i, e := range p.Entities {
		g.Entities[i] = e.Entity()
	}
	slices.SortFunc(g.Entities, CompareEntities)
	slices.SortFunc(g.Edges, CompareEdges)
	return g
}

// mostFrequent returns the key with the largest count, the smallest key
// on a tie.
func mostFrequent[K ~string](counts map[K]int) K {
	var best K
	n := -1
	for k, c := range counts {
		if c > n || c == n && k < best {
			best, n = k, c
		}
	}
	return best
}
