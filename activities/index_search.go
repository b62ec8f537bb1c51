package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/retriever"
	"github.com/zeroner/zeroner/pipeline/vecindex"
)

// IndexManifest is index.json: what a search needs to know of an index.
type IndexManifest struct {
	Version string      `json:"version"`
	Run     Run         `json:"run"`
	Encoder EncoderSpec `json:"encoder"`
	// RawEncoder names the encoder; Name names the vectors stored: the
	// encoder's, or with a head the encoder's followed by "+head/" and the
	// head's digest. A query must be embedded by an encoder of that name.
	RawEncoder string           `json:"raw_encoder"`
	Name       string           `json:"name"`
	Dim        int              `json:"dim"`
	Head       string           `json:"head,omitempty"` // the head's file, relative to the index folder
	HeadStats  *HeadStats       `json:"head_stats,omitempty"`
	Mentions   int64            `json:"mentions"`
	Labels     map[string]int64 `json:"mentions_per_label"`
	Shards     []IndexShardInfo `json:"shards"`
	Approx     *ApproxInfo      `json:"approx,omitempty"`
	Timings    IndexTimings     `json:"timings"`
	Seconds    float64          `json:"seconds"`
}

func (m IndexManifest) summary(index string) IndexSummary {
	return IndexSummary{Index: index, Manifest: IndexDir(index).Manifest(), RunID: m.Run.ID, Name: m.Name, Dim: m.Dim,
		Mentions: m.Mentions, Shards: len(m.Shards), HeadStats: m.HeadStats, Approx: m.Approx, Seconds: m.Seconds}
}

// defaultRecallQueries is how many indexed vectors measure the approximate
// index's recall.
const defaultRecallQueries = 200

// FinalizeIndex checks every shard, builds the approximate index when the
// index has at least ApproxSpec.Min mentions (measuring its recall@10
// against exact search), and writes index.json, which marks the index
// done.
func (a *Activities) FinalizeIndex(ctx context.Context, in FinalizeIndexInput) (IndexSummary, error) {
	dir := IndexDir(in.Index)
	if m, err := ReadIndexManifest(ctx, a.store, in.Index); err == nil {
		return m.summary(in.Index), nil
	} else if !blob.IsNotExist(err) {
		return IndexSummary{}, err
	}
	p, err := a.readIndexPlan(ctx, in.Index)
	if err != nil {
		return IndexSummary{}, err
	}
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()
	m := IndexManifest{Version: IndexVersion, Run: p.Config.Run, Encoder: p.Config.Encoder, RawEncoder: p.Encoder,
		Name: p.Encoder, Dim: p.Dim, Mentions: p.Mentions, Labels: p.Labels}
	if !p.Config.Head.Skip {
		head, err := a.readHead(ctx, dir.Head())
		if err != nil {
			return IndexSummary{}, err
		}
		var hs HeadStats
		if err := a.readJSON(ctx, dir.HeadStats(), &hs); err != nil {
			return IndexSummary{}, err
		}
		m.Head, m.HeadStats = HeadFile, &hs
		m.Name = head.Wrap(namedEncoder(p.Encoder)).Name()
		m.Dim = head.Out()
	}
	for shard, sin := range p.Shards {
		n, err := a.countRows(ctx, dir.Shard(shard))
		if err != nil {
			return IndexSummary{}, fmt.Errorf("shard %d: %w", shard, err)
		}
		if want := int64(sin.Hi - sin.Lo); n != want {
			return IndexSummary{}, badInput(fmt.Errorf("%s has %d rows, want %d", dir.Shard(shard), n, want))
		}
		m.Shards = append(m.Shards, IndexShardInfo{File: ShardFile(shard), Rows: n, Docs: sin.Docs})
	}
	spec := p.Config.Approx
	if least := cmp.Or(spec.Min, DefaultApproxMin); least >= 0 && m.Mentions >= least {
		info, err := a.buildApprox(ctx, dir, m, spec)
		if err != nil {
			return IndexSummary{}, err
		}
		m.Approx = &info
	}
	t := in.Timings
	t.Finished = time.Now().UTC()
	m.Timings, m.Seconds = t, t.Finished.Sub(t.Started).Seconds()
	if err := a.writeJSON(ctx, dir.Manifest(), m); err != nil {
		return IndexSummary{}, err
	}
	a.log.Info("finalized index", "index", in.Index, "mentions", m.Mentions, "name", m.Name, "approx", m.Approx != nil)
	return m.summary(in.Index), nil
}

// buildApprox builds and writes the approximate index of every shard's
// vectors and measures its recall@10 against exact search.
func (a *Activities) buildApprox(ctx context.Context, dir IndexDir, m IndexManifest, spec ApproxSpec) (ApproxInfo, error) {
	start := time.Now()
	ids := make([]int64, 0, m.Mentions)
	flat := make([]float32, 0, m.Mentions*int64(m.Dim))
	var base int64
	for _, sh := range m.Shards {
		rows, _, err := a.readVectors(ctx, dir.File(sh.File))
		if err != nil {
			return ApproxInfo{}, err
		}
		for i, r := range rows {
			if len(r.Vector) != m.Dim {
				return ApproxInfo{}, badInput(fmt.Errorf("%s: row %d has %d values, want %d", sh.File, i, len(r.Vector), m.Dim))
			}
			ids = append(ids, base+int64(i))
			flat = append(flat, r.Vector...)
		}
		base += sh.Rows
	}
	ax, err := vecindex.BuildApprox(ids, flat, m.Dim, vecindex.ApproxOptions{Bits: spec.Bits, Rerank: spec.Rerank})
	if err != nil {
		return ApproxInfo{}, badInput(err)
	}
	ex := vecindex.NewExact(m.Dim)
	if err := ex.Add(ids, flat); err != nil {
		return ApproxInfo{}, err
	}
	// Queries spread evenly over the index, so every shard contributes.
	nq := min(cmp.Or(spec.RecallQueries, defaultRecallQueries), len(ids))
	queries := make([][]float32, nq)
	for i := range queries {
		j := int(int64(i) * int64(len(ids)) / int64(nq))
		queries[i] = flat[j*m.Dim : (j+1)*m.Dim]
	}
	recall := vecindex.Recall(ex, ax, queries, 10)
	if err := a.store.Replace(ctx, dir.Approx(), ax.Save); err != nil {
		return ApproxInfo{}, err
	}
	opt := ax.Options()
	return ApproxInfo{File: ApproxFile, Bits: opt.Bits, Rerank: opt.Rerank, RecallAt10: recall, Queries: nq,
		Seconds: time.Since(start).Seconds()}, nil
}

// namedEncoder stands for an encoder where only its name matters: to name
// a head's vectors as Head.Wrap does.
type namedEncoder string

func (n namedEncoder) Name() string { return string(n) }
func (n namedEncoder) Dim() int     { return 0 }
func (n namedEncoder) Mentions(context.Context, []retriever.Mention) ([][]float32, error) {
	return nil, fmt.Errorf("encoder %s is not available here", string(n))
}
func (n namedEncoder) Queries(context.Context, []string) ([][]float32, error) {
	return nil, fmt.Errorf("encoder %s is not available here", string(n))
}

// ReadIndexManifest reads an index's index.json; it fails with a not-exist
// error while the index is not built.
func ReadIndexManifest(ctx context.Context, store blob.Store, index string) (IndexManifest, error) {
	var m IndexManifest
	data, err := blob.ReadAll(ctx, store, IndexDir(index).Manifest())
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("decode %s: %w", IndexDir(index).Manifest(), err)
	}
	return m, nil
}

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
func DefaultFloor(m IndexManifest) (float32, bool) {
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
	store  blob.Store
	index  string
	m      IndexManifest
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
	m, err := ReadIndexManifest(ctx, store, index)
	if err != nil {
		if blob.IsNotExist(err) {
			return nil, fmt.Errorf("no index at %s (build it with \"starter index\"): %w", index, err)
		}
		return nil, err
	}
	enc, err := NewEncoder(ctx, m.Encoder, opt.APIKey)
	if err != nil {
		return nil, err
	}
	if enc.Name() != m.RawEncoder {
		return nil, badInput(fmt.Errorf("index %s was built with encoder %s, this one is %s", index, m.RawEncoder, enc.Name()))
	}
	dir := IndexDir(index)
	if m.Head != "" {
		head, err := ReadHead(ctx, store, dir.File(m.Head))
		if err != nil {
			return nil, err
		}
		enc = head.Wrap(enc)
	}
	if enc.Name() != m.Name || enc.Dim() != m.Dim {
		return nil, fmt.Errorf("index %s holds %d-wide vectors of %s, the queries would be %d-wide vectors of %s",
			index, m.Dim, m.Name, enc.Dim(), enc.Name())
	}
	s := &Searcher{store: store, index: index, m: m, enc: enc, opt: opt}
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
func (s *Searcher) Manifest() IndexManifest { return s.m }

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

func (s *Searcher) readTexts(ctx context.Context, shards []string, want map[string]string) error {
	for _, uri := range shards {
		r, err := s.store.OpenAt(ctx, uri)
		if err != nil {
			return err
		}
		docs, err := table.ReadDocuments(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", uri, err)
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
	rows, dim, err := readVectors(ctx, s.store, IndexDir(s.index).File(s.m.Shards[shard].File))
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
	need := make(map[int]bool)
	for q, v := range qs {
		for _, h := range s.approx.Search(v, fetch[q]) {
			sh, _ := slices.BinarySearch(s.bases, h.ID)
			if sh == len(s.bases) || s.bases[sh] != h.ID {
				sh--
			}
			out[q] = append(out[q], hitRow{Hit: h, shard: sh})
			need[sh] = true
		}
	}
	rows := make(map[int][]table.Vector)
	for sh := range need {
		uri := IndexDir(s.index).File(s.m.Shards[sh].File)
		r, err := s.store.OpenAt(ctx, uri)
		if err != nil {
			return nil, err
		}
		rs, err := table.ReadVectorMeta(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", uri, err)
		}
		rows[sh] = rs
	}
	for q := range out {
		for i, h := range out[q] {
			rs := rows[h.shard]
			j := h.ID - s.bases[h.shard]
			if j < 0 || j >= int64(len(rs)) {
				return nil, fmt.Errorf("approximate index: id %d is not in shard %d", h.ID, h.shard)
			}
			out[q][i].row = rs[j]
		}
	}
	return out, nil
}

const defaultSearchChunk = 16

var validBatch = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// BatchDir is the folder of a batch of descriptions in an index folder.
func BatchDir(index, batch string) (string, error) {
	if !validBatch.MatchString(batch) {
		return "", fmt.Errorf("batch name %q: use letters, digits, '.', '_' and '-' only", batch)
	}
	return blob.JoinUnder(index, "batches", batch)
}

// BatchQueries is the descriptions file of a batch folder.
func BatchQueries(batchDir string) string { return blob.Join(batchDir, "queries.txt") }

// BatchResults is the answers file of a batch folder.
func BatchResults(batchDir string) string { return blob.Join(batchDir, "results.jsonl") }

func batchPart(batchDir string, chunk int) string {
	return blob.Join(batchDir, "parts", fmt.Sprintf("part-%05d.jsonl", chunk))
}

// ParseQueries reads descriptions, one per line: blank lines and lines
// starting with # are skipped.
func ParseQueries(data []byte) []string {
	var out []string
	for l := range strings.Lines(string(data)) {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func (a *Activities) batchQueries(ctx context.Context, in SearchBatchInput) (string, []string, error) {
	dir, err := BatchDir(in.Index, in.Batch)
	if err != nil {
		return "", nil, badInput(err)
	}
	data, err := blob.ReadAll(ctx, a.store, BatchQueries(dir))
	if err != nil {
		if blob.IsNotExist(err) {
			return "", nil, badInput(err)
		}
		return "", nil, err
	}
	return dir, ParseQueries(data), nil
}

// PlanSearchBatch counts a batch's descriptions and cuts them into chunks.
func (a *Activities) PlanSearchBatch(ctx context.Context, in SearchBatchInput) (SearchBatchPlan, error) {
	_, qs, err := a.batchQueries(ctx, in)
	if err != nil {
		return SearchBatchPlan{}, err
	}
	if len(qs) == 0 {
		return SearchBatchPlan{}, badInput(fmt.Errorf("batch %s has no descriptions", in.Batch))
	}
	if in.K < 1 {
		return SearchBatchPlan{}, badInput(fmt.Errorf("batch %s: k %d, want at least 1", in.Batch, in.K))
	}
	size := cmp.Or(in.Chunk, defaultSearchChunk)
	return SearchBatchPlan{Batch: in, Queries: len(qs), Chunks: (len(qs) + size - 1) / size}, nil
}

// SearchChunk answers one chunk of a batch's descriptions and writes them
// as JSON lines, one SearchResult per line.
func (a *Activities) SearchChunk(ctx context.Context, t SearchChunkTask) (int, error) {
	dir, qs, err := a.batchQueries(ctx, t.Batch)
	if err != nil {
		return 0, err
	}
	size := cmp.Or(t.Batch.Chunk, defaultSearchChunk)
	lo, hi := t.Chunk*size, min((t.Chunk+1)*size, len(qs))
	if lo >= hi || lo < 0 {
		return 0, badInput(fmt.Errorf("batch %s has no chunk %d", t.Batch.Batch, t.Chunk))
	}
	out := batchPart(dir, t.Chunk)
	if _, err := a.store.Stat(ctx, out); err == nil {
		return hi - lo, nil
	} else if !blob.IsNotExist(err) {
		return 0, err
	}
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()
	s, err := OpenIndex(ctx, a.store, t.Batch.Index, SearchOptions{Exact: t.Batch.Exact, MinScore: t.Batch.MinScore, APIKey: a.apiKey})
	if err != nil {
		return 0, err // storage and the encoder's server may recover; permanent errors are marked below them
	}
	res, err := s.Search(ctx, qs[lo:hi], t.Batch.K)
	if err != nil {
		return 0, err
	}
	err = a.store.Replace(ctx, out, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range res {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
	return hi - lo, err
}

// MergeSearchBatch concatenates a batch's chunks into results.jsonl, in
// the order of the descriptions.
func (a *Activities) MergeSearchBatch(ctx context.Context, p SearchBatchPlan) (SearchBatchSummary, error) {
	dir, err := BatchDir(p.Batch.Index, p.Batch.Batch)
	if err != nil {
		return SearchBatchSummary{}, badInput(err)
	}
	sum := SearchBatchSummary{Results: BatchResults(dir), Queries: p.Queries}
	err = a.store.Replace(ctx, sum.Results, func(w io.Writer) error {
		for chunk := range p.Chunks {
			data, err := blob.ReadAll(ctx, a.store, batchPart(dir, chunk))
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
		}
		return nil
	})
	return sum, err
}
