package llmsim

import (
	"slices"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
)

// labelArchetypes is the simulator's fixed label -> archetype rule for
// labels that no schema given to it pins: the label name, lower-cased, is
// looked up here; failing that, the longest key it contains decides;
// failing that, misc. It covers the label names of CrossNER and
// MIT-Restaurant.
var labelArchetypes = map[string]pipeline.Archetype{
	// person
	"person": pipeline.Person, "researcher": pipeline.Person, "scientist": pipeline.Person,
	"writer": pipeline.Person, "politician": pipeline.Person, "musicalartist": pipeline.Person,
	"artist": pipeline.Person, "author": pipeline.Person, "actor": pipeline.Person,
	"character": pipeline.Person, "athlete": pipeline.Person, "director": pipeline.Person,
	// organization
	"organisation": pipeline.Organization, "organization": pipeline.Organization,
	"university": pipeline.Organization, "band": pipeline.Organization, "party": pipeline.Organization,
	"company": pipeline.Organization, "team": pipeline.Organization, "restaurant_name": pipeline.Organization,
	// location
	"country": pipeline.Location, "location": pipeline.Location, "city": pipeline.Location,
	"region": pipeline.Location, "place": pipeline.Location,
	// biology, medicine, food, vehicle
	"enzyme": pipeline.Biology, "protein": pipeline.Biology, "gene": pipeline.Biology, "species": pipeline.Biology,
	"disease": pipeline.Medicine, "drug": pipeline.Medicine, "symptom": pipeline.Medicine,
	"cuisine": pipeline.Food, "dish": pipeline.Food, "food": pipeline.Food, "drink": pipeline.Food,
	"vehicle": pipeline.Vehicle, "aircraft": pipeline.Vehicle, "ship": pipeline.Vehicle,
	// creative work
	"book": pipeline.CreativeWork, "poem": pipeline.CreativeWork, "song": pipeline.CreativeWork,
	"album": pipeline.CreativeWork, "magazine": pipeline.CreativeWork, "journal": pipeline.CreativeWork,
	"film": pipeline.CreativeWork, "movie": pipeline.CreativeWork, "title": pipeline.CreativeWork,
	// event
	"event": pipeline.Event, "election": pipeline.Event, "conference": pipeline.Event,
	"festival": pipeline.Event, "war": pipeline.Event,
	// artifact
	"award": pipeline.Artifact, "product": pipeline.Artifact, "instrument": pipeline.Artifact,
	"device": pipeline.Artifact, "weapon": pipeline.Artifact,
	// computer science
	"algorithm": pipeline.ComputerScience, "programlang": pipeline.ComputerScience,
	"metrics": pipeline.ComputerScience, "task": pipeline.ComputerScience, "field": pipeline.ComputerScience,
	"software": pipeline.ComputerScience,
	// political
	"ideology": pipeline.Political, "religion": pipeline.Political, "law": pipeline.Political,
	"treaty": pipeline.Political, "policy": pipeline.Political,
	// science
	"theory": pipeline.Science, "discipline": pipeline.Science, "chemicalcompound": pipeline.Science,
	"chemicalelement": pipeline.Science, "astronomicalobject": pipeline.Science,
	"compound": pipeline.Science, "element": pipeline.Science,
	// misc
	"misc": pipeline.Misc, "genre": pipeline.Misc, "amenity": pipeline.Misc, "hours": pipeline.Misc,
	"price": pipeline.Misc, "rating": pipeline.Misc,
}

// ruleKeys are the rule's keys, longest first, for containment.
var ruleKeys = func() []string {
	ks := make([]string, 0, len(labelArchetypes))
	for k := range labelArchetypes {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return ks
}()

// archetypes returns the archetypes compatible with a label: the pins of
// the first schema given that pins it, else the fixed rule's one.
func (s *Server) archetypes(label string) []pipeline.Archetype {
	if as := s.pins[label]; len(as) > 0 {
		return as
	}
	l := strings.ToLower(label)
	if a, ok := labelArchetypes[l]; ok {
		return []pipeline.Archetype{a}
	}
	for _, k := range ruleKeys {
		if strings.Contains(l, k) {
			return []pipeline.Archetype{labelArchetypes[k]}
		}
	}
	return []pipeline.Archetype{pipeline.Misc}
}
