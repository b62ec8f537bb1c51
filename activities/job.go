package activities

import (
	"time"

	"github.com/zeroner/zeroner/pipeline"
)

// ShardFailure is a shard whose annotation failed for good.
type ShardFailure struct {
	Shard  int    `json:"shard"`
	Reason string `json:"reason"`         // the activity's error, once
	Type   string `json:"type,omitempty"` // its error type, as ErrUnavailable
	// Cause is the innermost error, with the stage: failures are
	// grouped by it.
	Cause string `json:"cause,omitempty"`
}

// Timings are the wall-clock moments of a run's phases, from the workflow.
type Timings struct {
	Started   time.Time `json:"started"`
	Planned   time.Time `json:"planned"`
	Sharded   time.Time `json:"sharded"`
	Annotated time.Time `json:"annotated"`
	Finished  time.Time `json:"finished"`
}

// FinalizeInput is what the workflow knows at the end of a run.
type FinalizeInput struct {
	Config   Config         `json:"config"`
	Plan     Plan           `json:"plan"`
	Sharding Sharding       `json:"sharding"`
	Failed   []ShardFailure `json:"failed_shards"`
	Timings  Timings        `json:"timings"`
}

// FinalizePart is one part of a run's final mentions table: the finished
// shards whose mentions it gathers, in order. Finalize's work fans out by
// part: each writes its mentions and its share of the knowledge graph.
type FinalizePart struct {
	Run    Run   `json:"run"`
	Part   int   `json:"part"`
	Shards []int `json:"shards"`
}

// PartStats counts a finished part's mentions.
type PartStats struct {
	Shards   []int            `json:"shards"`
	Mentions int64            `json:"mentions"`
	Labels   map[string]int64 `json:"labels"`
}

// The knowledge graph's tables, as MergeGraph names them.
const (
	GraphLinks    = "mention_entities"
	GraphEdges    = "edges"
	GraphEntities = "entities" // written last: it marks the graph done
)

// MergeGraph asks for one table of a run's knowledge graph, merged from its
// parts.
type MergeGraph struct {
	Run   Run    `json:"run"`
	Table string `json:"table"` // GraphLinks, GraphEdges or GraphEntities
}

// Summary is a run's outcome, as the starter prints it and run.json keeps it.
type Summary struct {
	RunID    string `json:"run_id"`
	Job      string `json:"job"`
	Docs     int64  `json:"documents"`
	Mentions int64  `json:"mentions"`
	Rejects  int64  `json:"rejects"`
	Failures int64  `json:"failures"` // documents a stage could not process
	Shards   int    `json:"shards"`
	// UpToDate says there was nothing to do: no object was new or
	// changed since the job's last completed run.
	UpToDate bool `json:"up_to_date,omitempty"`
	// Stopped says why the job stopped before finishing the run.
	Stopped      string         `json:"stopped,omitempty"`
	FailedShards []ShardFailure `json:"failed_shards,omitempty"`
	// Pending counts the objects not annotated (left for the next run),
	// and Problems says why, grouped by cause.
	Pending  int       `json:"pending,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	// Resumed says the run is an earlier one that this job finished;
	// Reannotated says why objects annotated before were annotated again.
	Resumed     bool     `json:"resumed,omitempty"`
	Reannotated []string `json:"reannotated,omitempty"`
	// Earlier are the runs this job finished before this one, in the same
	// execution (an earlier run resumed first, then the new objects).
	Earlier []Summary `json:"earlier,omitempty"`
	// Warnings are what the user should know about the outcome, such as
	// a backend unfit for the corpus.
	Warnings []string         `json:"warnings,omitempty"`
	Labels   map[string]int64 `json:"mentions_per_label"`
	Graph    GraphStats       `json:"graph"` // the knowledge graph's size, once built
	Usage    pipeline.Usage   `json:"usage"` // the run's model usage (the ledger's total)
	Outputs  Outputs          `json:"outputs"`
}

// AddProblems adds objects not annotated, by cause, to the summary.
func (s *Summary) AddProblems(ps ...Problem) {
	s.Problems = append(s.Problems, ps...)
	for _, p := range ps {
		s.Pending += p.Count
	}
}

// Outputs are the URIs of a run's tables.
type Outputs struct {
	Mentions  string `json:"mentions"`
	Documents string `json:"documents"`
	Rejects   string `json:"rejects"`
	Usage     string `json:"usage,omitempty"` // the token ledger, when a model was used
	Entities  string `json:"entities,omitempty"`
	Edges     string `json:"edges,omitempty"`
	Summary   string `json:"run_json"`
}

// GraphStats counts a run's knowledge graph.
type GraphStats struct {
	Entities int64 `json:"entities"`
	Edges    int64 `json:"edges"`
	Mentions int64 `json:"mentions"` // mentions linked to an entity
}

// Manifest lists the corpus objects a run reads, with what identifies their
// content, so a changed object makes a new run.
type Manifest struct {
	Corpus  string         `json:"corpus"`
	Objects []ManifestItem `json:"objects"`
}

// ManifestItem is one corpus object.
type ManifestItem struct {
	URI        string    `json:"uri"`
	Size       int64     `json:"size"`
	ModTime    time.Time `json:"mod_time"`
	Generation int64     `json:"generation,omitempty"`
}

// Plan is what the plan activity decided: the run and the size of its input.
// A plan with UpToDate set has no run: nothing is new or changed.
type Plan struct {
	UpToDate bool  `json:"up_to_date,omitempty"`
	Run      Run   `json:"run"`
	Objects  int   `json:"objects"`
	Bytes    int64 `json:"bytes"`
	// Finished says the run already has its run.json: there is nothing
	// to do but report it.
	Finished bool `json:"finished"`
	// Resumed says the run is an earlier one, reopened to finish the
	// objects it left pending.
	Resumed bool `json:"resumed,omitempty"`
	// More says objects other than the run's need annotating too: the job
	// plans again once this run is finalized.
	More bool `json:"more,omitempty"`
	// Reannotated says why objects annotated before are annotated again
	// ("3 objects were annotated with backend rules; this run uses sam").
	Reannotated []string `json:"reannotated,omitempty"`
	// Pending are the objects this plan leaves out although they are not
	// annotated: rejected whole and unchanged since, or just tried again
	// by this job. They are reported, and make the job end with failures.
	Pending []Problem `json:"pending,omitempty"`
	// Outputs are the URIs of Run's tables and run.json.
	Outputs Outputs `json:"outputs,omitzero"`
}

// UpToDateSummary is the summary of a job whose plan found nothing to do:
// its latest run, and the objects that stay pending.
func (p Plan) UpToDateSummary(job string) Summary {
	sum := Summary{Job: job, UpToDate: true, RunID: p.Run.ID}
	sum.Outputs.Summary = p.Outputs.Summary
	sum.AddProblems(p.Pending...)
	return sum
}

// Problem is one cause of objects not annotated, with the first few of them.
type Problem struct {
	Cause   string   `json:"cause"`
	Objects []string `json:"objects"` // the first few
	Count   int      `json:"count"`
	// Rejected says the objects could not be read at all: running again
	// cannot help until they or the reader settings change.
	Rejected bool `json:"rejected,omitempty"`
}

// maxProblemObjects bounds the objects named under each cause.
const maxProblemObjects = 3

// Problems groups objects not annotated by cause, in order of first
// appearance, naming the first few of each.
type Problems struct {
	list []Problem
	at   map[string]int
}

// List returns the causes with their objects.
func (p *Problems) List() []Problem { return p.list }

// Add counts object under cause.
func (p *Problems) Add(cause, object string, rejected bool) {
	if p.at == nil {
		p.at = make(map[string]int)
	}
	i, ok := p.at[cause]
	if !ok {
		i = len(p.list)
		p.at[cause] = i
		p.list = append(p.list, Problem{Cause: cause, Rejected: rejected})
	}
	if len(p.list[i].Objects) < maxProblemObjects {
		p.list[i].Objects = append(p.list[i].Objects, object)
	}
	p.list[i].Count++
}

// Run names a run: its id and its folder's URI (runs.Dir is the folder's
// layout).
type Run struct {
	ID  string `json:"id"`
	URI string `json:"uri"`
}

// Sharding is how the corpus was cut into Parquet batches.
type Sharding struct {
	Shards  int   `json:"shards"`
	Docs    int64 `json:"docs"`
	Rejects int64 `json:"rejects"`
	// Words and Capitalised count the documents' words and those that
	// begin with an upper-case letter: the rules backend, which looks for
	// capitalised names, finds little in lower-case text.
	Words       int64 `json:"words"`
	Capitalised int64 `json:"capitalised"`
}

// The stages, in order. Each reads the previous stage's output.
const (
	StageDiscover  = "discover"
	StageMediate   = "mediate"
	StageCalibrate = "calibrate"
)

// Stages lists the stages in order.
func Stages() []string { return []string{StageDiscover, StageMediate, StageCalibrate} }

// ShardTask names one shard of a run for a stage activity.
type ShardTask struct {
	Run     Run         `json:"run"`
	Shard   int         `json:"shard"`
	Backend BackendSpec `json:"backend"`
	// Rounds is how many batch rounds ran for the stage before the stage
	// activity (batch mode only).
	Rounds int `json:"rounds,omitempty"`
}

// StageStats counts what a stage did for a shard.
type StageStats struct {
	Docs     int            `json:"docs"`
	Mentions int            `json:"mentions"`
	Failures int            `json:"failures"`
	Usage    pipeline.Usage `json:"usage"`
}
