package retriever

import (
	"math"
	"slices"
)

// RPrecision is the precision of the first R ranked ids, R being the number
// of relevant ids (those relevant maps to true): the metric of NER
// Retriever, per type. A ranking shorter than R counts its missing places
// as misses, and an id ranked twice counts once. With no relevant ids it
// is NaN, which MacroAverage skips.
func RPrecision(ranked []string, relevant map[string]bool) float64 {
	r := 0
	for _, ok := range relevant {
		if ok {
			r++
		}
	}
	if r == 0 {
		return math.NaN()
	}
	hits := 0
	seen := make(map[string]bool, r)
	for _, id := range ranked[:min(r, len(ranked))] {
		if relevant[id] && !seen[id] {
			seen[id] = true
			hits++
		}
	}
	return float64(hits) / float64(r)
}

// MacroAverage is the mean of the scores (per type, say), every key
// weighing the same; NaN scores are skipped, and with none left the mean is
// NaN. Scores are summed in key order, so the result does not depend on
// map order.
func MacroAverage(scores map[string]float64) float64 {
	keys := make([]string, 0, len(scores))
	for k := range scores {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sum float64
	n := 0
	for _, k := range keys {
		if v := scores[k]; !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
