package silver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

func TestFilter(t *testing.T) {
	m := func(score float64, ext ...string) pipeline.Mention {
		return pipeline.Mention{Score: score, Extractors: ext}
	}
	tests := []struct {
		name string
		f    Filter
		m    pipeline.Mention
		want bool
	}{
		{"no filter", Filter{}, m(0, "rules"), true},
		{"score below", Filter{MinScore: 0.5}, m(0.49, "rules"), false},
		{"score at", Filter{MinScore: 0.5}, m(0.5, "rules"), true},
		{"one vote of two", Filter{MinVotes: 2}, m(1, "anchor"), false},
		{"two votes", Filter{MinVotes: 2}, m(1, "anchor", "explorer"), true},
		{"no extractor recorded is one vote", Filter{MinVotes: 1}, m(1), true},
		{"gazetteer votes", Filter{MinVotes: 2}, m(1, "anchor", "gazetteer"), true},
		{"seed-free: gazetteer does not vote", Filter{MinVotes: 2, SeedFree: true}, m(1, "anchor", "gazetteer"), false},
		{"seed-free: gazetteer alone dropped", Filter{SeedFree: true}, m(1, "gazetteer"), false},
		{"seed-free: others kept", Filter{SeedFree: true, MinVotes: 1}, m(1, "gazetteer", "anchor"), true},
	}
	for _, tt := range tests {
		if got := tt.f.Keep(tt.m); got != tt.want {
			t.Errorf("%s: Keep = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDev(t *testing.T) {
	for _, share := range []float64{0, 0.1, 0.25, 1} {
		n := 20000
		dev := 0
		for i := range n {
			id := fmt.Sprintf("file:///corpus/part-%03d.jsonl#L%d", i%7, i)
			d := Dev(id, share)
			if d != Dev(id, share) {
				t.Fatalf("Dev(%q) changes", id)
			}
			if d {
				dev++
			}
		}
		got := float64(dev) / float64(n)
		if math.Abs(got-share) > 0.01 {
			t.Errorf("share %.2f: %.4f of documents in dev", share, got)
		}
	}
	// A document in dev at 10% stays in dev at 20%.
	for i := range 1000 {
		id := fmt.Sprint(i)
		if Dev(id, 0.1) && !Dev(id, 0.2) {
			t.Fatalf("%s leaves dev as the share grows", id)
		}
	}
}

func mention(txt, s, label string) pipeline.Mention {
	sp := text.Find(txt, s)[0]
	return pipeline.Mention{Start: sp.Start, End: sp.End, Text: s, Label: label}
}

func TestSentences(t *testing.T) {
	txt := "Barack Obama visited the Obama-era office. It rained in New\nYork.  "
	doc := pipeline.Document{ID: "d", Text: txt}
	ms := []pipeline.Mention{
		mention(txt, "Barack Obama", "person"),
		{Start: 25, End: 30, Text: "Obama", Label: "person"},  // inside "Obama-era"
		{Start: 28, End: 36, Text: "ma-era o", Label: "misc"}, // overlaps the one before: dropped
		mention(txt, "New\nYork", "location"),
	}
	got := Sentences(doc, ms)
	want := []Sentence{
		{ID: "d@1", Tokens: []string{"Barack", "Obama", "visited", "the", "Obama-era", "office", "."},
			Tags: []string{"B-person", "I-person", "O", "O", "B-person", "O", "O"}},
		{ID: "d@2", Tokens: []string{"It", "rained", "in", "New", "York", "."},
			Tags: []string{"O", "O", "O", "B-location", "I-location", "O"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sentences =\n%+v\nwant\n%+v", got, want)
	}

	// A mention over a sentence end goes on with a B- tag.
	txt = "It was New York. City life was hard."
	got = Sentences(pipeline.Document{ID: "x", Text: txt}, []pipeline.Mention{mention(txt, "York. City", "misc")})
	if len(got) != 2 || strings.Join(got[0].Tags, " ") != "O O O B-misc I-misc" || got[1].Tags[0] != "B-misc" {
		t.Errorf("a mention over a sentence end: %+v", got)
	}
	if got := Sentences(pipeline.Document{ID: "e"}, nil); len(got) != 0 {
		t.Errorf("empty document: %d sentences", len(got))
	}
}

func TestWriteBIO(t *testing.T) {
	var b bytes.Buffer
	err := WriteBIO(&b, []Sentence{
		{Tokens: []string{"Ada", "wrote"}, Tags: []string{"B-person", "O"}},
		{Tokens: []string{"Hi"}, Tags: []string{"O"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ada\tB-person\nwrote\tO\n\nHi\tO\n\n"; b.String() != want {
		t.Errorf("WriteBIO = %q, want %q", b.String(), want)
	}
}

func TestWriteJSONL(t *testing.T) {
	var b bytes.Buffer
	txt := "Zürich & <Bern>"
	ms := []pipeline.Mention{mention(txt, "Bern", "city"), mention(txt, "Zürich", "city")}
	if err := WriteJSONL(&b, pipeline.Document{ID: "d", Text: txt}, ms); err != nil {
		t.Fatal(err)
	}
	want := `{"id":"d","text":"Zürich & <Bern>","spans":[{"start":0,"end":6,"label":"city","text":"Zürich"},{"start":10,"end":14,"label":"city","text":"Bern"}]}` + "\n"
	if b.String() != want {
		t.Errorf("WriteJSONL = %s, want %s", b.String(), want)
	}
}

func TestLabelMap(t *testing.T) {
	m := NewLabelMap([]string{"person", "city", "person"})
	if want := []string{"O", "B-person", "I-person", "B-city", "I-city"}; !reflect.DeepEqual(m.Tags(), want) {
		t.Errorf("Tags = %v, want %v", m.Tags(), want)
	}
	ids, err := m.IDs([]string{"B-city", "I-city", "O"})
	if err != nil || !reflect.DeepEqual(ids, []int32{3, 4, 0}) {
		t.Errorf("IDs = %v, %v", ids, err)
	}
	if _, err := m.IDs([]string{"B-misc"}); err == nil {
		t.Error("an unknown tag has an id")
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"0":"O","1":"B-person","2":"I-person","3":"B-city","4":"I-city"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}
