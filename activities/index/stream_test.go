package index

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/retriever"
	"github.com/zeroner/zeroner/pipeline/vecindex"
)

// TestStreamedBuildMatchesInMemory checks the streamed steps against what
// a build holding everything in memory makes: the shards cut from the
// mentions, the raw vectors of a shard encoded at once, the projection of
// a whole shard, and the approximate index and recall of all vectors.
func TestStreamedBuildMatchesInMemory(t *testing.T) {
	tests := []struct {
		name      string
		docs      int
		shardRows int
		approx    activities.ApproxSpec
	}{
		// Shards longer than a scan batch, cut across them.
		{"long shards", 900, 700, activities.ApproxSpec{Min: 1, Bits: 64, Rerank: 40, RecallQueries: 150}},
		{"short shards", 300, 97, activities.ApproxSpec{Min: 1, Rerank: 20}},
		{"one shard", 100, 0, activities.ApproxSpec{Min: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := blob.NewFile()
			run, _ := syntheticRun(t, ctx, store, tt.docs)
			a := New(wire.New(store, nil, wire.Options{}))
			cfg := activities.IndexConfig{Run: run, Index: runs.DefaultIndexURI(run), Encoder: activities.EncoderSpec{Kind: "local", Dim: 128},
				Head: activities.HeadSpec{Hidden: 32, Out: 24, Seed: 3}, Approx: tt.approx, ShardRows: tt.shardRows}
			sum := buildIndex(t, ctx, a, cfg)
			p, err := a.readIndexPlan(ctx, cfg.Index)
			if err != nil {
				t.Fatal(err)
			}
			checkCut(t, ctx, a, p)
			flat := checkShards(t, ctx, a, p)
			checkApprox(t, ctx, store, cfg, sum, flat)
		})
	}
}

// checkCut checks that the plan cuts every mentions part into consecutive
// shards of ShardRows rows.
func checkCut(t *testing.T, ctx context.Context, a *Activities, p indexPlan) {
	t.Helper()
	size := p.Config.ShardRows
	if size == 0 {
		size = activities.DefaultShardRows
	}
	next := map[string]int{}
	var total int64
	for i, in := range p.Shards {
		if in.Lo != next[in.Mentions] || in.Hi <= in.Lo || in.Hi-in.Lo > size || (in.Hi-in.Lo < size && in.Lo%size != 0) || len(in.Docs) == 0 {
			t.Errorf("shard %d reads [%d, %d) of %s with %d documents shards, after row %d", i, in.Lo, in.Hi, in.Mentions, len(in.Docs), next[in.Mentions])
		}
		next[in.Mentions] = in.Hi
		total += int64(in.Hi - in.Lo)
	}
	for uri, hi := range next {
		ms, err := a.deps.Store.Mentions(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		if hi != len(ms) {
			t.Errorf("the shards of %s end at row %d, it has %d", uri, hi, len(ms))
		}
	}
	if total != p.Mentions {
		t.Errorf("the shards hold %d mentions, the plan %d", total, p.Mentions)
	}
}

// checkShards checks each shard's raw vectors against the shard's mentions
// encoded at once, and its searched vectors against them projected at
// once; it returns every searched vector, in order.
func checkShards(t *testing.T, ctx context.Context, a *Activities, p indexPlan) []float32 {
	t.Helper()
	enc, err := a.encoder(ctx, p.Config.Encoder)
	if err != nil {
		t.Fatal(err)
	}
	dir := runs.IndexDir(p.Config.Index)
	head, err := a.deps.Store.Head(ctx, dir.Head())
	if err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for shard, in := range p.Shards {
		all, err := a.deps.Store.Mentions(ctx, in.Mentions)
		if err != nil {
			t.Fatal(err)
		}
		ms := all[in.Lo:in.Hi]
		texts, err := a.documentTexts(ctx, in.Docs, ms)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeRows(ctx, enc, ms, texts)
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := a.deps.Store.Vectors(ctx, dir.Raw(shard))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != len(want) {
			t.Fatalf("shard %d: %d raw rows, want %d", shard, len(raw), len(want))
		}
		vecs := make([][]float32, len(want))
		for i := range want {
			if raw[i].MentionID != want[i].MentionID || raw[i].Label != want[i].Label || !slices.Equal(raw[i].Vector, want[i].Vector) {
				t.Fatalf("shard %d row %d: %s %s, want %s %s encoded at once", shard, i, raw[i].MentionID, raw[i].Label, want[i].MentionID, want[i].Label)
			}
			vecs[i] = want[i].Vector
		}
		got, _, err := a.deps.Store.Vectors(ctx, dir.Shard(shard))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range head.ApplyBatch(vecs) {
			if got[i].MentionID != want[i].MentionID || !slices.Equal(got[i].Vector, v) {
				t.Fatalf("shard %d row %d: projected %s differs from the shard projected at once", shard, i, got[i].MentionID)
			}
			flat = append(flat, v...)
		}
	}
	return flat
}

// checkApprox checks ann.idx and its recall against an approximate index
// built in memory from every vector.
func checkApprox(t *testing.T, ctx context.Context, store blob.Store, cfg activities.IndexConfig, sum activities.IndexSummary, flat []float32) {
	t.Helper()
	dim := sum.Dim
	ids := make([]int64, len(flat)/dim)
	for i := range ids {
		ids[i] = int64(i)
	}
	ax, err := vecindex.BuildApprox(ids, flat, dim, vecindex.ApproxOptions{Bits: cfg.Approx.Bits, Rerank: cfg.Approx.Rerank})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := ax.Save(&want); err != nil {
		t.Fatal(err)
	}
	got, err := blob.ReadAll(ctx, store, runs.IndexDir(cfg.Index).Approx())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("ann.idx (%d bytes) differs from the index built in memory (%d bytes)", len(got), want.Len())
	}
	ex := vecindex.NewExact(dim)
	if err := ex.Add(ids, flat); err != nil {
		t.Fatal(err)
	}
	nq := min(cmp.Or(cfg.Approx.RecallQueries, defaultRecallQueries), len(ids))
	queries := make([][]float32, nq)
	for i := range queries {
		j := i * len(ids) / nq
		queries[i] = flat[j*dim : (j+1)*dim]
	}
	info := sum.Approx
	if r := vecindex.Recall(ex, ax, queries, 10); info == nil || info.RecallAt10 != r || info.Queries != nq {
		t.Errorf("approx info %+v, want recall@10 %v on %d queries as measured in memory", info, r, nq)
	}
}

func TestHeadSampleBounded(t *testing.T) {
	ctx := context.Background()
	store := blob.NewFile()
	run, _ := syntheticRun(t, ctx, store, 200)
	a := New(wire.New(store, nil, wire.Options{}))
	all, err := runs.Store{Store: store}.AllMentions(ctx, runs.Dir(run).MentionsDir())
	if err != nil {
		t.Fatal(err)
	}
	perLabel := map[string]int{}
	for _, m := range all {
		perLabel[m.Label]++
	}
	tests := []struct {
		perLabel int
	}{{1}, {7}, {60}, {100000}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.perLabel), func(t *testing.T) {
			cfg := activities.IndexConfig{Run: run, Index: runs.DefaultIndexURI(run) + fmt.Sprint("-", tt.perLabel), ShardRows: 150,
				Encoder: activities.EncoderSpec{Kind: "local", Dim: 64}, Head: activities.HeadSpec{Hidden: 16, Out: 16, Seed: 1, PerLabel: tt.perLabel},
				Approx: activities.ApproxSpec{Min: -1}}
			sum := buildIndex(t, ctx, a, cfg)
			want := 0
			for _, n := range perLabel {
				want += min(n, retriever.SamplePerLabel(tt.perLabel, 3, 64))
			}
			if sum.HeadStats == nil || sum.HeadStats.Mentions != want {
				t.Errorf("head stats %+v: want %d mentions sampled, at most %d of each label", sum.HeadStats, want, tt.perLabel)
			}
		})
	}
}

func TestShardMentionsRange(t *testing.T) {
	ctx := context.Background()
	store := blob.NewFile()
	run, _ := syntheticRun(t, ctx, store, 1200)
	a := New(wire.New(store, nil, wire.Options{}))
	uri := runs.Dir(run).Mentions(0)
	all, err := a.deps.Store.Mentions(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	n := len(all)
	tests := []struct {
		lo, hi  int
		wantErr bool
	}{
		{0, 0, false},
		{0, n, false},
		{scanBatch - 1, scanBatch + 1, false},
		{scanBatch, 2 * scanBatch, false},
		{n - 1, n, false},
		{n, n + 1, true},
		{5, 4, true},
		{-1, 3, true},
	}
	for _, tt := range tests {
		got, err := a.shardMentions(ctx, activities.IndexShardInput{Mentions: uri, Lo: tt.lo, Hi: tt.hi})
		if tt.wantErr {
			if err == nil {
				t.Errorf("[%d, %d) of %d rows: no error", tt.lo, tt.hi, n)
			}
			continue
		}
		if err != nil || !slices.EqualFunc(got, all[tt.lo:tt.hi], func(x, y table.Mention) bool { return x.DocID == y.DocID && x.Start == y.Start && x.End == y.End }) {
			t.Errorf("[%d, %d): %d rows, %v; want the table's rows", tt.lo, tt.hi, len(got), err)
		}
	}
}
