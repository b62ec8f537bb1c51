package activities

// Sample says which shards of a distill run the configured backend annotates
// (every Every-th) and which of those are held out from estimation to
// measure agreement (every HoldoutEvery-th sampled shard; 0: none).
type Sample struct {
	Shards       int `json:"shards"`
	Every        int `json:"every"`
	HoldoutEvery int `json:"holdout_every"`
}

// Sampled reports whether shard is annotated by the configured backend.
func (s Sample) Sampled(shard int) bool { return s.Every > 0 && shard%s.Every == 0 }

// Holdout reports whether a sampled shard is held out from estimation.
func (s Sample) Holdout(shard int) bool {
	return s.Sampled(shard) && s.HoldoutEvery > 0 && (shard/s.Every)%s.HoldoutEvery == s.HoldoutEvery-1
}

// EstimateStats describes an estimated map.
type EstimateStats struct {
	Docs    int `json:"docs"`    // sample documents it was estimated from
	Entries int `json:"entries"` // rows of the feature -> type table
}

// Agreement is how the tagger agrees with the configured backend on the
// held-out sample: F1 in percent, the backend's mentions taken as gold.
type Agreement struct {
	Docs     int     `json:"docs"`
	StrictF1 float64 `json:"strict_f1"`
	SpanF1   float64 `json:"span_f1"`
}
