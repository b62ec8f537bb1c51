package activities

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"
)

// IndexVersion is part of every index's plan: bump it when a change to the
// code must invalidate earlier indexes.
const IndexVersion = "1"

// Defaults of an index's settings.
const (
	DefaultShardRows   = 50_000  // mentions per index shard
	DefaultApproxMin   = 200_000 // mentions from which an approximate index is built
	DefaultTrainPerTag = 5_000   // silver mentions per label kept for training
)

// EncoderSpec says which encoder makes an index's vectors. It crosses
// workflow boundaries and lands in index.json, so it holds no secret: the
// API key comes from the worker's (or searcher's) OPENAI_API_KEY.
type EncoderSpec struct {
	// Kind is "local" (the built-in hashed encoder), "embeddings" (an
	// OpenAI-compatible embeddings endpoint) or "hidden" (a hidden-state
	// endpoint).
	Kind string `json:"kind"`
	// Dim is the width: local's (0: 1024), the embeddings' "dimensions"
	// (0: the model's), the hidden states' (0: the server's).
	Dim   int    `json:"dim,omitempty"`
	URL   string `json:"url,omitempty"`
	Model string `json:"model,omitempty"`
	Layer int    `json:"layer,omitempty"` // hidden: the layer (0: the server's)
	// Window is the context each side of a mention, in code points (0:
	// the encoder's default).
	Window        int    `json:"window,omitempty"`
	QueryTemplate string `json:"query_template,omitempty"` // embeddings: "{}" is the description
	MaxConcurrent int    `json:"max_concurrent,omitempty"` // requests in flight per activity
}

// HeadSpec shapes the projection head and its training. Zero values take
// the paper's settings.
type HeadSpec struct {
	Skip      bool   `json:"skip,omitempty"` // index the encoder's vectors as they are
	Hidden    int    `json:"hidden,omitempty"`
	Out       int    `json:"out,omitempty"`
	Epochs    int    `json:"epochs,omitempty"`
	Positives int    `json:"positives,omitempty"` // per label
	Negatives int    `json:"negatives,omitempty"` // per label
	Seed      uint64 `json:"seed,omitempty"`
	// PerLabel bounds the silver mentions of one label read for training
	// (0: DefaultTrainPerTag); they are chosen by a hash of their id.
	PerLabel int `json:"per_label,omitempty"`
}

// ApproxSpec says when and how the approximate index is built.
type ApproxSpec struct {
	// Min is the mention count from which it is built (0:
	// DefaultApproxMin; negative: never).
	Min int64 `json:"min,omitempty"`
	// Bits and Rerank shape the sketch index (see vecindex.ApproxOptions;
	// 0: its defaults).
	Bits   int `json:"bits,omitempty"`
	Rerank int `json:"rerank,omitempty"`
	// RecallQueries is how many indexed vectors are used as queries to
	// measure its recall@10 against exact search (0: 200).
	RecallQueries int `json:"recall_queries,omitempty"`
}

// IndexConfig is the index workflow's input: a finished run, where its
// index goes, and how it is built.
type IndexConfig struct {
	Run       Run         `json:"run"`
	Index     string      `json:"index"` // URI of the index folder
	Encoder   EncoderSpec `json:"encoder"`
	Head      HeadSpec    `json:"head"`
	Approx    ApproxSpec  `json:"approx"`
	ShardRows int         `json:"shard_rows,omitempty"` // 0: DefaultShardRows
	Window    int         `json:"window,omitempty"`     // shards encoded at once
}

// IndexShardInput is what an index shard is made from: a row range of one
// part of the run's mentions table, and the documents shards holding
// those mentions' documents.
type IndexShardInput struct {
	Mentions string   `json:"mentions"` // URI of the mentions part
	Lo       int      `json:"lo"`       // first row
	Hi       int      `json:"hi"`       // past the last row
	Docs     []string `json:"docs"`     // URIs of documents shards
}

// IndexPlan is what PlanIndex returns to the workflow.
type IndexPlan struct {
	Shards   int    `json:"shards"`
	Mentions int64  `json:"mentions"`
	Encoder  string `json:"encoder"`
	Dim      int    `json:"dim"`
}

// IndexShardTask names one shard of an index.
type IndexShardTask struct {
	Index string `json:"index"`
	Shard int    `json:"shard"`
}

// IndexShardStats counts a shard's rows.
type IndexShardStats struct {
	Rows int64 `json:"rows"`
}

// HeadStats records a head's training, in head.json and index.json.
type HeadStats struct {
	Labels    []string  `json:"labels"`     // the labels with triplets
	Mentions  int       `json:"mentions"`   // silver mentions read
	Triplets  int       `json:"triplets"`   // training triplets
	Epochs    int       `json:"epochs"`     // epochs run
	LossStart float64   `json:"loss_start"` // mean triplet loss before training
	LossEnd   float64   `json:"loss_end"`   // and after
	Seconds   float64   `json:"seconds"`
	Digest    string    `json:"digest"` // of the head's weights
	In        int       `json:"in"`
	Out       int       `json:"out"`
	Trained   time.Time `json:"trained"`
}

// IndexTimings are the wall-clock moments of an index build, from the
// workflow.
type IndexTimings struct {
	Started   time.Time `json:"started"`
	Encoded   time.Time `json:"encoded"`
	Trained   time.Time `json:"trained,omitzero"`
	Projected time.Time `json:"projected"`
	Finished  time.Time `json:"finished"`
}

// FinalizeIndexInput is what the workflow knows at the end of a build.
type FinalizeIndexInput struct {
	Index   string       `json:"index"`
	Timings IndexTimings `json:"timings"`
}

// IndexShardInfo is one shard in index.json.
type IndexShardInfo struct {
	File string   `json:"file"` // relative to the index folder
	Rows int64    `json:"rows"`
	Docs []string `json:"docs"` // the documents shards holding its mentions' documents
}

// ApproxInfo describes an index's approximate index in index.json.
type ApproxInfo struct {
	File   string `json:"file"` // relative to the index folder
	Bits   int    `json:"bits"`
	Rerank int    `json:"rerank"`
	// RecallAt10 is the mean recall@10 against exact search over Queries
	// indexed vectors taken as queries.
	RecallAt10 float64 `json:"recall_at_10"`
	Queries    int     `json:"recall_queries"`
	Seconds    float64 `json:"seconds"` // to build it
}

// IndexSummary is an index build's outcome, as the starter prints it.
type IndexSummary struct {
	Index     string      `json:"index"`    // the folder's URI
	Manifest  string      `json:"manifest"` // index.json's URI
	RunID     string      `json:"run_id"`
	Name      string      `json:"name"`
	Dim       int         `json:"dim"`
	Mentions  int64       `json:"mentions"`
	Shards    int         `json:"shards"`
	HeadStats *HeadStats  `json:"head_stats,omitempty"`
	Approx    *ApproxInfo `json:"approx,omitempty"`
	Seconds   float64     `json:"seconds"`
}

// SearchBatchInput is a batch of descriptions to answer against an index.
// The descriptions are in batches/<Batch>/queries.txt in the index folder,
// one per line; empty lines and lines starting with # are skipped.
type SearchBatchInput struct {
	Index string `json:"index"`
	Batch string `json:"batch"` // the batch's folder name
	K     int    `json:"k"`
	Exact bool   `json:"exact,omitempty"`
	// MinScore is SearchOptions.MinScore.
	MinScore *float32 `json:"min_score,omitempty"`
	Chunk    int      `json:"chunk,omitempty"`  // descriptions per activity (0: 16)
	Window   int      `json:"window,omitempty"` // activities at once
}

// SearchBatchPlan is a batch cut into chunks.
type SearchBatchPlan struct {
	Batch   SearchBatchInput `json:"batch"`
	Queries int              `json:"queries"`
	Chunks  int              `json:"chunks"`
}

// SearchChunkTask names one chunk of a batch.
type SearchChunkTask struct {
	Batch SearchBatchInput `json:"batch"`
	Chunk int              `json:"chunk"`
}

// SearchBatchSummary is a batch's outcome.
type SearchBatchSummary struct {
	Results string `json:"results"` // URI of results.jsonl
	Queries int    `json:"queries"`
}

// Identity is what an index folder's content depends on: a second build
// into the same folder with another identity is refused.
func (c IndexConfig) Identity() string {
	c.Window = 0
	c.Approx = ApproxSpec{} // the approximate index is rebuilt by finalize
	c.Encoder.MaxConcurrent = 0
	b, _ := json.Marshal(c)
	return string(b)
}

// Hash is a short hash of what the index's content depends on, to name
// index folders of several configurations apart.
func (c IndexConfig) Hash() string {
	c.Index = ""
	h := fnv.New64a()
	h.Write([]byte(c.Identity()))
	return fmt.Sprintf("%016x", h.Sum64())[:8]
}
