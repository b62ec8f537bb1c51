// Package search answers searches of NER Retriever's indexes: the read side of
// an index that activities/index builds, used by `starter search` and by the
// search batch activities.
package search

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/retriever"
	"github.com/zeroner/zeroner/pipeline/vecindex"
)

// LocalHeadFloor is the default floor of an index of the local encoder with
// a projection head: a description whose best mention scores below it fits
// nothing in the index well. It was chosen on the politics sample and the
// CrossNER dev sets (docs/RESULTS.md, "When nothing fits"): there it flags
// 93% of 152 descriptions of types the corpora do not hold ("a sports
// team", "a recipe") and 5% of 148 queries of the schemas' own labels by
// name or description; on the test sets, 95% and 3%.
const LocalHeadFloor = 0.80

// DefaultFloor is the floor of an index when the search gives no MinScore:
// LocalHeadFloor for the local encoder with a head (measured with the
// default settings). Raw local vectors have none: their scores are word
// overlaps, and the best scores of fitting and unfitting descriptions
// overlap (median 0.30 for both on the CrossNER dev sets), so no score
// separates them; nor have model encoders, which could not be measured.
func DefaultFloor(m runs.IndexManifest) (float32, bool) {
	if (m.Encoder.Kind == "" || m.Encoder.Kind == "local") && m.Head != "" {
		return LocalHeadFloor, true
	}
	return 0, false
}

// SearchOptions configure a Searcher.
type SearchOptions struct {
	// Exact searches every vector even when the index has an approximate
	// index.
	Exact bool
	// MinScore, when set, is the floor: mentions scoring below it are
	// left out, and so are the documents left without a mention. Unset,
	// the floor is the index's DefaultFloor and nothing is left out: a
	// best score below it only marks the answer as weak.
	MinScore *float32
	// APIKey is sent to the encoder's endpoint.
	APIKey string
	// Workers bounds the shards searched at once (0: GOMAXPROCS).
	Workers int
}

// Searcher answers type descriptions against an index: it embeds them with
// the index's encoder and head, fetches retriever.Overfetch×k mentions,
// and keeps the first k distinct documents. It is safe for concurrent use.
type Searcher struct {
	store  runs.Store
	index  string
	m      runs.IndexManifest
	enc    retriever.Encoder
	approx *vecindex.Approx // nil: exact search
	bases  []int64          // the global id of each shard's first row
	opt    SearchOptions
	floor  float32 // with hasFloor: MinScore, or the index's default floor
	// hasFloor: answers are checked against floor.
	hasFloor bool
}

// OpenIndex opens a built index for searching: it reads index.json, the
// head and, unless opt.Exact, the approximate index, and builds the encoder,
// which must be the one the index was built with.
func OpenIndex(ctx context.Context, store blob.Store, index string, opt SearchOptions) (*Searcher, error) {
	rs := runs.Store{Store: store}
	m, err := rs.IndexManifest(ctx, index)
	if err != nil {
		if blob.IsNotExist(err) {
			return nil, fmt.Errorf("no index at %s (build it with \"starter index\"): %w", index, err)
		}
		return nil, err
	}
	enc, err := wire.NewEncoder(ctx, m.Encoder, opt.APIKey)
	if err != nil {
		return nil, err
	}
	if enc.Name() != m.RawEncoder {
		return nil, activities.BadInput(fmt.Errorf("index %s was built with encoder %s, this one is %s", index, m.RawEncoder, enc.Name()))
	}
	dir := runs.IndexDir(index)
	if m.Head != "" {
		head, err := rs.Head(ctx, dir.File(m.Head))
		if err != nil {
			return nil, err
		}
		enc = head.Wrap(enc)
	}
	if enc.Name() != m.Name || enc.Dim() != m.Dim {
		return nil, fmt.Errorf("index %s holds %d-wide vectors of %s, the queries would be %d-wide vectors of %s",
			index, m.Dim, m.Name, enc.Dim(), enc.Name())
	}
	s := &Searcher{store: rs, index: index, m: m, enc: enc, opt: opt}
	if opt.MinScore != nil {
		s.floor, s.hasFloor = *opt.MinScore, true
	} else {
		s.floor, s.hasFloor = DefaultFloor(m)
	}
	var base int64
	for _, sh := range m.Shards {
		s.bases = append(s.bases, base)
		base += sh.Rows
	}
	if m.Approx != nil && !opt.Exact {
		r, err := store.Open(ctx, dir.File(m.Approx.File))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if s.approx, err = vecindex.LoadApprox(r); err != nil {
			return nil, fmt.Errorf("%s: %w", dir.File(m.Approx.File), err)
		}
		if s.approx.Dim() != m.Dim || int64(s.approx.Len()) != m.Mentions {
			return nil, fmt.Errorf("%s holds %d vectors of %d dimensions, the index %d of %d",
				dir.File(m.Approx.File), s.approx.Len(), s.approx.Dim(), m.Mentions, m.Dim)
		}
	}
	return s, nil
}

// Manifest returns the index's index.json.
func (s *Searcher) Manifest() runs.IndexManifest { return s.m }

// Approximate reports whether searches use the approximate index.
func (s *Searcher) Approximate() bool { return s.approx != nil }

// Floor is the score a description's best mention must reach to fit well:
// SearchOptions.MinScore, or the index's DefaultFloor; false for none.
func (s *Searcher) Floor() (float32, bool) { return s.floor, s.hasFloor }

// SearchResult is the answer to one description.
type SearchResult struct {
	Query string      `json:"query"`
	Docs  []DocResult `json:"docs"`
	// Best is the score of the best mention found, whether or not
	// MinScore left it out (0 when the index has no mention).
	Best float32 `json:"best_score"`
	// Floor is the floor the answer was checked against (MinScore or the
	// index's DefaultFloor); absent when there is none.
	Floor *float32 `json:"floor,omitempty"`
	// Weak reports that the best mention scores below the floor: nothing
	// in the index fits the description well. With MinScore there are
	// then no documents; without, Docs are the nearest ones, not matches.
	Weak bool `json:"weak,omitempty"`
}

// DocResult is one document found, ranked by its best mention.
type DocResult struct {
	Rank     int          `json:"rank"`
	DocID    string       `json:"doc_id"`
	Score    float32      `json:"score"`
	Text     string       `json:"text"`
	Mentions []MentionHit `json:"mentions"` // its mentions among those fetched, best first
}

// MentionHit is a mention found, with its offsets (code points) in the
// document text.
type MentionHit struct {
	Start int64   `json:"start"`
	End   int64   `json:"end"`
	Text  string  `json:"text"`
	Label string  `json:"label"` // the run's label of it
	Score float32 `json:"score"`
}

// Search answers each description with its k best documents.
func (s *Searcher) Search(ctx context.Context, descs []string, k int) ([]SearchResult, error) {
	ks := make([]int, len(descs))
	for i := range ks {
		ks[i] = k
	}
	return s.SearchEach(ctx, descs, ks)
}

// hitRow is a mention hit with its row.
type hitRow struct {
	vecindex.Hit
	shard int
	row   table.Vector // without its vector
}

// SearchEach is Search with a k for each description.
func (s *Searcher) SearchEach(ctx context.Context, descs []string, ks []int) ([]SearchResult, error) {
	if len(ks) != len(descs) {
		return nil, fmt.Errorf("search: %d descriptions, %d ks", len(descs), len(ks))
	}
	out := make([]SearchResult, len(descs))
	if len(descs) == 0 {
		return out, nil
	}
	qs, err := s.enc.Queries(ctx, descs)
	if err != nil {
		return nil, fmt.Errorf("embed the descriptions: %w", err)
	}
	fetch := make([]int, len(ks))
	for i, k := range ks {
		fetch[i] = retriever.Overfetch * max(k, 0)
	}
	var hits [][]hitRow
	if s.approx != nil {
		hits, err = s.approxHits(ctx, qs, fetch)
	} else {
		hits, err = s.exactHits(ctx, qs, fetch)
	}
	if err != nil {
		return nil, err
	}
	docShards := make(map[string]bool) // documents shards to read
	want := make(map[string]string)    // texts to read
	for i, hs := range hits {
		out[i].Query, out[i].Docs = descs[i], []DocResult{}
		for j, h := range hs {
			if j == 0 || h.Score > out[i].Best {
				out[i].Best = h.Score
			}
		}
		if s.hasFloor {
			floor := s.floor
			out[i].Floor = &floor
			out[i].Weak = len(hs) == 0 || out[i].Best < s.floor
		}
		if s.opt.MinScore != nil {
			hs = slices.DeleteFunc(slices.Clone(hs), func(h hitRow) bool { return h.Score < s.floor })
		}
		groups := retriever.DistinctDocs(hs, func(h hitRow) string { return h.row.DocID }, ks[i])
		for rank, g := range groups {
			best := hs[g.Hits[0]]
			d := DocResult{Rank: rank + 1, DocID: g.Doc, Score: best.Score}
			for _, j := range g.Hits {
				h := hs[j]
				d.Mentions = append(d.Mentions, MentionHit{Start: h.row.Start, End: h.row.End, Text: h.row.Text,
					Label: h.row.Label, Score: h.Score})
			}
			out[i].Docs = append(out[i].Docs, d)
			want[g.Doc] = ""
			for _, uri := range s.m.Shards[best.shard].Docs {
				docShards[uri] = true
			}
		}
	}
	if err := s.readTexts(ctx, slices.Sorted(maps.Keys(docShards)), want); err != nil {
		return nil, err
	}
	for i := range out {
		for j := range out[i].Docs {
			out[i].Docs[j].Text = want[out[i].Docs[j].DocID]
		}
	}
	return out, nil
}

// readTexts fills want, document id to text, from the documents shards.
func (s *Searcher) readTexts(ctx context.Context, shards []string, want map[string]string) error {
	for _, uri := range shards {
		docs, err := s.store.Documents(ctx, uri)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if _, ok := want[d.DocID]; ok {
				want[d.DocID] = d.Text
			}
		}
	}
	return nil
}

// exactHits scores every vector: shards are read and searched in
// parallel, each keeping its best fetch[q] hits per query, and merged.
func (s *Searcher) exactHits(ctx context.Context, qs [][]float32, fetch []int) ([][]hitRow, error) {
	most := slices.Max(fetch)
	per := make([][][]hitRow, len(s.m.Shards)) // [shard][query]
	// At least one: with none, the loop below would wait forever to hand
	// out the first shard.
	workers := max(1, min(cmp.Or(s.opt.Workers, runtime.GOMAXPROCS(0)), len(s.m.Shards)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for shard := range next {
				hs, err := s.searchShard(ctx, shard, qs, fetch, most)
				if err != nil {
					once.Do(func() { first = err; cancel() })
					continue
				}
				per[shard] = hs
			}
		})
	}
	for shard := range s.m.Shards {
		if ctx.Err() != nil {
			break
		}
		next <- shard
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]hitRow, len(qs))
	for q := range qs {
		for _, hs := range per {
			out[q] = append(out[q], hs[q]...)
		}
		slices.SortFunc(out[q], func(a, b hitRow) int {
			return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.ID, b.ID))
		})
		out[q] = out[q][:min(fetch[q], len(out[q]))]
	}
	return out, nil
}

// searchShard searches one shard exactly by blocked dot products.
func (s *Searcher) searchShard(ctx context.Context, shard int, qs [][]float32, fetch []int, most int) ([][]hitRow, error) {
	rows, dim, err := s.store.Vectors(ctx, runs.IndexDir(s.index).File(s.m.Shards[shard].File))
	if err != nil {
		return nil, err
	}
	out := make([][]hitRow, len(qs))
	if len(rows) == 0 || most == 0 {
		return out, nil
	}
	if dim != s.m.Dim {
		return nil, fmt.Errorf("shard %s holds %d-wide vectors, the index %d", s.m.Shards[shard].File, dim, s.m.Dim)
	}
	ids := make([]int64, len(rows))
	flat := make([]float32, 0, len(rows)*dim)
	for i, r := range rows {
		ids[i] = s.bases[shard] + int64(i)
		flat = append(flat, r.Vector...)
	}
	ex := vecindex.NewExact(dim)
	if err := ex.Add(ids, flat); err != nil {
		return nil, err
	}
	for q, hs := range ex.SearchBatch(qs, most) {
		hs = hs[:min(fetch[q], len(hs))]
		for _, h := range hs {
			r := rows[h.ID-s.bases[shard]]
			r.Vector = nil
			out[q] = append(out[q], hitRow{Hit: h, shard: shard, row: r})
		}
	}
	return out, nil
}

// approxHits searches the approximate index and reads the rows of the
// hits from their shards.
func (s *Searcher) approxHits(ctx context.Context, qs [][]float32, fetch []int) ([][]hitRow, error) {
	out := make([][]hitRow, len(qs))
	need := make(map[int]map[int64]table.Vector) // shard -> rows wanted
	for q, v := range qs {
		for _, h := range s.approx.Search(v, fetch[q]) {
			sh, _ := slices.BinarySearch(s.bases, h.ID)
			if sh == len(s.bases) || s.bases[sh] != h.ID {
				sh--
			}
			out[q] = append(out[q], hitRow{Hit: h, shard: sh})
			if need[sh] == nil {
				need[sh] = make(map[int64]table.Vector)
			}
			need[sh][h.ID-s.bases[sh]] = table.Vector{}
		}
	}
	for sh, rows := range need {
		if err := s.readRows(ctx, sh, rows); err != nil {
			return nil, err
		}
	}
	for q := range out {
		for i, h := range out[q] {
			out[q][i].row = need[h.shard][h.ID-s.bases[h.shard]]
		}
	}
	return out, nil
}

// readRows fills rows, row number to row, from a shard's rows without
// their vectors (the approximate index has them), streaming the shard
// rather than holding all of its rows.
func (s *Searcher) readRows(ctx context.Context, shard int, rows map[int64]table.Vector) error {
	uri := runs.IndexDir(s.index).File(s.m.Shards[shard].File)
	r, err := s.store.OpenAt(ctx, uri)
	if err != nil {
		return err
	}
	defer r.Close()
	var pos int64
	err = table.ScanVectorMeta(r, 4096, func(batch []table.Vector) error {
		for i, row := range batch {
			if _, ok := rows[pos+int64(i)]; ok {
				rows[pos+int64(i)] = row
			}
		}
		pos += int64(len(batch))
		return ctx.Err()
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return activities.BadInput(fmt.Errorf("read %s: %w", uri, err))
	}
	for row := range rows {
		if row < 0 || row >= pos {
			return fmt.Errorf("approximate index: id %d is not in shard %d", s.bases[shard]+row, shard)
		}
	}
	return nil
}
