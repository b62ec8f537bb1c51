package rules

import (
	"context"
	"reflect"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/schemas"
)

func load(t testing.TB, name string) *pipeline.Schema {
	t.Helper()
	s, err := schemas.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// annotate runs all three stages on one text.
func annotate(t testing.TB, b *Backend, text string) []pipeline.Mention {
	t.Helper()
	ctx := context.Background()
	docs := []pipeline.Document{{ID: "d", Text: text}}
	r, err := pipeline.Annotate(ctx, b, docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failures) > 0 {
		t.Fatalf("failures: %v", r.Failures)
	}
	return r.Mentions
}

func TestDiscover(t *testing.T) {
	tests := []struct {
		schema, text string
		want         []string
	}{
		{"crossner-literature", "In 1982 , she won the Pulitzer Prize for Fiction .",
			[]string{"Pulitzer Prize for Fiction"}},
		{"crossner-politics", "He left the Liberal Party of Canada and met Kim Dae-jung of the New Democratic Party .",
			[]string{"Liberal Party of Canada", "Kim Dae-jung", "New Democratic Party"}},
		{"crossner-politics", "At the 2001 Italian general election the Greens lost seats .",
			[]string{"2001 Italian general election", "Greens"}},
		{"crossner-politics", "However , World War I ended and U.S. Senator Smith spoke .",
			[]string{"World War I", "U.S.", "Smith"}},
		{"crossner-ai", "She studied machine learning at Stanford University .",
			[]string{"machine learning", "Stanford University"}},
		// Lower-case terms are proposed only for schemas with a label for them.
		{"crossner-literature", "She studied machine learning at Stanford University .",
			[]string{"Stanford University"}},
		{"crossner-ai", "The iPhone app was typeset in LaTeX by the NIST team .",
			[]string{"iPhone", "LaTeX", "NIST"}},
		{"crossner-music", `Their song "Let It Be" topped charts in the UK .`,
			[]string{"Let It Be", "UK"}},
		{"crossner-music", "Heavy metal music grew from blues rock .",
			[]string{"Heavy metal music", "blues rock"}},
		{"crossner-science", "Scheele isolated Tartaric acid and studied Jupiter .",
			[]string{"Scheele", "Tartaric acid", "Jupiter"}},
		{"crossner-literature", "The Fall of the House of Usher is a story by Edgar Allan Poe .",
			[]string{"Fall of the House of Usher", "Edgar Allan Poe"}},
		{"crossner-ai", "the American Academy of Arts and Sciences met in November 2010 .",
			[]string{"American Academy of Arts and Sciences"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			b := New(load(t, tt.schema))
			r, err := b.Discover(context.Background(), []pipeline.Document{{ID: "d", Text: tt.text}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			rs := []rune(tt.text)
			for _, m := range r.Mentions {
				got = append(got, m.Text)
				if string(rs[m.Start:m.End]) != m.Text {
					t.Errorf("mention %q has offsets [%d,%d)", m.Text, m.Start, m.End)
				}
				if !reflect.DeepEqual(m.Extractors, []string{"rules"}) {
					t.Errorf("extractors %v", m.Extractors)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCodePointOffsets(t *testing.T) {
	b := New(load(t, "crossner-ai"))
	text := "🎉 Jürgen Schmidhuber visited Zürich ."
	ms := annotate(t, b, text)
	want := []struct {
		text       string
		start, end int
	}{{"Jürgen Schmidhuber", 2, 20}, {"Zürich", 29, 35}}
	if len(ms) != len(want) {
		t.Fatalf("got %+v", ms)
	}
	for i, w := range want {
		if ms[i].Text != w.text || ms[i].Start != w.start || ms[i].End != w.end {
			t.Errorf("mention %d = %q [%d,%d), want %q [%d,%d)", i, ms[i].Text, ms[i].Start, ms[i].End, w.text, w.start, w.end)
		}
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		schema, text, mention, label string
		arch                         pipeline.Archetype
	}{
		{"crossner-ai", "He moved to Stanford University .", "Stanford University", "university", pipeline.Organization},
		{"crossner-literature", "He moved to Stanford University .", "Stanford University", "organisation", pipeline.Organization},
		{"crossner-ai", "It was written in Python .", "Python", "programlang", pipeline.ComputerScience},
		{"crossner-ai", "He was born in Canada .", "Canada", "country", pipeline.Location},
		{"crossner-ai", "He was born in Toronto .", "Toronto", "location", pipeline.Location},
		{"crossner-music", "She sang jazz .", "jazz", "musicgenre", pipeline.Misc},
		{"crossner-music", "She played the cello .", "cello", "musicalinstrument", pipeline.Artifact},
		{"crossner-music", "They signed with Warp Records .", "Warp Records", "organisation", pipeline.Organization},
		{"crossner-music", "He won a Grammy Award .", "Grammy Award", "award", pipeline.Artifact},
		{"crossner-politics", "He led the Liberal Party of Canada .", "Liberal Party of Canada", "politicalparty", pipeline.Organization},
		{"crossner-politics", "It was the 1997 Canadian federal election .", "1997 Canadian federal election", "election", pipeline.Event},
		{"crossner-science", "Saturn has rings .", "Saturn", "astronomicalobject", pipeline.Science},
		{"crossner-science", "It is rich in carbon dioxide .", "carbon dioxide", "chemicalcompound", pipeline.Science},
		{"crossner-science", "It was published in Physical Review Letters .", "Physical Review Letters", "academicjournal", pipeline.CreativeWork},
		// Specificity: a person in a schema with a narrower person label.
		{"crossner-science", "The physicist Werner Heisenberg spoke .", "Werner Heisenberg", "scientist", pipeline.Person},
		{"crossner-literature", "The novelist Joseph Conrad wrote .", "Joseph Conrad", "writer", pipeline.Person},
		{"crossner-politics", "The senator John Diefenbaker spoke .", "John Diefenbaker", "politician", pipeline.Person},
		{"crossner-literature", "She read it in English .", "English", "misc", pipeline.Misc},
	}
	for _, tt := range tests {
		t.Run(tt.schema+"/"+tt.mention, func(t *testing.T) {
			ms := annotate(t, New(load(t, tt.schema)), tt.text)
			for _, m := range ms {
				if m.Text != tt.mention {
					continue
				}
				if m.Label != tt.label || m.Archetype != tt.arch {
					t.Errorf("%q: got %s/%s, want %s/%s", m.Text, m.Archetype, m.Label, tt.arch, tt.label)
				}
				if m.Score < 0 || m.Score > 1 {
					t.Errorf("score %v out of [0,1]", m.Score)
				}
				return
			}
			t.Errorf("%q not found in %+v", tt.mention, ms)
		})
	}
}

// TestSchemaDriven checks that calibration follows whatever schema it is
// given: label names and definitions decide, not built-in label names.
func TestSchemaDriven(t *testing.T) {
	s, err := pipeline.ParseSchema([]byte(`
name: custom
fallback: other
labels:
  - name: scholar
    description: A person who studies or teaches at a university, such as a professor or physicist.
  - name: human
    description: A person of any kind.
    archetypes: [person]
  - name: place
    description: A geographic place such as a country, city or region.
  - name: school
    description: A university, college or other place of higher learning.
  - name: other
    description: Anything else.
`))
	if err != nil {
		t.Fatal(err)
	}
	b := New(s)
	tests := []struct{ text, mention, label string }{
		{"The physicist Werner Heisenberg spoke .", "Werner Heisenberg", "scholar"},
		{"They flew to Canada .", "Canada", "place"},
		{"She taught at Stanford University .", "Stanford University", "school"},
	}
	for _, tt := range tests {
		ms := annotate(t, b, tt.text)
		found := false
		for _, m := range ms {
			if m.Text == tt.mention {
				found = true
				if m.Label != tt.label {
					t.Errorf("%q: label %q, want %q", m.Text, m.Label, tt.label)
				}
			}
			if s.Label(m.Label) == nil {
				t.Errorf("%q: label %q is not in the schema", m.Text, m.Label)
			}
		}
		if !found {
			t.Errorf("%q not found", tt.mention)
		}
	}
}

func TestDeterministic(t *testing.T) {
	b := New(load(t, "crossner-music"))
	text := "Squarepusher released Go Plastic on Warp Records in London , and played bass guitar with The Pogues ."
	first := annotate(t, b, text)
	for range 5 {
		if got := annotate(t, New(load(t, "crossner-music")), text); !reflect.DeepEqual(got, first) {
			t.Fatalf("run differs:\n%+v\n%+v", got, first)
		}
	}
}

func TestSortedNonOverlapping(t *testing.T) {
	b := New(load(t, "crossner-politics"))
	docs := []pipeline.Document{
		{ID: "b", Text: "Paris and Berlin signed the Treaty of Rome ."},
		{ID: "a", Text: "The 2004 Canadian federal election followed the Reform Party of Canada split ."},
	}
	r, err := b.Discover(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k < len(r.Mentions); k++ {
		p, m := r.Mentions[k-1], r.Mentions[k]
		if p.DocID > m.DocID || p.DocID == m.DocID && p.End > m.Start {
			t.Errorf("mentions out of order or overlapping: %+v then %+v", p, m)
		}
	}
}

func TestBadMentions(t *testing.T) {
	b := New(load(t, "crossner-ai"))
	docs := []pipeline.Document{{ID: "d", Text: "Hello Alan Turing ."}}
	ms := []pipeline.Mention{
		{DocID: "d", Start: 6, End: 17, Text: "Alan Turing"},
		{DocID: "d", Start: 40, End: 50},
		{DocID: "nope", Start: 0, End: 5},
	}
	r, err := b.Calibrate(context.Background(), docs, ms)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mentions) != 1 || len(r.Failures) != 2 {
		t.Fatalf("got %d mentions, %d failures: %+v", len(r.Mentions), len(r.Failures), r)
	}
	if m := r.Mentions[0]; !m.Archetype.Valid() || m.Label == "" {
		t.Errorf("unmediated mention not filled in: %+v", m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Discover(ctx, docs); err == nil {
		t.Error("Discover ignored a cancelled context")
	}
}

func TestNameWords(t *testing.T) {
	tests := []struct {
		name string
		def  string
		want []string
	}{
		{"programlang", "A programming language in which software is written.", []string{"programming", "language"}},
		{"politicalparty", "A political party.", []string{"political", "party"}},
		{"musicalartist", "A person who performs music.", []string{"musical", "artist"}},
		{"Restaurant_Name", "The name of a restaurant.", []string{"restaurant", "name"}},
		{"academicJournal", "A journal.", []string{"academic", "journal"}},
		{"metrics", "A measure.", []string{"metric"}},
	}
	for _, tt := range tests {
		if got := nameWords(tt.name, words(tt.def)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("nameWords(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
