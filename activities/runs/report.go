package runs

import (
	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// Ledger is the token ledger's totals in run.json; the per-document rows are
// in the usage table.
type Ledger struct {
	Stages map[string]pipeline.Usage `json:"stages"`
	Shards []ShardUsage              `json:"shards,omitempty"` // shards that used a model
}

// ShardUsage is one shard's model usage.
type ShardUsage struct {
	Shard int `json:"shard"`
	pipeline.Usage
}

// RunReport is the content of run.json.
type RunReport struct {
	activities.Summary
	Version     string             `json:"version"`
	Config      activities.Config  `json:"config"`
	Objects     int                `json:"objects"`
	Bytes       int64              `json:"bytes"`
	Timings     activities.Timings `json:"timings"`
	Seconds     float64            `json:"seconds"`
	RejectsList []table.Reject     `json:"rejects_list"`
	// FailuresList lists the first failed documents or chunks, with the
	// stage and the reason; the stages' failure tables have them all.
	FailuresList []table.Reject `json:"failures_list"`
	Ledger       Ledger         `json:"ledger"`
	// Batch says, per stage, how many batch rounds the shards needed
	// (batch mode only).
	Batch map[string]BatchSummary `json:"batch,omitempty"`
}

// BatchSummary is a stage's batch rounds over a run, in run.json.
type BatchSummary struct {
	MaxRounds      int         `json:"max_rounds"`
	ShardsByRounds map[int]int `json:"shards_by_rounds"` // rounds -> shards that needed that many
	Requests       int         `json:"requests"`         // submitted, re-submissions included
	Answered       int         `json:"answered"`
}

// ObjectShards is where one corpus object's documents went: shards First to
// Last (objects are read in order, so they are contiguous), with the count
// of its documents and rejects, and the first reject's reason. Finalize uses
// it to record an object as annotated only when all of its documents were.
type ObjectShards struct {
	URI     string `json:"uri"`
	First   int    `json:"first"`
	Last    int    `json:"last"`
	Docs    int64  `json:"docs"`
	Rejects int64  `json:"rejects"`
	Reason  string `json:"reason,omitempty"`
}
