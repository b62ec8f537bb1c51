package runs

import (
	"fmt"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
)

// RoundDir is the folder of one round of a stage of a shard in batch
// mode: in the exchange prefix (files mode) or in the run's folder.
func RoundDir(t activities.BatchTask) Round {
	elem := []string{t.Stage, fmt.Sprintf("shard-%05d", t.Shard), fmt.Sprintf("round-%d", t.Round)}
	if t.Backend.Batch.Mode == activities.BatchFiles {
		p, err := blob.JoinUnder(t.Backend.Batch.Dir, append([]string{t.Run.ID}, elem...)...)
		if err != nil {
			return Round("refused:" + err.Error())
		}
		return Round(p)
	}
	return Round(Dir(t.Run).path(append([]string{"batches"}, elem...)...))
}

// Round is a batch round's folder.
type Round string

// Requests is the round's request file (JSONL, the Batch API's format).
func (r Round) Requests() string { return blob.Join(string(r), "requests.jsonl") }

// Responses is the round's answers: the batch's output file, or the file
// the exchange's answerer writes.
func (r Round) Responses() string { return blob.Join(string(r), "responses.jsonl") }

// Errors is the Batch API's error file of the round.
func (r Round) Errors() string { return blob.Join(string(r), "errors.jsonl") }

// Batch records the submitted batch (BatchAPI mode).
func (r Round) Batch() string { return blob.Join(string(r), "batch.json") }

// Collected records which requests the round answered (Collected).
func (r Round) Collected() string { return blob.Join(string(r), "collected.json") }

// Collected is a round's collected.json: which requests it answered, and
// why the others were not.
type Collected struct {
	activities.BatchCollected
	AnsweredIDs []string          `json:"answered_ids"`
	Reasons     map[string]string `json:"missing_reasons,omitempty"`
	BadLines    []string          `json:"bad_lines,omitempty"`
}
