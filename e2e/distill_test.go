package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/workflows"
)

// Distill annotates one shard in four with the backend (here the rules
// backend, standing in for an LLM), estimates an SAE-NER map from them, tags
// the other shards with it, and reports agreement on a held-out shard.
func TestDistill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	store, root := localStore(t)
	data, _ := blob.Normalize(dataset.Path(t, "crossner", "politics", "dev.txt"))
	put(t, store, blob.Join(root, "s.yaml"), schemaFile(t))
	h := newHarness(t, store, nil)
	cfg := activities.Config{Job: "distill", Corpus: data, Schema: blob.Join(root, "s.yaml"), Output: blob.Join(root, "out"),
		Backend: activities.BackendSpec{Name: "rules"}, Reader: activities.Reader{Format: corpus.FormatBIO}, ShardSize: 20, Window: 4}
	wr, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "distill", TaskQueue: queue},
		workflows.Distill, workflows.DistillInput{Config: cfg, Every: 4, HoldoutEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	var sum workflows.DistillSummary
	if err := wr.Get(ctx, &sum); err != nil {
		t.Fatal(err)
	}
	// 541 sentences in 28 shards: 0, 4, ..., 24 sampled (7), 8 and 20 held out.
	if sum.Docs != 541 || sum.Sampled != 7 || sum.Tagged != 21 {
		t.Fatalf("summary %+v: want 541 documents, 7 sampled shards and 21 tagged", sum)
	}
	if sum.Estimate.Docs != 5*20 || sum.Estimate.Entries == 0 {
		t.Errorf("estimate %+v: want a map from the 100 documents of the 5 sampled shards not held out", sum.Estimate)
	}
	ag := sum.Agreement
	if ag.Docs != 40 || ag.StrictF1 <= 0 || ag.StrictF1 > 100 || ag.SpanF1 < ag.StrictF1 {
		t.Errorf("agreement %+v: want 40 held-out documents and 0 < strict F1 <= span F1 <= 100", ag)
	}
	by := map[string]int{}
	for _, m := range mentions(t, store, sum.Outputs.Mentions) {
		by[fmt.Sprint(m.Extractors)]++
		if !slices.Equal(m.Extractors, []string{"rules"}) && !slices.Equal(m.Extractors, []string{"sae"}) {
			t.Fatalf("mention %+v: want it from the rules backend or the sae tagger", m)
		}
	}
	if by["[rules]"] == 0 || by["[sae]"] == 0 {
		t.Errorf("mentions by extractor %v: want both the backend's and the tagger's", by)
	}
	t.Logf("estimate %+v, agreement %+v, mentions by extractor %v", sum.Estimate, ag, by)
}
