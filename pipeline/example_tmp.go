package pipeline

// Temporary until the schema branch lands.
type Example struct {
	Text     string
	Entities []ExampleEntity
}

type ExampleEntity struct {
	Text, Label string
	Occurrence  int
}
