package schemas

import (
	"bufio"
	"cmp"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/io/corpus"
)

// trainTypes returns the entity types of a CrossNER train file.
func trainTypes(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, tag, ok := strings.Cut(sc.Text(), "\t")
		if ok && len(tag) > 2 && (tag[:2] == "B-" || tag[:2] == "I-") {
			seen[tag[2:]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestShippedSchemas(t *testing.T) {
	want := []string{"crossner-ai", "crossner-literature", "crossner-music",
		"crossner-politics", "crossner-science", "mit-restaurant"}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			s, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != name {
				t.Errorf("schema name %q, want %q", s.Name, name)
			}
			got := s.Names()
			sort.Strings(got)
			var labels []string
			if domain, ok := strings.CutPrefix(name, "crossner-"); ok {
				if s.Fallback != "misc" {
					t.Errorf("fallback %q, want misc", s.Fallback)
				}
				labels = trainTypes(t, dataset.Path(t, "crossner", domain, "train.txt"))
			} else {
				// MIT-Restaurant ships only a test split, which we do not
				// read; its types are listed in SOURCES.md.
				labels = []string{"Amenity", "Cuisine", "Dish", "Hours", "Location",
					"Price", "Rating", "Restaurant_Name"}
			}
			if !reflect.DeepEqual(got, labels) {
				t.Errorf("labels %v, want %v", got, labels)
			}
			for _, l := range s.Labels {
				if strings.Count(strings.TrimSuffix(l.Description, "."), ". ") > 0 || !strings.HasSuffix(l.Description, ".") {
					t.Errorf("label %q: description should be one sentence: %q", l.Name, l.Description)
				}
			}
		})
	}
}

// sentences reads a CrossNER split as the pipeline does, one sentence per
// document, and returns each sentence's text with its gold spans (every
// reading, should a sentence occur more than once).
func sentences(t *testing.T, path string) map[string][][]corpus.Span {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(map[string][][]corpus.Span)
	err = corpus.ReadBIO(f, path, corpus.Options{}, func(d corpus.Doc) error {
		out[d.Text] = append(out[d.Text], d.Gold)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The CrossNER schemas' examples are sentences of the train split, never of
// dev or test, and their entities are exactly that sentence's gold ones.
func TestCrossNERExamples(t *testing.T) {
	for _, name := range Names() {
		domain, ok := strings.CutPrefix(name, "crossner-")
		if !ok {
			continue
		}
		t.Run(domain, func(t *testing.T) {
			s, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Examples) < 2 || len(s.Examples) > 3 {
				t.Errorf("%d examples, want two or three", len(s.Examples))
			}
			train := sentences(t, dataset.Path(t, "crossner", domain, "train.txt"))
			held := []map[string][][]corpus.Span{
				sentences(t, dataset.Path(t, "crossner", domain, "dev.txt")),
				sentences(t, dataset.Path(t, "crossner", domain, "test.txt")),
			}
			for i, x := range s.Examples {
				for _, h := range held {
					if _, ok := h[x.Text]; ok {
						t.Errorf("example %d is a dev or test sentence: %q", i+1, x.Text)
					}
				}
				golds, ok := train[x.Text]
				if !ok {
					t.Errorf("example %d is not a train sentence: %q", i+1, x.Text)
					continue
				}
				var got []corpus.Span
				for _, e := range x.Entities {
					for _, sp := range x.Spans(e) {
						got = append(got, corpus.Span{Start: sp.Start, End: sp.End, Label: e.Label})
					}
				}
				sortSpans(got)
				match := false
				for _, g := range golds {
					g = slices.Clone(g)
					sortSpans(g)
					match = match || slices.Equal(got, g)
				}
				if !match {
					t.Errorf("example %d: entities %v, want the gold %v", i+1, got, golds[0])
				}
			}
		})
	}
}

func sortSpans(ss []corpus.Span) {
	slices.SortFunc(ss, func(a, b corpus.Span) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), strings.Compare(a.Label, b.Label))
	})
}
