package pipeline

// Archetype is one of the 14 domain-invariant entity classes that SAM-NER
// routes every mention through before it is mapped to a target label.
type Archetype string

// The archetypes, in SAM-NER's order.
const (
	Person          Archetype = "person"
	Organization    Archetype = "organization"
	Location        Archetype = "location"
	Biology         Archetype = "biology"
	Medicine        Archetype = "medicine"
	Food            Archetype = "food"
	Vehicle         Archetype = "vehicle"
	CreativeWork    Archetype = "creative_work"
	Event           Archetype = "event"
	Artifact        Archetype = "artifact"
	ComputerScience Archetype = "computer_science"
	Political       Archetype = "political"
	Science         Archetype = "science"
	Misc            Archetype = "misc"
)

// Archetypes lists every archetype in a fixed order.
var Archetypes = []Archetype{
	Person, Organization, Location, Biology, Medicine, Food, Vehicle,
	CreativeWork, Event, Artifact, ComputerScience, Political, Science, Misc,
}

// archetypeDefs are zeroner's own one-sentence definitions, used in prompts and
// by the rules backend's label matching.
var archetypeDefs = map[Archetype]string{
	Person:          "An individual human or a named fictional character, whatever their role: scientist, writer, artist, politician, athlete.",
	Organization:    "A named group of people acting together: a company, university, band, political party, agency, team, publisher or institute.",
	Location:        "A named place: a country, region, city, administrative division, body of water, mountain, building, facility or landmark.",
	Biology:         "A named living thing or part of one: a species, gene, protein, enzyme, cell type or anatomical structure.",
	Medicine:        "A named disease, symptom, drug, treatment or medical procedure.",
	Food:            "A named dish, ingredient, drink or cuisine.",
	Vehicle:         "A named vehicle or model of one: a car, aircraft, ship, train or spacecraft.",
	CreativeWork:    "A named work of art or publication: a book, poem, song, album, film, painting, journal, magazine or newspaper.",
	Event:           "A named occurrence with a time: a war, battle, election, festival, conference, competition, award ceremony or disaster.",
	Artifact:        "A named human-made object or product that is not software: a device, instrument, weapon, award or trophy.",
	ComputerScience: "A named concept of computing: a programming language, algorithm, software product, data set, protocol, task or evaluation metric.",
	Political:       "A named political or social body of ideas or people: a law, treaty, policy, ideology, religion, religious group or ethnicity.",
	Science:         "A named scientific concept or object: a field of study, theory, chemical compound or element, astronomical object or unit.",
	Misc:            "A named entity that fits none of the other archetypes, such as a language, nationality, genre or other proper name.",
}

// Definition returns the archetype's one-sentence definition, or "" for an
// unknown archetype.
func (a Archetype) Definition() string { return archetypeDefs[a] }

// Valid reports whether a is one of the 14 archetypes.
func (a Archetype) Valid() bool {
	_, ok := archetypeDefs[a]
	return ok
}
