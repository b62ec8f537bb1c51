package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/io/corpus"
)

// readBIO reads WriteBIO's output back with the corpus reader, which takes
// the outermost columns: the token and the predicted tag.
func readBIO(t *testing.T, data []byte) []corpus.Doc {
	t.Helper()
	var docs []corpus.Doc
	err := corpus.ReadBIO(bytes.NewReader(data), "pred", corpus.Options{BIOOrder: corpus.OrderTokenTag}, func(d corpus.Doc) error {
		docs = append(docs, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func spansOf(cs []corpus.Span) []Span {
	out := []Span{}
	for _, c := range cs {
		out = append(out, Span{c.Start, c.End, c.Label})
	}
	return out
}

func TestWriteBIORoundTrip(t *testing.T) {
	// Token-aligned spans come back as they were, in code points.
	docs := []Doc{
		{ID: "a", Text: "Zoë Ström spoke in Zürich about 東京 .",
			Gold: []Span{{0, 9, "person"}, {19, 25, "location"}},
			Pred: []Span{{0, 9, "person"}, {19, 25, "location"}, {32, 34, "location"}}},
		{ID: "b", Text: "Nothing here ."},
		{ID: "c", Text: "New York New York", // two adjacent spans of one label stay two
			Pred: []Span{{0, 8, "location"}, {9, 17, "location"}}},
	}
	var b bytes.Buffer
	if err := WriteBIO(&b, docs); err != nil {
		t.Fatal(err)
	}
	got := readBIO(t, b.Bytes())
	if len(got) != len(docs) {
		t.Fatalf("read back %d docs, want %d", len(got), len(docs))
	}
	for i, d := range docs {
		if got[i].Text != d.Text {
			t.Errorf("doc %s: text %q, want %q", d.ID, got[i].Text, d.Text)
		}
		want := append([]Span{}, d.Pred...)
		if !reflect.DeepEqual(spansOf(got[i].Gold), want) {
			t.Errorf("doc %s: spans %v, want %v", d.ID, spansOf(got[i].Gold), want)
		}
	}
	// Three columns per token line: token, gold, predicted (conlleval's).
	first, _, _ := strings.Cut(b.String(), "\n")
	if first != "Zoë\tB-person\tB-person" {
		t.Errorf("first line %q", first)
	}
}

func TestWriteBIOWhatBIOCannotHold(t *testing.T) {
	docs := []Doc{{ID: "a", Text: "Ada Lovelace met Charles Babbage .", Pred: []Span{
		{0, 12, "person"},       // kept
		{4, 12, "person"},       // nested in the first: dropped
		{17, 21, "person"},      // inside "Charles": grows to the token
		{20, 31, "scientist"},   // overlaps the grown span: dropped
		{33, 34, "punctuation"}, // kept
		{32, 33, "space"},       // covers no token: dropped
	}}}
	var b bytes.Buffer
	if err := WriteBIO(&b, docs); err != nil {
		t.Fatal(err)
	}
	got := spansOf(readBIO(t, b.Bytes())[0].Gold)
	want := []Span{{0, 12, "person"}, {17, 24, "person"}, {33, 34, "punctuation"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spans %v, want %v", got, want)
	}
}

func TestWriteJSONL(t *testing.T) {
	docs := []Doc{
		{ID: "a", Text: "Zoë met <Ada> .", Gold: []Span{{9, 12, "person"}}, Pred: []Span{{9, 12, "person"}, {0, 3, "person"}, {0, 3, "person"}}},
		{ID: "b", Text: "Nothing ."},
	}
	var b bytes.Buffer
	if err := WriteJSONL(&b, docs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `\u003c`) {
		t.Error("HTML characters escaped in the JSONL")
	}
	sc := bufio.NewScanner(&b)
	var got []jsonDoc
	for sc.Scan() {
		var d jsonDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, d)
	}
	want := []jsonDoc{
		{ID: "a", Text: "Zoë met <Ada> .",
			Spans: []jsonSpan{{0, 3, "person", "Zoë"}, {0, 3, "person", "Zoë"}, {9, 12, "person", "Ada"}},
			Gold:  []jsonSpan{{9, 12, "person", "Ada"}}},
		{ID: "b", Text: "Nothing .", Spans: []jsonSpan{}, Gold: []jsonSpan{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
