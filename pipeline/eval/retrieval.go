package eval

import (
	"fmt"

	"github.com/zeroner/zeroner/pipeline/retriever"
)

// Mention is a predicted span of a document, as a run's mentions table
// holds it.
type Mention struct {
	DocID string
	Text  string
	Span
}

// AddPredictions appends each mention to its document's predictions. A
// mention of a document the gold lacks is an error: the run annotated
// something other than the gold's sentences.
func AddPredictions(docs []Doc, ms []Mention) error {
	index := make(map[string]int, len(docs))
	for i, d := range docs {
		index[d.ID] = i
	}
	for _, m := range ms {
		i, ok := index[m.DocID]
		if !ok {
			return fmt.Errorf("mention %q of document %s, which is not in the gold", m.Text, m.DocID)
		}
		docs[i].Pred = append(docs[i].Pred, m.Span)
	}
	return nil
}

// Relevant maps each label to the documents holding a gold span of it: the
// documents a query for the label should retrieve.
func Relevant(docs []Doc) map[string]map[string]bool {
	relevant := make(map[string]map[string]bool)
	for _, d := range docs {
		for _, g := range d.Gold {
			addDoc(relevant, g.Label, d.ID)
		}
	}
	return relevant
}

// reached maps each label to the documents where a mention overlaps a gold
// span of it. Mentions of documents not in docs reach nothing.
func reached(docs []Doc, ms []Mention) map[string]map[string]bool {
	gold := make(map[string][]Span, len(docs))
	for _, d := range docs {
		gold[d.ID] = d.Gold
	}
	out := make(map[string]map[string]bool)
	for _, m := range ms {
		for _, g := range gold[m.DocID] {
			if g.Start < m.End && m.Start < g.End {
				addDoc(out, g.Label, m.DocID)
			}
		}
	}
	return out
}

func addDoc(sets map[string]map[string]bool, label, doc string) {
	if sets[label] == nil {
		sets[label] = make(map[string]bool)
	}
	sets[label][doc] = true
}

// RetrievalScore is one label's retrieval scores.
type RetrievalScore struct {
	Label    string
	Relevant int                // R: the documents holding a gold span of the label
	Scores   map[string]float64 // R-Precision by system
	// Reach is the share of the relevant documents where a mention
	// overlaps a gold span of the label: retrieval finds documents
	// through mentions, so it caps recall.
	Reach float64
}

// ScoreRetrieval scores the rankings of each system: ranked[system][i] are
// the ids of the documents the system retrieved for labels[i], best first.
// Every label must have relevant documents. It returns the labels' scores
// and their macro averages by system, and of the reach as "reach".
func ScoreRetrieval(docs []Doc, ms []Mention, labels []string, ranked map[string][][]string, systems []string) ([]RetrievalScore, map[string]float64) {
	relevant, reach := Relevant(docs), reached(docs, ms)
	per := make(map[string]map[string]float64, len(systems)+1)
	for _, sys := range append([]string{"reach"}, systems...) {
		per[sys] = make(map[string]float64)
	}
	out := make([]RetrievalScore, len(labels))
	for i, l := range labels {
		s := RetrievalScore{Label: l, Relevant: len(relevant[l]), Scores: make(map[string]float64)}
		for _, sys := range systems {
			s.Scores[sys] = retriever.RPrecision(ranked[sys][i], relevant[l])
			per[sys][l] = s.Scores[sys]
		}
		s.Reach = float64(len(reach[l])) / float64(s.Relevant)
		per["reach"][l] = s.Reach
		out[i] = s
	}
	macro := make(map[string]float64, len(per))
	for sys, scores := range per {
		macro[sys] = retriever.MacroAverage(scores)
	}
	return out, macro
}
