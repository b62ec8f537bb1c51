package index

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/retriever"
)

// An index of NER Retriever (METHODS.md §2) is a folder beside its run,
// by default <output>/indexes/<run-id>/:
//
//	plan.json                   the configuration and the shards' inputs
//	raw/part-NNNNN.parquet      the encoder's vectors (with a head only)
//	head.bin  head.json         the projection head and its training
//	shards/part-NNNNN.parquet   the vectors searched
//	ann.idx                     the approximate index (vecindex.Approx), past ApproxSpec.Min mentions
//	index.json                  the manifest; its presence means the index is done
//	batches/<id>/               the answers of "search --batch"
//
// Every path derives from the index folder and the shard number, and every
// step returns at once when its output exists, as the run's activities do.

// indexPlan is plan.json.
type indexPlan struct {
	Version  string                       `json:"version"`
	Config   activities.IndexConfig       `json:"config"`
	Identity string                       `json:"identity"`
	Encoder  string                       `json:"encoder"` // the raw encoder's name
	Dim      int                          `json:"dim"`     // the raw encoder's width
	Mentions int64                        `json:"mentions"`
	Labels   map[string]int64             `json:"mentions_per_label"`
	Shards   []activities.IndexShardInput `json:"shards"`
}

func (p indexPlan) summary() activities.IndexPlan {
	return activities.IndexPlan{Shards: len(p.Shards), Mentions: p.Mentions, Encoder: p.Encoder, Dim: p.Dim}
}

// encodeBatch is the mentions per encoder call, between heartbeats.
const encodeBatch = 2_048

// PlanIndex checks that the run is finished and the encoder answers, cuts
// the run's mentions into index shards of cfg.ShardRows and finds the
// documents shards each needs, and writes plan.json. A folder planned with
// another configuration is refused, so an index never mixes two.
func (a *Activities) PlanIndex(ctx context.Context, cfg activities.IndexConfig) (_ activities.IndexPlan, err error) {
	dir := runs.IndexDir(cfg.Index)
	if done, ok, err := a.plannedIndex(ctx, cfg); err != nil || ok {
		return done, err
	}
	if _, err := a.deps.Store.Stat(ctx, runs.Dir(cfg.Run).Summary()); err != nil {
		if blob.IsNotExist(err) {
			return activities.IndexPlan{}, activities.BadInput(fmt.Errorf("run %s is not finished: no %s", cfg.Run.ID, runs.Dir(cfg.Run).Summary()))
		}
		return activities.IndexPlan{}, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	enc, err := a.encoder(ctx, cfg.Encoder)
	if err != nil {
		return activities.IndexPlan{}, err
	}
	p := indexPlan{Version: activities.IndexVersion, Config: cfg, Identity: cfg.Identity(), Encoder: enc.Name(), Dim: enc.Dim(),
		Labels: make(map[string]int64)}
	if err := a.cutShards(ctx, &p); err != nil {
		return activities.IndexPlan{}, err
	}
	if err := a.deps.Store.WriteJSON(ctx, dir.Plan(), p); err != nil {
		return activities.IndexPlan{}, err
	}
	a.deps.Log.Info("planned index", "index", cfg.Index, "run", cfg.Run.ID, "shards", len(p.Shards), "mentions", p.Mentions, "encoder", p.Encoder)
	return p.summary(), nil
}

// plannedIndex returns the plan already written for cfg's index, if any; a
// plan of another configuration is bad input.
func (a *Activities) plannedIndex(ctx context.Context, cfg activities.IndexConfig) (activities.IndexPlan, bool, error) {
	var done indexPlan
	err := a.deps.Store.ReadJSON(ctx, runs.IndexDir(cfg.Index).Plan(), &done)
	if blob.IsNotExist(err) {
		return activities.IndexPlan{}, false, nil
	}
	if err != nil {
		return activities.IndexPlan{}, false, err
	}
	if done.Identity != cfg.Identity() {
		return activities.IndexPlan{}, false, activities.BadInput(fmt.Errorf("%s holds an index of another configuration (%s); delete it or give another --out",
			cfg.Index, done.Encoder))
	}
	return done.summary(), true, nil
}

// cutShards fills p's shards, counts and labels from the run's mentions
// table: each part is cut into shards of p.Config.ShardRows mentions, and
// each shard lists the documents shards its mentions' documents are in.
// It streams the parts: it holds the documents' ids, not the mentions.
func (a *Activities) cutShards(ctx context.Context, p *indexPlan) error {
	run := p.Config.Run
	docShards, shardOf, err := a.documentShards(ctx, run)
	if err != nil {
		return err
	}
	parts, err := a.deps.Store.Parts(ctx, runs.Dir(run).MentionsDir())
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return activities.BadInput(fmt.Errorf("run %s has no mentions table at %s", run.ID, runs.Dir(run).MentionsDir()))
	}
	size := cmp.Or(p.Config.ShardRows, activities.DefaultShardRows)
	for _, uri := range parts {
		var (
			in   activities.IndexShardInput
			need map[int32]bool // the documents shards of in's mentions
		)
		cut := func(hi int) {
			if need == nil {
				return
			}
			in.Hi = hi
			for _, s := range slices.Sorted(maps.Keys(need)) {
				in.Docs = append(in.Docs, docShards[s])
			}
			p.Shards = append(p.Shards, in)
		}
		rows := 0
		err := a.scanMentions(ctx, uri, func(first int, ms []table.Mention) error {
			for i, m := range ms {
				if row := first + i; row%size == 0 {
					cut(row)
					in, need = activities.IndexShardInput{Mentions: uri, Lo: row}, make(map[int32]bool)
				}
				s, ok := shardOf[m.DocID]
				if !ok {
					return activities.BadInput(fmt.Errorf("mention %q of document %q: the run has no such document", m.Text, m.DocID))
				}
				need[s] = true
				p.Labels[m.Label]++
			}
			rows = first + len(ms)
			return nil
		})
		if err != nil {
			return err
		}
		cut(rows)
		p.Mentions += int64(rows)
	}
	if p.Mentions == 0 {
		return activities.BadInput(fmt.Errorf("run %s has no mentions: nothing to index", run.ID))
	}
	return nil
}

// encoder builds the encoder of spec. A failure is not bad input as such:
// a remote encoder's constructor asks its server, which may be down for a
// while. NewEncoder marks its own.
func (a *Activities) encoder(ctx context.Context, spec activities.EncoderSpec) (retriever.Encoder, error) {
	return wire.NewEncoder(ctx, spec, a.deps.APIKey)
}

// documentShards lists the run's documents shards and which of them holds
// each document: mentions name documents only by id.
func (a *Activities) documentShards(ctx context.Context, run activities.Run) ([]string, map[string]int32, error) {
	docShards, err := a.deps.Store.Parts(ctx, runs.Dir(run).DocumentsDir())
	if err != nil {
		return nil, nil, err
	}
	shardOf := make(map[string]int32)
	for i, uri := range docShards {
		docs, err := a.deps.Store.Documents(ctx, uri)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range docs {
			shardOf[d.DocID] = int32(i)
		}
	}
	return docShards, shardOf, nil
}

func (a *Activities) readIndexPlan(ctx context.Context, index string) (indexPlan, error) {
	var p indexPlan
	if err := a.deps.Store.ReadJSON(ctx, runs.IndexDir(index).Plan(), &p); err != nil {
		if blob.IsNotExist(err) {
			return p, activities.BadInput(fmt.Errorf("index %s is not planned: %w", index, err))
		}
		return p, err
	}
	return p, nil
}

// EncodeIndexShard encodes one shard's mentions, each in its document, and
// writes their vectors: to raw/ when a head is to be trained, else straight
// to shards/. It holds the shard's mentions and their documents' texts,
// and encodeBatch vectors at a time.
func (a *Activities) EncodeIndexShard(ctx context.Context, t activities.IndexShardTask) (_ activities.IndexShardStats, err error) {
	defer wire.Classify(ctx, &err)
	p, err := a.readIndexPlan(ctx, t.Index)
	if err != nil {
		return activities.IndexShardStats{}, err
	}
	if t.Shard < 0 || t.Shard >= len(p.Shards) {
		return activities.IndexShardStats{}, activities.BadInput(fmt.Errorf("index %s has no shard %d", t.Index, t.Shard))
	}
	dir := runs.IndexDir(t.Index)
	out := dir.Shard(t.Shard)
	if !p.Config.Head.Skip {
		out = dir.Raw(t.Shard)
	}
	if done, ok, err := a.shardDone(ctx, out); err != nil || ok {
		return done, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	in := p.Shards[t.Shard]
	ms, err := a.shardMentions(ctx, in)
	if err != nil {
		return activities.IndexShardStats{}, err
	}
	texts, err := a.documentTexts(ctx, in.Docs, ms)
	if err != nil {
		return activities.IndexShardStats{}, err
	}
	enc, err := a.encoder(ctx, p.Config.Encoder)
	if err != nil {
		return activities.IndexShardStats{}, err
	}
	if enc.Name() != p.Encoder {
		return activities.IndexShardStats{}, activities.BadInput(fmt.Errorf("the encoder is now %s, the index was planned with %s", enc.Name(), p.Encoder))
	}
	err = a.writeVectors(ctx, out, p.Dim, func(write func([]table.Vector) error) error {
		for lo := 0; lo < len(ms); lo += encodeBatch {
			rows, err := encodeRows(ctx, enc, ms[lo:min(lo+encodeBatch, len(ms))], texts)
			if err != nil {
				err = fmt.Errorf("encode shard %d of %s: %w", t.Shard, t.Index, err)
				if k := p.Config.Encoder.Kind; k == "" || k == "local" {
					err = activities.BadInput(err) // a local encoder fails only on bad spans
				}
				return err
			}
			if err := write(rows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return activities.IndexShardStats{}, err
	}
	return activities.IndexShardStats{Rows: int64(len(ms))}, nil
}

// encodeRows encodes mentions in their documents' texts.
func encodeRows(ctx context.Context, enc retriever.Encoder, ms []table.Mention, texts map[string]string) ([]table.Vector, error) {
	batch := make([]retriever.Mention, len(ms))
	for i, m := range ms {
		batch[i] = retriever.Mention{Text: texts[m.DocID], Start: int(m.Start), End: int(m.End)}
	}
	vecs, err := enc.Mentions(ctx, batch)
	if err != nil {
		return nil, err
	}
	rows := make([]table.Vector, len(ms))
	for i, m := range ms {
		rows[i] = table.Vector{MentionID: table.MentionID(m.DocID, m.Start, m.End), DocID: m.DocID,
			Start: m.Start, End: m.End, Text: m.Text, Label: m.Label, Vector: vecs[i]}
	}
	return rows, nil
}

// shardDone returns the stats of the shard at uri if it is written.
func (a *Activities) shardDone(ctx context.Context, uri string) (activities.IndexShardStats, bool, error) {
	n, err := a.deps.Store.CountRows(ctx, uri)
	if blob.IsNotExist(err) {
		return activities.IndexShardStats{}, false, nil
	}
	if err != nil {
		return activities.IndexShardStats{}, false, err
	}
	return activities.IndexShardStats{Rows: n}, true, nil
}

// documentTexts reads the texts of the documents that ms mention from the
// documents shards docs.
func (a *Activities) documentTexts(ctx context.Context, docs []string, ms []table.Mention) (map[string]string, error) {
	texts := make(map[string]string)
	for _, m := range ms {
		texts[m.DocID] = ""
	}
	found := make(map[string]bool, len(texts))
	for _, uri := range docs {
		rows, err := a.deps.Store.Documents(ctx, uri)
		if err != nil {
			return nil, err
		}
		for _, d := range rows {
			if _, ok := texts[d.DocID]; ok {
				texts[d.DocID] = d.Text
				found[d.DocID] = true
			}
		}
	}
	for id := range texts {
		if !found[id] {
			return nil, activities.BadInput(fmt.Errorf("document %q is in none of the documents shards %v", id, docs))
		}
	}
	return texts, nil
}

// TrainIndexHead trains the projection head on the run's silver labels:
// each label's description in the run's schema is the anchor, mentions the
// run gave that label are positives, mentions of other labels negatives.
// It writes head.bin and head.json.
func (a *Activities) TrainIndexHead(ctx context.Context, index string) (activities.HeadStats, error) {
	dir := runs.IndexDir(index)
	if done, ok, err := a.headDone(ctx, dir); err != nil || ok {
		return done, err
	}
	p, err := a.readIndexPlan(ctx, index)
	if err != nil {
		return activities.HeadStats{}, err
	}
	if p.Config.Head.Skip {
		return activities.HeadStats{}, activities.BadInput(fmt.Errorf("index %s is built without a head", index))
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	start := time.Now()
	trips, mentions, err := a.trainingSet(ctx, p)
	if err != nil {
		return activities.HeadStats{}, err
	}
	hs := p.Config.Head
	head := retriever.NewHead(p.Dim, retriever.HeadOptions{Hidden: hs.Hidden, Out: hs.Out, Seed: hs.Seed})
	before := head.Loss(trips)
	st, err := head.TrainContext(ctx, trips, retriever.TrainOptions{Epochs: hs.Epochs, Seed: hs.Seed})
	if err != nil {
		return activities.HeadStats{}, fmt.Errorf("train the head of %s: %w", index, err)
	}
	out := activities.HeadStats{Labels: retriever.TripletLabels(trips), Mentions: mentions, Triplets: len(trips),
		Epochs: len(st.Epochs), LossStart: before, LossEnd: head.Loss(trips), Seconds: time.Since(start).Seconds(),
		Digest: head.Digest(), In: head.In(), Out: head.Out(), Trained: time.Now().UTC()}
	if err := a.writeHead(ctx, dir, head, out); err != nil {
		return activities.HeadStats{}, err
	}
	a.deps.Log.Info("trained head", "index", index, "triplets", out.Triplets, "loss_start", out.LossStart, "loss_end", out.LossEnd)
	return out, nil
}

// headDone returns the stats of the head already trained in dir, if any.
func (a *Activities) headDone(ctx context.Context, dir runs.IndexDir) (activities.HeadStats, bool, error) {
	var done activities.HeadStats
	if err := a.deps.Store.ReadJSON(ctx, dir.HeadStats(), &done); err != nil {
		if blob.IsNotExist(err) {
			return activities.HeadStats{}, false, nil
		}
		return activities.HeadStats{}, false, err
	}
	// head.json without head.bin: the head is trained again.
	if _, err := a.deps.Store.Stat(ctx, dir.Head()); err != nil {
		return activities.HeadStats{}, false, nil
	}
	return done, true, nil
}

// trainingSet returns the head's triplets (retriever.TrainingSet over the
// schema's anchors and a sample of the silver mentions) and the number of
// mentions sampled.
func (a *Activities) trainingSet(ctx context.Context, p indexPlan) ([]retriever.Triplet, int, error) {
	schema, err := a.deps.Schema(ctx, p.Config.Run)
	if err != nil {
		return nil, 0, err
	}
	enc, err := a.encoder(ctx, p.Config.Encoder)
	if err != nil {
		return nil, 0, err
	}
	anchors, err := retriever.Anchors(ctx, enc, schema)
	if err != nil {
		return nil, 0, err
	}
	// A bounded sample of each label's mentions, the same on every retry.
	sample, err := a.sample(ctx, p, anchors[0])
	if err != nil {
		return nil, 0, err
	}
	vecs, labels := sample.Vectors()
	hs := p.Config.Head
	trips := retriever.TrainingSet(anchors, vecs, labels, retriever.TripletOptions{Positives: hs.Positives, Negatives: hs.Negatives, Seed: hs.Seed})
	if len(trips) == 0 {
		return nil, 0, activities.BadInput(fmt.Errorf("no training triplets: the run needs mentions of at least two labels of its schema (it has %d mentions of %d labels)",
			len(vecs), sample.Labels()))
	}
	return trips, len(vecs), nil
}

// writeHead writes head.bin, then head.json, which marks the head done.
func (a *Activities) writeHead(ctx context.Context, dir runs.IndexDir, head *retriever.Head, stats activities.HeadStats) error {
	if err := a.deps.Store.Replace(ctx, dir.Head(), func(w io.Writer) error {
		_, err := head.WriteTo(w)
		return err
	}); err != nil {
		return err
	}
	return a.deps.Store.WriteJSON(ctx, dir.HeadStats(), stats)
}

// sample keeps a bounded sample (retriever.SamplePerLabel) of the raw
// vectors of the labels queried, with the silver mentions' scores. It
// reads a shard at a time: the shard's mentions, for their scores, then
// its raw vectors, row for row.
func (a *Activities) sample(ctx context.Context, p indexPlan, queries map[string][]float32) (*retriever.Sample, error) {
	per := retriever.SamplePerLabel(cmp.Or(p.Config.Head.PerLabel, activities.DefaultTrainPerTag), len(queries), p.Dim)
	s := retriever.NewSample(per)
	dir := runs.IndexDir(p.Config.Index)
	for shard, in := range p.Shards {
		ms, err := a.shardMentions(ctx, in)
		if err != nil {
			return nil, err
		}
		raw, i := dir.Raw(shard), 0
		err = a.scanVectors(ctx, raw, func(rows []table.Vector, _ int) error {
			for _, r := range rows {
				if i >= len(ms) {
					return activities.BadInput(fmt.Errorf("%s has more rows than the %d of its plan", raw, len(ms)))
				}
				m := ms[i]
				if r.DocID != m.DocID || r.Start != m.Start || r.End != m.End {
					return activities.BadInput(fmt.Errorf("%s: row %d is %s, its mention %s", raw, i, r.MentionID, table.MentionID(m.DocID, m.Start, m.End)))
				}
				if _, ok := queries[r.Label]; ok {
					s.Add(r.Label, m.Score, sampleKey(r.MentionID), r.Vector)
				}
				i++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if i != len(ms) {
			return nil, activities.BadInput(fmt.Errorf("%s has %d rows, its plan %d", raw, i, len(ms)))
		}
	}
	return s, nil
}

// sampleKey is the part of a mention id that ties are broken by: without
// the folders of the document's URI, so that the head trained on a corpus
// does not depend on where the corpus lives.
func sampleKey(mentionID string) string {
	return mentionID[strings.LastIndexByte(mentionID, '/')+1:]
}

// ProjectIndexShard projects a raw shard through the head and writes the
// searched shard, a batch of rows at a time.
func (a *Activities) ProjectIndexShard(ctx context.Context, t activities.IndexShardTask) (activities.IndexShardStats, error) {
	dir := runs.IndexDir(t.Index)
	out := dir.Shard(t.Shard)
	if done, ok, err := a.shardDone(ctx, out); err != nil || ok {
		return done, err
	}
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	head, err := a.deps.Store.Head(ctx, dir.Head())
	if err != nil {
		return activities.IndexShardStats{}, err
	}
	raw := dir.Raw(t.Shard)
	var n int64
	err = a.writeVectors(ctx, out, head.Out(), func(write func([]table.Vector) error) error {
		return a.scanVectors(ctx, raw, func(rows []table.Vector, dim int) error {
			if dim != head.In() {
				return activities.BadInput(fmt.Errorf("%s holds %d-wide vectors, the head takes %d", raw, dim, head.In()))
			}
			vecs := make([][]float32, len(rows))
			for i, r := range rows {
				vecs[i] = r.Vector
			}
			for i, v := range head.ApplyBatch(vecs) {
				rows[i].Vector = v
			}
			n += int64(len(rows))
			return write(rows)
		})
	})
	if err != nil {
		return activities.IndexShardStats{}, err
	}
	return activities.IndexShardStats{Rows: n}, nil
}
