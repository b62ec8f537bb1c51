package text

// FindLoose: temporary until the schema branch lands.
func FindLoose(s, sub string) []Span { return nil }
