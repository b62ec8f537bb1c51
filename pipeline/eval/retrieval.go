package eval

// Relevant returns, per label, the ids of the documents with a gold entity
// of the label: the relevant set of a query for the label.
func Relevant(docs []Doc) map[string]map[string]bool {
	out := make(map[string]map[string]bool)
	for _, d := range docs {
		for _, g := range d.Gold {
			addDoc(out, g.Label, d.ID)
		}
	}
	return out
}

// Reached returns, per label, the ids of the documents where a predicted
// span overlaps a gold entity of the label: the documents that a retriever
// over the predicted mentions can find at best.
func Reached(docs []Doc) map[string]map[string]bool {
	out := make(map[string]map[string]bool)
	for _, d := range docs {
		for _, p := range d.Pred {
			for _, g := range d.Gold {
				if g.Start < p.End && p.Start < g.End {
					addDoc(out, g.Label, d.ID)
				}
			}
		}
	}
	return out
}

func addDoc(sets map[string]map[string]bool, label, id string) {
	if sets[label] == nil {
		sets[label] = make(map[string]bool)
	}
	sets[label][id] = true
}
