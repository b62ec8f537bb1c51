// Package runs is the layout of a job's output folder (its runs, the job's
// state, and the indexes built from runs) and the typed readers and writers
// of the tables and JSON files in it. The activities write these folders and
// the command line reads them, both through this package.
package runs

import (
	"fmt"
	"strings"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
)

// Dir is the folder of one run (an activities.Run): every path an activity reads or writes is
// derived from it, so outputs are found again after a crash or on a re-run.
//
//	<output>/runs/<run-id>/
//	  manifest.json  config.json  schema.yaml
//	  documents/shard-NNNNN.parquet   documents/_index.json   documents/_objects.json
//	  rejects/part-00000.parquet
//	  stages/<stage>/shard-NNNNN.parquet  stages/<stage>/failures-NNNNN.parquet
//	  stages/<stage>/usage-NNNNN.parquet
//	  mentions/part-NNNNN.parquet  usage/part-00000.parquet
//	  entities/part-00000.parquet  edges/part-00000.parquet
//	  mention_entities/part-00000.parquet
//	  finalize/part-NNNNN.json   finalize/<table>/*.parquet (the graph's parts, until it is done)
//	  run.json
type Dir activities.Run

// path is the URI of elem in the run's folder. A run id or name that would
// climb out of the folder (a "/" or ".." from a hostile or broken caller of
// the workflow) gives a URI that no store accepts, so every read and write
// fails naming it instead of landing outside the output prefix.
func (r Dir) path(elem ...string) string {
	if strings.ContainsAny(r.ID, `/\`) || r.ID == "." || r.ID == ".." {
		return fmt.Sprintf("refused:run id %q is not one path segment", r.ID)
	}
	p, err := blob.JoinUnder(r.URI, elem...)
	if err != nil {
		return "refused:" + err.Error()
	}
	return p
}

// Manifest is the list of corpus objects the run annotates.
func (r Dir) Manifest() string { return r.path("manifest.json") }

// Config is the job configuration the run was planned with.
func (r Dir) Config() string { return r.path("config.json") }

// Schema is the run's copy of the user's schema.
func (r Dir) Schema() string { return r.path("schema.yaml") }

// Documents is the documents table's shard.
func (r Dir) Documents(shard int) string { return r.path("documents", shardName(shard)) }

// DocumentsDir is the documents table, a folder of shards (and the index).
func (r Dir) DocumentsDir() string { return r.path("documents") + "/" }

// DocumentIndex records how the corpus was sharded; its presence means
// sharding finished.
func (r Dir) DocumentIndex() string { return r.path("documents", "_index.json") }

// ObjectIndex records which shards hold each object's documents.
func (r Dir) ObjectIndex() string { return r.path("documents", "_objects.json") }

// Rejects is the table of corpus objects and lines that could not be read.
func (r Dir) Rejects() string { return r.path("rejects", "part-00000.parquet") }

// Stage is a stage's output for a shard.
func (r Dir) Stage(stage string, shard int) string { return r.path("stages", stage, shardName(shard)) }

// Failures is the table of documents a stage could not process in a shard.
func (r Dir) Failures(stage string, shard int) string {
	return r.path("stages", stage, fmt.Sprintf("failures-%05d.parquet", shard))
}

// Usage is the token ledger of a stage's model calls for a shard.
func (r Dir) Usage(stage string, shard int) string {
	return r.path("stages", stage, fmt.Sprintf("usage-%05d.parquet", shard))
}

// Ledger is the run's token ledger table: one row per document and stage.
func (r Dir) Ledger() string { return r.path("usage", "part-00000.parquet") }

// Folder is the folder of one of the run's tables, as "usage" or "edges".
func (r Dir) Folder(table string) string { return r.path(table) + "/" }

// MentionsDir is the final mentions table, a folder of parts.
func (r Dir) MentionsDir() string { return r.path("mentions") + "/" }

// Mentions is one part of the final mentions table.
func (r Dir) Mentions(part int) string {
	return r.path("mentions", fmt.Sprintf("part-%05d.parquet", part))
}

// Entities is the knowledge graph's entities table.
func (r Dir) Entities() string { return r.path("entities", "part-00000.parquet") }

// Edges is the knowledge graph's co-occurrence table.
func (r Dir) Edges() string { return r.path("edges", "part-00000.parquet") }

// MentionEntities links each mention to its entity.
func (r Dir) MentionEntities() string { return r.path("mention_entities", "part-00000.parquet") }

// PartStats records a finished part of the mentions table (see
// activities.FinalizePart); its presence means the part is done.
func (r Dir) PartStats(part int) string {
	return r.path("finalize", fmt.Sprintf("part-%05d.json", part))
}

// FinalizeDir is the working folder of finalize and the knowledge graph:
// the parts' stats, and the graph's spilled runs until the graph is done.
func (r Dir) FinalizeDir() string { return r.path("finalize") + "/" }

// Spill is a spilled run of a graph table: name is "part-NNNNN" for a
// part's own run, other names for the merges' intermediate runs.
func (r Dir) Spill(table, name string) string { return r.path("finalize", table, name+".parquet") }

// SpillDir is the folder of a graph table's spilled runs.
func (r Dir) SpillDir(table string) string { return r.path("finalize", table) + "/" }

// SAEMap is the feature -> type map a distill run estimated.
func (r Dir) SAEMap() string { return r.path("sae", "map.parquet") }

// StudentModel is the perceptron student a distill run trained
// (pipeline/student's artefact).
func (r Dir) StudentModel() string { return r.path("student", "model.bin") }

// Agreement is a distill run's agreement with its teacher: the map's
// sae/agreement.json, or the perceptron's student/agreement.json.
func (r Dir) Agreement(student string) string {
	if student == activities.StudentPerceptron {
		return r.path("student", "agreement.json")
	}
	return r.path("sae", "agreement.json")
}

// BatchStats records the batch rounds of a stage of a shard.
func (r Dir) BatchStats(stage string, shard int) string {
	return r.path("stages", stage, fmt.Sprintf("batch-%05d.json", shard))
}

// Summary is run.json; its presence means the run finished.
func (r Dir) Summary() string { return r.path("run.json") }

func shardName(shard int) string { return fmt.Sprintf("shard-%05d.parquet", shard) }

// Outputs are the URIs of the run's tables and run.json.
func (r Dir) Outputs() activities.Outputs {
	return activities.Outputs{Mentions: r.MentionsDir(), Documents: r.DocumentsDir(), Rejects: r.Rejects(),
		Usage: r.Ledger(), Entities: r.Entities(), Edges: r.Edges(), Summary: r.Summary()}
}
