package index

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"
	"github.com/zeroner/zeroner/io/blob"
)

// TestSearchFloor checks the weak-match report and MinScore: without it
// every document is kept and a best score under the index's floor marks
// the answer weak; with it mentions under it are left out, and with none
// left the answer is weak with no documents.
func TestSearchFloor(t *testing.T) {
	ctx := context.Background()
	store := blob.NewFile()
	a, cfg := smallIndex(t, ctx, store, 40)
	descs := []string{"sports team", "a recipe for lemon cake"}

	open := func(opt search.SearchOptions) *search.Searcher {
		t.Helper()
		s, err := search.OpenIndex(ctx, store, cfg.Index, opt)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	find := func(s *search.Searcher) []search.SearchResult {
		t.Helper()
		res, err := s.Search(ctx, descs, 5)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// No MinScore: the default floor of the local encoder with a head.
	s := open(search.SearchOptions{Exact: true})
	if f, ok := s.Floor(); !ok || f != search.LocalHeadFloor {
		t.Fatalf("Floor() = %v, %v; want the default %v", f, ok, search.LocalHeadFloor)
	}
	all := find(s)
	for _, r := range all {
		if len(r.Docs) != 5 {
			t.Fatalf("%q: %d documents, want 5 (no floor leaves any out)", r.Query, len(r.Docs))
		}
		if r.Best != r.Docs[0].Score {
			t.Errorf("%q: best score %v, the first document's %v", r.Query, r.Best, r.Docs[0].Score)
		}
		if r.Floor == nil || *r.Floor != search.LocalHeadFloor || r.Weak != (r.Best < search.LocalHeadFloor) {
			t.Errorf("%q: best %v, floor %v, weak %v: want weak exactly when the best is below %v", r.Query, r.Best, r.Floor, r.Weak, search.LocalHeadFloor)
		}
	}

	if !all[1].Weak {
		t.Errorf("%q, which nothing in the index is, scores %v: not weak", all[1].Query, all[1].Best)
	}

	// A MinScore between the scores: the mentions under it are left out.
	team := all[0]
	low := team.Docs[2].Score
	res := find(open(search.SearchOptions{Exact: true, MinScore: &low}))
	r := res[0]
	if r.Weak || r.Best != team.Best || r.Floor == nil || *r.Floor != low {
		t.Errorf("min score %v: best %v, floor %v, weak %v; want best %v, not weak", low, r.Best, r.Floor, r.Weak, team.Best)
	}
	kept := 0
	for _, d := range team.Docs {
		if d.Score >= low {
			kept++
		}
	}
	if len(r.Docs) != kept {
		t.Errorf("min score %v: %d documents, want the %d scoring at least that", low, len(r.Docs), kept)
	}
	for _, d := range r.Docs {
		for _, m := range d.Mentions {
			if m.Score < low {
				t.Errorf("min score %v: %s keeps mention %q at %v", low, d.DocID, m.Text, m.Score)
			}
		}
	}

	// A MinScore above every score: no documents, weak, the best score
	// still reported.
	above := max(all[0].Best, all[1].Best) + 0.01
	for i, r := range find(open(search.SearchOptions{MinScore: &above})) {
		if !r.Weak || r.Docs == nil || len(r.Docs) != 0 || r.Best != all[i].Best || *r.Floor != above {
			t.Errorf("min score %v, %q: %d documents, best %v, floor %v, weak %v; want none, best %v, weak",
				above, r.Query, len(r.Docs), r.Best, *r.Floor, r.Weak, all[i].Best)
		}
	}

	// Raw vectors have no default floor: nothing is weak.
	raw := cfg
	raw.Index, raw.Head = cfg.Index+"-raw", activities.HeadSpec{Skip: true}
	buildIndex(t, ctx, a, raw)
	rs, err := search.OpenIndex(ctx, store, raw.Index, search.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rs.Floor(); ok {
		t.Error("a raw index has a default floor")
	}
	res, err = rs.Search(ctx, descs, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Weak || r.Floor != nil || len(r.Docs) != 3 {
			t.Errorf("raw index, %q: weak %v, floor %v, %d documents; want no floor, 3 documents", r.Query, r.Weak, r.Floor, len(r.Docs))
		}
	}

	// A batch carries MinScore to its chunks.
	dir, err := runs.BatchDir(cfg.Index, "floor")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, runs.BatchQueries(dir), blob.WriteBytes([]byte(strings.Join(descs, "\n")))); err != nil {
		t.Fatal(err)
	}
	in := activities.SearchBatchInput{Index: cfg.Index, Batch: "floor", K: 5, MinScore: &above}
	if _, err := a.SearchChunk(ctx, activities.SearchChunkTask{Batch: in}); err != nil {
		t.Fatal(err)
	}
	data, err := blob.ReadAll(ctx, store, runs.BatchPart(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	for dec.More() {
		var r search.SearchResult
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if !r.Weak || len(r.Docs) != 0 || r.Floor == nil || *r.Floor != above {
			t.Errorf("batch, min score %v: %+v; want weak with no documents", above, r)
		}
	}
}
