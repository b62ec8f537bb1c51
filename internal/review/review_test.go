package review

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
)

func TestRender(t *testing.T) {
	txt := "<New> York & the New York Times\x00."
	ms := []pipeline.Mention{
		{Start: 17, End: 31, Text: "New York Times", Label: "org", Archetype: pipeline.Organization, Score: 0.9, Extractors: []string{"anchor", "explorer"}},
		{Start: 17, End: 25, Text: "New York", Label: "city", Archetype: pipeline.Location, Score: 0.5},
		{Start: 1, End: 9, Text: "New> Yor", Label: "city"},
		{Start: 5, End: 10, Text: "> Yor", Label: "misc"}, // partly overlaps the one before
		{Start: 30, End: 40, Text: "out", Label: "misc"},  // past the end
	}
	var b bytes.Buffer
	err := Write(&b, Page{Title: "t", RunID: "r", Docs: 1, Mentions: map[string]int{"org": 1, "city": 2, "misc": 2},
		Sample: []Doc{{Document: pipeline.Document{ID: `d"1`, Text: txt}, Mentions: ms}}})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	got, err := Marks(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mark{
		{`d"1`, "city", 1, 9, "New> Yor"},
		{`d"1`, "org", 17, 31, "New York Times"},
		{`d"1`, "city", 17, 25, "New York"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("marks\n%v\nwant\n%v", got, want)
	}
	for _, s := range []string{`"&gt; Yor"`, `"out"`, "</mark>\uFFFD.", "anchor, explorer", "score 0.90"} {
		if !strings.Contains(page, escaped(s)) {
			t.Errorf("page lacks %q", s)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "<New>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

// escaped is s as the page escapes it.
func escaped(s string) string {
	return strings.NewReplacer(`"`, "&#34;").Replace(s)
}

func TestSampler(t *testing.T) {
	var ids []string
	for i := range 100 {
		ids = append(ids, fmt.Sprint("doc-", i))
	}
	sample := func(ids []string) string {
		s := NewSampler(7)
		for _, id := range ids {
			s.Add(pipeline.Document{ID: id})
		}
		var out []string
		for _, d := range s.Docs() {
			out = append(out, d.ID)
		}
		return strings.Join(out, " ")
	}
	a := sample(ids)
	rev := make([]string, len(ids))
	for i, id := range ids {
		rev[len(ids)-1-i] = id
	}
	if b := sample(rev); a != b {
		t.Errorf("sample depends on order: %s, %s", a, b)
	}
	if n := len(strings.Fields(a)); n != 7 {
		t.Errorf("%d documents sampled, want 7", n)
	}
	if got := sample(ids[:3]); len(strings.Fields(got)) != 3 {
		t.Errorf("sample of 3 documents: %s", got)
	}
}
