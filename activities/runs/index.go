package runs

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
)

// IndexDir is an index folder: every path of an index derives from it.
type IndexDir string

func (d IndexDir) path(elem ...string) string {
	p, err := blob.JoinUnder(string(d), elem...)
	if err != nil {
		return "refused:" + err.Error()
	}
	return p
}

// Plan is plan.json.
func (d IndexDir) Plan() string { return d.path("plan.json") }

// Manifest is index.json.
func (d IndexDir) Manifest() string { return d.path("index.json") }

// Raw is a shard of the encoder's vectors.
func (d IndexDir) Raw(shard int) string { return d.path(RawShardFile(shard)) }

// Shard is a shard of the vectors searched.
func (d IndexDir) Shard(shard int) string { return d.path(ShardFile(shard)) }

// Head is the projection head's file.
func (d IndexDir) Head() string { return d.path(HeadFile) }

// HeadStats is the head's training record.
func (d IndexDir) HeadStats() string { return d.path("head.json") }

// Approx is the approximate index's file.
func (d IndexDir) Approx() string { return d.path(ApproxFile) }

// File is a file named relative to the folder, as index.json names them.
func (d IndexDir) File(rel string) string { return d.path(rel) }

// Files of an index, relative to its folder.
const (
	HeadFile   = "head.bin"
	ApproxFile = "ann.idx"
)

// ShardFile is the searched shard's file, relative to the index folder.
func ShardFile(shard int) string { return fmt.Sprintf("shards/part-%05d.parquet", shard) }

// RawShardFile is the raw shard's file, relative to the index folder.
func RawShardFile(shard int) string { return fmt.Sprintf("raw/part-%05d.parquet", shard) }

// DefaultIndexURI is where a run's index goes by default: <output>/indexes/<run-id>,
// beside <output>/runs/<run-id>.
func DefaultIndexURI(run activities.Run) string {
	out := strings.TrimSuffix(strings.TrimRight(run.URI, "/"), "/"+run.ID)
	out = strings.TrimSuffix(out, "/runs")
	return blob.Join(out, "indexes", run.ID)
}

// IndexManifest is index.json: what a search needs to know of an index.
type IndexManifest struct {
	Version string                 `json:"version"`
	Run     activities.Run         `json:"run"`
	Encoder activities.EncoderSpec `json:"encoder"`
	// RawEncoder names the encoder; Name names the vectors stored: the
	// encoder's, or with a head the encoder's followed by "+head/" and the
	// head's digest. A query must be embedded by an encoder of that name.
	RawEncoder string                      `json:"raw_encoder"`
	Name       string                      `json:"name"`
	Dim        int                         `json:"dim"`
	Head       string                      `json:"head,omitempty"` // the head's file, relative to the index folder
	HeadStats  *activities.HeadStats       `json:"head_stats,omitempty"`
	Mentions   int64                       `json:"mentions"`
	Labels     map[string]int64            `json:"mentions_per_label"`
	Shards     []activities.IndexShardInfo `json:"shards"`
	Approx     *activities.ApproxInfo      `json:"approx,omitempty"`
	Timings    activities.IndexTimings     `json:"timings"`
	Seconds    float64                     `json:"seconds"`
}

// IndexManifest reads an index's index.json; it fails with a not-exist
// error while the index is not built.
func (s Store) IndexManifest(ctx context.Context, index string) (IndexManifest, error) {
	var m IndexManifest
	err := s.ReadJSON(ctx, IndexDir(index).Manifest(), &m)
	return m, err
}

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

func BatchPart(batchDir string, chunk int) string {
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
