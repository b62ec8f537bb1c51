package activities

import (
	"fmt"
	"strings"

	"github.com/zeroner/zeroner/io/blob"
)

// path is the URI of elem in the run's folder. A run id or name that would
// climb out of the folder (a "/" or ".." from a hostile or broken caller of
// the workflow) gives a URI that no store accepts, so every read and write
// fails naming it instead of landing outside the output prefix.
func (r Run) path(elem ...string) string {
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
func (r Run) Manifest() string { return r.path("manifest.json") }

// Config is the job configuration the run was planned with.
func (r Run) Config() string { return r.path("config.json") }

// Schema is the run's copy of the user's schema.
func (r Run) Schema() string { return r.path("schema.yaml") }

// Documents is the documents table's shard.
func (r Run) Documents(shard int) string { return r.path("documents", shardName(shard)) }

// DocumentsDir is the documents table, a folder of shards (and the index).
func (r Run) DocumentsDir() string { return r.path("documents") + "/" }

// DocumentIndex records how the corpus was sharded; its presence means
// sharding finished.
func (r Run) DocumentIndex() string { return r.path("documents", "_index.json") }

// ObjectIndex records which shards hold each object's documents.
func (r Run) ObjectIndex() string { return r.path("documents", "_objects.json") }

// Rejects is the table of corpus objects and lines that could not be read.
func (r Run) Rejects() string { return r.path("rejects", "part-00000.parquet") }

// Stage is a stage's output for a shard.
func (r Run) Stage(stage string, shard int) string { return r.path("stages", stage, shardName(shard)) }

// Failures is the table of documents a stage could not process in a shard.
func (r Run) Failures(stage string, shard int) string {
	return r.path("stages", stage, fmt.Sprintf("failures-%05d.parquet", shard))
}

// Usage is the token ledger of a stage's model calls for a shard.
func (r Run) Usage(stage string, shard int) string {
	return r.path("stages", stage, fmt.Sprintf("usage-%05d.parquet", shard))
}

// Ledger is the run's token ledger table: one row per document and stage.
func (r Run) Ledger() string { return r.path("usage", "part-00000.parquet") }

// MentionsDir is the final mentions table, a folder of parts.
func (r Run) MentionsDir() string { return r.path("mentions") + "/" }

// Mentions is one part of the final mentions table.
func (r Run) Mentions(part int) string {
	return r.path("mentions", fmt.Sprintf("part-%05d.parquet", part))
}

// Entities is the knowledge graph's entities table.
func (r Run) Entities() string { return r.path("entities", "part-00000.parquet") }

// Edges is the knowledge graph's co-occurrence table.
func (r Run) Edges() string { return r.path("edges", "part-00000.parquet") }

// MentionEntities links each mention to its entity.
func (r Run) MentionEntities() string { return r.path("mention_entities", "part-00000.parquet") }

// SAEMap is the feature -> type map a distill run estimated.
func (r Run) SAEMap() string { return r.path("sae", "map.parquet") }

// BatchStats records the batch rounds of a stage of a shard.
func (r Run) BatchStats(stage string, shard int) string {
	return r.path("stages", stage, fmt.Sprintf("batch-%05d.json", shard))
}

// Summary is run.json; its presence means the run finished.
func (r Run) Summary() string { return r.path("run.json") }

func shardName(shard int) string { return fmt.Sprintf("shard-%05d.parquet", shard) }
