package student

import (
	"testing"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

func TestBackend(t *testing.T) {
	s, err := pipeline.ParseSchema([]byte(`name: test
labels:
  - name: person
    description: A person.
    archetypes: [person]
  - name: location
    description: A place.
    archetypes: [location]
  - name: organisation
    description: An organisation.
`))
	if err != nil {
		t.Fatal(err)
	}
	b := NewBackend(train(t, synth(1, 300), Options{Bits: 14}), s)
	docs := []pipeline.Document{
		{ID: "a", Text: "Zoë Dupré visited Zürich in 1950 . In 1960 , Alan Turing joined IBM ."},
		{ID: "b", Text: ""},
		{ID: "c", Text: "The meeting in Tokyo was short ."},
	}
	r, err := pipeline.Annotate(ctx, b, docs)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.CheckMentions(docs, r.Mentions); err != nil {
		t.Fatal(err)
	}
	type got struct {
		doc, text, label string
		arch             pipeline.Archetype
	}
	want := []got{
		{"a", "Zoë Dupré", "person", pipeline.Person},
		{"a", "Zürich", "location", pipeline.Location},
		{"a", "Alan Turing", "person", pipeline.Person},
		{"a", "IBM", "organisation", pipeline.Misc}, // the schema gives it no archetype
		{"c", "Tokyo", "location", pipeline.Location},
	}
	if len(r.Mentions) != len(want) {
		t.Fatalf("mentions %+v, want %d", r.Mentions, len(want))
	}
	for i, m := range r.Mentions {
		doc := docs[0].Text
		if m.DocID == "c" {
			doc = docs[2].Text
		}
		g := got{m.DocID, m.Text, m.Label, m.Archetype}
		if g != want[i] || text.Slice(doc, m.Start, m.End) != m.Text || len(m.Extractors) != 1 || m.Extractors[0] != Extractor || m.Score <= 0 {
			t.Errorf("mention %d: %+v, want %+v from the %s extractor", i, m, want[i], Extractor)
		}
	}
}
