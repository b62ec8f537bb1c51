package schemas

import (
	"bufio"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/internal/dataset"
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
