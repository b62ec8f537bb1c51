package kg

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Barack Obama", "barack obama"},
		{"  Barack \n\t Obama ", "barack obama"},
		{"The Beatles", "beatles"},
		{"the  Beatles", "beatles"},
		{"THE BEATLES", "beatles"},
		{"“The Beatles”", "beatles"},
		{"The \"Who\"", "who"},
		{"(Labour Party)", "labour party"},
		{"U.S.", "u.s"},
		{"Apple Inc.", "apple inc"},
		{"O’Brien", "o'brien"},
		{"C#", "c#"},
		{"C++", "c++"},
		{"-Foo-", "foo"},
		{"Theodore", "theodore"},
		{"The", "the"},
		{"The The", "the"},
		{"Cafe\u0301", "caf\u00e9"}, // decomposed é composes
		{"CAFÉ", "café"},
		{"...", "..."},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestID(t *testing.T) {
	a := ID("band", Normalize("The Beatles"))
	if len(a) != 16 {
		t.Errorf("id %q: want 16 hex digits", a)
	}
	if b := ID("band", Normalize("beatles")); a != b {
		t.Errorf("same entity, ids %s and %s", a, b)
	}
	if c := ID("person", Normalize("The Beatles")); a == c {
		t.Errorf("two labels, one id %s", a)
	}
	// Not "band" + "x" against "ban" + "dx": the separator keeps them apart.
	if ID("band", "x") == ID("ban", "dx") {
		t.Error("label and form run together")
	}
}

// mention places the i-th occurrence of s in text.
func mention(doc, txt, s, label string, arch pipeline.Archetype) pipeline.Mention {
	sp := text.Find(txt, s)[0]
	return pipeline.Mention{DocID: doc, Start: sp.Start, End: sp.End, Text: s, Label: label, Archetype: arch}
}

func TestBuild(t *testing.T) {
	d1 := pipeline.Document{ID: "d1", Text: "Barack Obama met Angela Merkel in Berlin. Obama left Berlin."}
	d2 := pipeline.Document{ID: "d2", Text: "obama visited berlin. The Beatles played."}
	ms := []pipeline.Mention{
		mention("d1", d1.Text, "Barack Obama", "politician", pipeline.Person),
		mention("d1", d1.Text, "Angela Merkel", "politician", pipeline.Person),
		mention("d1", d1.Text, "Berlin", "city", pipeline.Location),
		{DocID: "d1", Start: 42, End: 47, Text: "Obama", Label: "politician", Archetype: pipeline.Person},
		{DocID: "d1", Start: 53, End: 59, Text: "Berlin", Label: "city", Archetype: pipeline.Location},
		mention("d2", d2.Text, "obama", "politician", pipeline.Misc),
		mention("d2", d2.Text, "berlin", "city", pipeline.Location),
		mention("d2", d2.Text, "The Beatles", "band", pipeline.Organization),
		// A document whose text is unknown: an entity, no edges.
		{DocID: "d3", Start: 0, End: 5, Text: "Obama", Label: "politician", Archetype: pipeline.Person},
		{DocID: "d3", Start: 10, End: 16, Text: "Merkel", Label: "politician", Archetype: pipeline.Person},
	}
	g := Build([]pipeline.Document{d1, d2}, ms)

	obama, merkel := ID("politician", "obama"), ID("politician", "angela merkel")
	barack, berlin := ID("politician", "barack obama"), ID("city", "berlin")
	beatles, merkel3 := ID("band", "beatles"), ID("politician", "merkel")
	wantEnts := map[string]Entity{
		// Forms "Obama" twice and "obama" once; archetypes person twice, misc once.
		obama:   {ID: obama, Name: "Obama", Label: "politician", Archetype: pipeline.Person, Mentions: 3, Documents: 3},
		berlin:  {ID: berlin, Name: "Berlin", Label: "city", Archetype: pipeline.Location, Mentions: 3, Documents: 2},
		barack:  {ID: barack, Name: "Barack Obama", Label: "politician", Archetype: pipeline.Person, Mentions: 1, Documents: 1},
		merkel:  {ID: merkel, Name: "Angela Merkel", Label: "politician", Archetype: pipeline.Person, Mentions: 1, Documents: 1},
		beatles: {ID: beatles, Name: "The Beatles", Label: "band", Archetype: pipeline.Organization, Mentions: 1, Documents: 1},
		merkel3: {ID: merkel3, Name: "Merkel", Label: "politician", Archetype: pipeline.Person, Mentions: 1, Documents: 1},
	}
	if len(g.Entities) != len(wantEnts) {
		t.Fatalf("%d entities, want %d: %+v", len(g.Entities), len(wantEnts), g.Entities)
	}
	for i, e := range g.Entities {
		if e != wantEnts[e.ID] {
			t.Errorf("entity %+v, want %+v", e, wantEnts[e.ID])
		}
		if i > 0 && g.Entities[i-1].Mentions < e.Mentions {
			t.Errorf("entities not sorted by mentions: %v", g.Entities)
		}
	}

	pair := func(a, b string) [2]string {
		if a > b {
			a, b = b, a
		}
		return [2]string{a, b}
	}
	wantEdges := map[[2]string]Edge{
		// Sentence 1 of d1: Barack Obama, Merkel, Berlin.
		pair(barack, merkel): {Count: 1, Examples: []string{"d1"}},
		pair(barack, berlin): {Count: 1, Examples: []string{"d1"}},
		pair(merkel, berlin): {Count: 1, Examples: []string{"d1"}},
		// Sentence 2 of d1 and sentence 1 of d2: Obama and Berlin.
		pair(obama, berlin): {Count: 2, Examples: []string{"d1", "d2"}},
	}
	if len(g.Edges) != len(wantEdges) {
		t.Fatalf("%d edges, want %d: %+v", len(g.Edges), len(wantEdges), g.Edges)
	}
	for _, e := range g.Edges {
		if e.Source >= e.Target {
			t.Errorf("edge %+v: want source < target", e)
		}
		w, ok := wantEdges[[2]string{e.Source, e.Target}]
		if !ok || w.Count != e.Count || !reflect.DeepEqual(w.Examples, e.Examples) {
			t.Errorf("edge %+v, want %+v", e, w)
		}
	}
	if g.Edges[0].Count != 2 {
		t.Errorf("edges not sorted by count: %+v", g.Edges)
	}
	if len(g.Links) != len(ms) {
		t.Fatalf("%d links, want %d", len(g.Links), len(ms))
	}
	for _, l := range g.Links {
		if l.DocID == "d2" && l.Start == 0 && l.Entity != obama {
			t.Errorf("link %+v: want entity %s", l, obama)
		}
	}
}

func TestBuildIgnoresOrder(t *testing.T) {
	var docs []pipeline.Document
	var ms []pipeline.Mention
	names := []string{"Ada", "Alan", "Grace", "Edsger", "Barbara"}
	for i := range 40 {
		id := string(rune('a'+i%26)) + string(rune('0'+i/26))
		txt := "Ada met Alan. Grace met Edsger and Barbara. Ada and Grace."
		docs = append(docs, pipeline.Document{ID: id, Text: txt})
		for _, n := range names[:2+i%4] {
			for _, sp := range text.Find(txt, n) {
				ms = append(ms, pipeline.Mention{DocID: id, Start: sp.Start, End: sp.End, Text: n, Label: "person", Archetype: pipeline.Person})
			}
		}
	}
	want := Build(docs, ms)
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		r.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
		r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		if got := Build(docs, ms); !reflect.DeepEqual(got, want) {
			t.Fatal("the graph depends on the input order")
		}
	}
	for _, e := range want.Edges {
		if len(e.Examples) > MaxExamples {
			t.Errorf("edge %+v: more than %d examples", e, MaxExamples)
		}
	}
	if e := want.Edges[0]; len(e.Examples) != MaxExamples || e.Examples[0] != "a0" || e.Examples[1] != "a1" {
		t.Errorf("examples %v: want the %d smallest ids", e.Examples, MaxExamples)
	}
}

// TestParts checks the package comment's promise: parts built separately
// and combined give the graph one Builder gives.
func TestParts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"Ada", "Babbage", "the Beatles", "The Beatles", "Paris", "O’Brien", "O'Brien", "C++"}
	var docs []pipeline.Document
	var ms []pipeline.Mention
	for d := range 60 {
		id := fmt.Sprintf("d%03d", r.IntN(1000)*100+d)
		var text string
		for range 1 + r.IntN(3) {
			for k := range 1 + r.IntN(3) {
				n := names[r.IntN(len(names))]
				if k > 0 {
					text += " and "
				}
				ms = append(ms, pipeline.Mention{DocID: id, Start: len(text), End: len(text) + len(n), Text: n,
					Label: []string{"person", "band"}[r.IntN(2)], Archetype: []pipeline.Archetype{"person", "misc"}[r.IntN(2)]})
				text += n
			}
			text += " met. "
		}
		docs = append(docs, pipeline.Document{ID: id, Text: text})
	}
	want := Build(docs, ms)
	for _, nparts := range []int{1, 2, 7} {
		byDoc := make(map[string][]pipeline.Mention)
		for _, m := range ms {
			byDoc[m.DocID] = append(byDoc[m.DocID], m)
		}
		builders := make([]*Builder, nparts)
		for i := range builders {
			builders[i] = NewBuilder()
		}
		for i, d := range docs {
			builders[i%nparts].Add(d, byDoc[d.ID])
		}
		ents := make(map[string]*EntityPart)
		edges := make(map[[2]string]*Edge)
		var got Graph
		for _, b := range builders {
			p := b.Part()
			for _, e := range p.Entities {
				if x, ok := ents[e.ID]; ok {
					x.Add(e)
				} else {
					ents[e.ID] = &e
				}
			}
			for _, e := range p.Edges {
				if x, ok := edges[[2]string{e.Source, e.Target}]; ok {
					x.Add(e)
				} else {
					edges[[2]string{e.Source, e.Target}] = &e
				}
			}
			got.Links = append(got.Links, p.Links...)
		}
		for _, e := range ents {
			got.Entities = append(got.Entities, e.Entity())
		}
		for _, e := range edges {
			got.Edges = append(got.Edges, *e)
		}
		slices.SortFunc(got.Entities, CompareEntities)
		slices.SortFunc(got.Edges, CompareEdges)
		slices.SortFunc(got.Links, CompareLinks)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d parts: combined graph differs from one builder's (%d/%d entities, %d/%d edges)",
				nparts, len(got.Entities), len(want.Entities), len(got.Edges), len(want.Edges))
		}
	}
}
