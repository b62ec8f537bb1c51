package index

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"
	"github.com/zeroner/zeroner/internal/wire"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/retriever"
	"github.com/zeroner/zeroner/pipeline/vecindex"
)

func summary(index string, m runs.IndexManifest) activities.IndexSummary {
	return activities.IndexSummary{Index: index, Manifest: runs.IndexDir(index).Manifest(), RunID: m.Run.ID, Name: m.Name, Dim: m.Dim,
		Mentions: m.Mentions, Shards: len(m.Shards), HeadStats: m.HeadStats, Approx: m.Approx, Seconds: m.Seconds}
}

// defaultRecallQueries is how many indexed vectors measure the approximate
// index's recall.
const defaultRecallQueries = 200

// FinalizeIndex checks every shard, builds the approximate index when the
// index has at least ApproxSpec.Min mentions (measuring its recall@10
// against exact search), and writes index.json, which marks the index
// done.
func (a *Activities) FinalizeIndex(ctx context.Context, in activities.FinalizeIndexInput) (activities.IndexSummary, error) {
	dir := runs.IndexDir(in.Index)
	if m, err := a.deps.Store.IndexManifest(ctx, in.Index); err == nil {
		return summary(in.Index, m), nil
	} else if !blob.IsNotExist(err) {
		return activities.IndexSummary{}, err
	}
	p, err := a.readIndexPlan(ctx, in.Index)
	if err != nil {
		return activities.IndexSummary{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	m := runs.IndexManifest{Version: activities.IndexVersion, Run: p.Config.Run, Encoder: p.Config.Encoder, RawEncoder: p.Encoder,
		Name: p.Encoder, Dim: p.Dim, Mentions: p.Mentions, Labels: p.Labels}
	if !p.Config.Head.Skip {
		head, err := a.deps.Store.Head(ctx, dir.Head())
		if err != nil {
			return activities.IndexSummary{}, err
		}
		var hs activities.HeadStats
		if err := a.deps.Store.ReadJSON(ctx, dir.HeadStats(), &hs); err != nil {
			return activities.IndexSummary{}, err
		}
		m.Head, m.HeadStats = runs.HeadFile, &hs
		m.Name = head.Wrap(namedEncoder(p.Encoder)).Name()
		m.Dim = head.Out()
	}
	for shard, sin := range p.Shards {
		n, err := a.deps.Store.CountRows(ctx, dir.Shard(shard))
		if err != nil {
			return activities.IndexSummary{}, fmt.Errorf("shard %d: %w", shard, err)
		}
		if want := int64(sin.Hi - sin.Lo); n != want {
			return activities.IndexSummary{}, activities.BadInput(fmt.Errorf("%s has %d rows, want %d", dir.Shard(shard), n, want))
		}
		m.Shards = append(m.Shards, activities.IndexShardInfo{File: runs.ShardFile(shard), Rows: n, Docs: sin.Docs})
	}
	spec := p.Config.Approx
	if least := cmp.Or(spec.Min, activities.DefaultApproxMin); least >= 0 && m.Mentions >= least {
		info, err := a.buildApprox(ctx, dir, m, spec)
		if err != nil {
			return activities.IndexSummary{}, err
		}
		m.Approx = &info
	}
	t := in.Timings
	t.Finished = time.Now().UTC()
	m.Timings, m.Seconds = t, t.Finished.Sub(t.Started).Seconds()
	if err := a.deps.Store.WriteJSON(ctx, dir.Manifest(), m); err != nil {
		return activities.IndexSummary{}, err
	}
	a.deps.Log.Info("finalized index", "index", in.Index, "mentions", m.Mentions, "name", m.Name, "approx", m.Approx != nil)
	return summary(in.Index, m), nil
}

// buildApprox writes the approximate index of every shard's vectors and
// measures its recall@10 against exact search. It streams the shards
// twice, a batch of vectors at a time: to write the index, then to score
// the recall queries. What it holds is the index's sketches and ids
// (vecindex.ApproxWriter), not its vectors.
func (a *Activities) buildApprox(ctx context.Context, dir runs.IndexDir, m runs.IndexManifest, spec activities.ApproxSpec) (activities.ApproxInfo, error) {
	start := time.Now()
	ids := make([]int64, m.Mentions)
	for i := range ids {
		ids[i] = int64(i)
	}
	// Queries spread evenly over the index, so every shard contributes.
	nq := min(cmp.Or(spec.RecallQueries, defaultRecallQueries), len(ids))
	rows := make([]int64, nq)
	for i := range rows {
		rows[i] = int64(i) * int64(len(ids)) / int64(nq)
	}
	queries := make([][]float32, 0, nq)
	var aw *vecindex.ApproxWriter
	err := a.deps.Store.Replace(ctx, dir.Approx(), func(w io.Writer) error {
		var err error
		aw, err = vecindex.NewApproxWriter(w, m.Dim, ids, vecindex.ApproxOptions{Bits: spec.Bits, Rerank: spec.Rerank})
		if errors.Is(err, vecindex.ErrOptions) {
			return activities.BadInput(err)
		}
		if err != nil {
			return err
		}
		err = a.eachVectors(ctx, dir, m, func(first int64, flat []float32) error {
			for len(queries) < nq && rows[len(queries)] < first+int64(len(flat)/m.Dim) {
				j := rows[len(queries)] - first
				queries = append(queries, slices.Clone(flat[j*int64(m.Dim):(j+1)*int64(m.Dim)]))
			}
			return aw.Add(flat)
		})
		if err != nil {
			return err
		}
		return aw.Close()
	})
	if err != nil {
		return activities.ApproxInfo{}, err
	}
	rs, err := aw.RecallScan(queries, 10)
	if err != nil {
		return activities.ApproxInfo{}, err
	}
	if err := a.eachVectors(ctx, dir, m, func(_ int64, flat []float32) error { return rs.Add(flat) }); err != nil {
		return activities.ApproxInfo{}, err
	}
	recall, err := rs.Recall()
	if err != nil {
		return activities.ApproxInfo{}, err
	}
	opt := aw.Options()
	return activities.ApproxInfo{File: runs.ApproxFile, Bits: opt.Bits, Rerank: opt.Rerank, RecallAt10: recall, Queries: nq,
		Seconds: time.Since(start).Seconds()}, nil
}

// eachVectors calls fn with the vectors of every shard of the index, in
// order, a batch at a time, flattened into one reused slice, with the
// number of the batch's first vector.
func (a *Activities) eachVectors(ctx context.Context, dir runs.IndexDir, m runs.IndexManifest, fn func(first int64, flat []float32) error) error {
	var first int64
	flat := make([]float32, 0, scanBatch*m.Dim)
	for _, sh := range m.Shards {
		uri := dir.File(sh.File)
		err := a.scanVectors(ctx, uri, func(rows []table.Vector, dim int) error {
			if dim != m.Dim {
				return activities.BadInput(fmt.Errorf("%s holds %d-wide vectors, the index %d", uri, dim, m.Dim))
			}
			flat = flat[:0]
			for _, r := range rows {
				flat = append(flat, r.Vector...)
			}
			err := fn(first, flat)
			first += int64(len(rows))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
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

const defaultSearchChunk = 16

func (a *Activities) batchQueries(ctx context.Context, in activities.SearchBatchInput) (string, []string, error) {
	dir, err := runs.BatchDir(in.Index, in.Batch)
	if err != nil {
		return "", nil, activities.BadInput(err)
	}
	data, err := blob.ReadAll(ctx, a.deps.Store, runs.BatchQueries(dir))
	if err != nil {
		if blob.IsNotExist(err) {
			return "", nil, activities.BadInput(err)
		}
		return "", nil, err
	}
	return dir, runs.ParseQueries(data), nil
}

// PlanSearchBatch counts a batch's descriptions and cuts them into chunks.
func (a *Activities) PlanSearchBatch(ctx context.Context, in activities.SearchBatchInput) (activities.SearchBatchPlan, error) {
	_, qs, err := a.batchQueries(ctx, in)
	if err != nil {
		return activities.SearchBatchPlan{}, err
	}
	if len(qs) == 0 {
		return activities.SearchBatchPlan{}, activities.BadInput(fmt.Errorf("batch %s has no descriptions", in.Batch))
	}
	if in.K < 1 {
		return activities.SearchBatchPlan{}, activities.BadInput(fmt.Errorf("batch %s: k %d, want at least 1", in.Batch, in.K))
	}
	size := cmp.Or(in.Chunk, defaultSearchChunk)
	return activities.SearchBatchPlan{Batch: in, Queries: len(qs), Chunks: (len(qs) + size - 1) / size}, nil
}

// SearchChunk answers one chunk of a batch's descriptions and writes them
// as JSON lines, one SearchResult per line.
func (a *Activities) SearchChunk(ctx context.Context, t activities.SearchChunkTask) (int, error) {
	dir, qs, err := a.batchQueries(ctx, t.Batch)
	if err != nil {
		return 0, err
	}
	size := cmp.Or(t.Batch.Chunk, defaultSearchChunk)
	lo, hi := t.Chunk*size, min((t.Chunk+1)*size, len(qs))
	if lo >= hi || lo < 0 {
		return 0, activities.BadInput(fmt.Errorf("batch %s has no chunk %d", t.Batch.Batch, t.Chunk))
	}
	out := runs.BatchPart(dir, t.Chunk)
	if _, err := a.deps.Store.Stat(ctx, out); err == nil {
		return hi - lo, nil
	} else if !blob.IsNotExist(err) {
		return 0, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	s, err := search.OpenIndex(ctx, a.deps.Store, t.Batch.Index, search.SearchOptions{Exact: t.Batch.Exact, MinScore: t.Batch.MinScore, APIKey: a.deps.APIKey})
	if err != nil {
		return 0, err // storage and the encoder's server may recover; permanent errors are marked below them
	}
	res, err := s.Search(ctx, qs[lo:hi], t.Batch.K)
	if err != nil {
		return 0, err
	}
	err = a.deps.Store.Replace(ctx, out, func(w io.Writer) error {
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
func (a *Activities) MergeSearchBatch(ctx context.Context, p activities.SearchBatchPlan) (activities.SearchBatchSummary, error) {
	dir, err := runs.BatchDir(p.Batch.Index, p.Batch.Batch)
	if err != nil {
		return activities.SearchBatchSummary{}, activities.BadInput(err)
	}
	sum := activities.SearchBatchSummary{Results: runs.BatchResults(dir), Queries: p.Queries}
	err = a.deps.Store.Replace(ctx, sum.Results, func(w io.Writer) error {
		for chunk := range p.Chunks {
			data, err := blob.ReadAll(ctx, a.deps.Store, runs.BatchPart(dir, chunk))
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
