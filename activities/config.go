package activities

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Config is a job's configuration. It crosses workflow boundaries, so it holds
// URIs and settings only, never data or secrets.
type Config struct {
	Job       string      `json:"job"`
	Corpus    string      `json:"corpus"` // URI prefix of the corpus objects
	Output    string      `json:"output"` // URI prefix the job writes under
	Schema    string      `json:"schema"` // URI of the schema file
	Backend   BackendSpec `json:"backend"`
	Reader    Reader      `json:"reader"`
	ShardSize int         `json:"shard_size"` // documents per shard
	Window    int         `json:"window"`     // shards annotated at once
	// Prefixes, when set, are all the prefixes to read (a backfill over
	// several prefixes or dates); Corpus is then the first.
	Prefixes []string `json:"prefixes,omitempty"`
	// Full annotates every object, not only those new or changed since
	// the job's last completed run.
	Full bool `json:"full,omitempty"`
	// MaxTokens is the run's ceiling on model tokens (prompt and
	// completion); 0 is none. Reaching it stops the job at a shard
	// boundary without finishing the run. It is not part of the run's
	// identity, so a later job with a higher ceiling resumes the run.
	MaxTokens int64 `json:"max_tokens,omitempty"`
	// RetryFailed re-runs the failed chunks of the job's last completed
	// run instead of planning a new run (see Activities.Reopen).
	RetryFailed bool `json:"retry_failed,omitempty"`
	// Tried lists the runs this job execution reopened already: Plan does
	// not reopen them again, so a failure that persists ends the job.
	Tried []string `json:"tried,omitempty"`
	// Distill, in a distill job, says how it samples and which student
	// learns (Distill workflow's input in words, such as "every=10
	// holdout=5 student=perceptron"). It is part of the run's identity: a
	// run with another sample or student is another run. Empty for run.
	Distill string `json:"distill,omitempty"`
}

// Version is part of every run's identity: bump it when a change to the code
// must invalidate earlier outputs.
const Version = "1"

// BackendSpec says which backend annotates a run and how it reaches its
// model. It crosses workflow boundaries and lands in run.json, so it holds
// no secret: workers read the API key from their own environment.
type BackendSpec struct {
	Name  string    `json:"name"` // "rules", or "sam" for SAM-NER over an LLM
	LLM   LLMConfig `json:"llm"`
	Cache string    `json:"cache,omitempty"` // URI prefix of the LLM response cache
	// Batch, when its Mode is set, sends the model's requests through a
	// batch provider instead of online (see batch.go).
	Batch BatchConfig `json:"batch,omitzero"`
}

// LLMConfig says how to reach an OpenAI-compatible model and how to decode.
type LLMConfig struct {
	BaseURL string            `json:"base_url,omitempty"`
	Model   string            `json:"model,omitempty"`
	Models  map[string]string `json:"models,omitempty"` // per stage: anchor, explorer, mediate, calibrate, map

	Temperature      float32 `json:"temperature,omitempty"`
	TopP             float32 `json:"top_p,omitempty"`
	MaxTokens        int     `json:"max_tokens,omitempty"`
	StructuredOutput string  `json:"structured_output,omitempty"` // json_schema, json_object, auto
	LogProbs         bool    `json:"logprobs,omitempty"`
	// Extractors are the discovery voters: anchor, explorer, rules.
	Extractors []string `json:"extractors,omitempty"`
	// MinVotes keeps a discovered span proposed by this many voters (0: the
	// backend's default, 2); NoSingleWordRule turns off SAM-NER's rule for
	// the explorer's single words.
	MinVotes         int  `json:"min_votes,omitempty"`
	NoSingleWordRule bool `json:"no_single_word_rule,omitempty"`
	// PassagesPerRequest caps the sentences or chunks packed into one
	// request (0: the backend's default; 1: one sentence per request).
	PassagesPerRequest int `json:"passages_per_request,omitempty"`
	// Profile sizes requests (pipeline/sam Profile: large or small); the
	// three sizes below, when set, override it.
	Profile            string `json:"profile,omitempty"`
	MentionsPerRequest int    `json:"mentions_per_request,omitempty"`
	RequestTokens      int    `json:"request_tokens,omitempty"`
	// Calibration is whole (every label offered) or narrowed; FollowUps
	// bounds re-asks of missing answer items (0: the backend's default, 3;
	// negative: none).
	Calibration string `json:"calibration,omitempty"`
	FollowUps   int    `json:"follow_ups,omitempty"`

	// Limits and retries, per worker process.
	TimeoutSeconds    float64 `json:"timeout_seconds,omitempty"`
	MaxConcurrent     int     `json:"max_concurrent,omitempty"`
	RequestsPerMinute int     `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int     `json:"tokens_per_minute,omitempty"`
	MaxRetries        int     `json:"max_retries,omitempty"`
	MaxReasks         int     `json:"max_reasks,omitempty"`
}

// Batch modes (BatchConfig.Mode).
const (
	// BatchAPI sends each round's requests as an OpenAI Batch API batch.
	BatchAPI = "api"
	// BatchFiles writes each round's requests under an exchange prefix and
	// waits for a responses file beside them.
	BatchFiles = "files"
)

// BatchConfig sends a run's model requests through a batch provider. A stage
// of a shard then runs in rounds: prepare (run the stage from the response
// cache, collecting what it lacks), submit, wait, collect (put the answers in
// the cache); when a round finds nothing missing, or after MaxRounds, the
// stage activity runs from the cache. It is not part of a run's identity:
// the answers are the same, only cheaper and later.
type BatchConfig struct {
	Mode string `json:"mode,omitempty"` // "", BatchAPI or BatchFiles
	// Dir is the exchange prefix of BatchFiles: round R of a stage of a
	// shard uses <Dir>/<run id>/<stage>/shard-NNNNN/round-R/.
	Dir string `json:"dir,omitempty"`
	// MaxRounds bounds the submissions of a stage of a shard: the first
	// and the re-submissions of what failed, expired or is missing, and
	// re-asks of invalid answers, follow-ups on missing answer items and
	// the halves of cut-off answers (calibrate needs the label map's answer
	// before its own requests: with two re-asks and two follow-ups, about
	// eight rounds in a bad case).
	MaxRounds int `json:"max_rounds,omitempty"`
	// PollSeconds is the first wait before asking whether a round is
	// done; it doubles up to MaxPollSeconds.
	PollSeconds    float64 `json:"poll_seconds,omitempty"`
	MaxPollSeconds float64 `json:"max_poll_seconds,omitempty"`
	// Window is the Batch API's completion window ("24h").
	Window string `json:"window,omitempty"`
	// MaxWaitSeconds bounds a round's wait in BatchFiles mode; what has no
	// answer by then is asked again in the next round. 0: 48 hours.
	MaxWaitSeconds float64 `json:"max_wait_seconds,omitempty"`
}

// On reports whether the run's requests go through a batch provider
// rather than online.
func (c BatchConfig) On() bool { return c.Mode != "" }

// Defaults of BatchConfig.
const (
	DefaultBatchRounds  = 10
	DefaultBatchPoll    = 30 * time.Second
	DefaultBatchMaxPoll = 10 * time.Minute
	DefaultBatchMaxWait = 48 * time.Hour
)

// Rounds is MaxRounds or its default.
func (c BatchConfig) Rounds() int {
	if c.MaxRounds > 0 {
		return c.MaxRounds
	}
	return DefaultBatchRounds
}

// Poll returns the first and the longest wait between polls.
func (c BatchConfig) Poll() (first, longest time.Duration) {
	first, longest = DefaultBatchPoll, DefaultBatchMaxPoll
	if c.PollSeconds > 0 {
		first = seconds(c.PollSeconds)
	}
	if c.MaxPollSeconds > 0 {
		longest = seconds(c.MaxPollSeconds)
	}
	return first, max(first, longest)
}

// MaxWait is how long a BatchFiles round waits at most.
func (c BatchConfig) MaxWait() time.Duration {
	if c.MaxWaitSeconds > 0 {
		return seconds(c.MaxWaitSeconds)
	}
	return DefaultBatchMaxWait
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Check reports a configuration that cannot work.
func (c BatchConfig) Check(spec BackendSpec) error {
	switch c.Mode {
	case "":
		return nil
	case BatchAPI:
	case BatchFiles:
		if c.Dir == "" {
			return errors.New("batch mode files needs an exchange prefix")
		}
	default:
		return fmt.Errorf("batch mode %q: want %s or %s", c.Mode, BatchAPI, BatchFiles)
	}
	if spec.Name != "sam" {
		return fmt.Errorf("batch mode %s needs the LLM backend (sam), not %q", c.Mode, spec.Name)
	}
	if spec.Cache == "" {
		return errors.New("batch mode needs a response cache")
	}
	return nil
}

// Reader says how corpus objects are read: the fields of corpus.Options,
// which it converts to (corpus.Options(r)), kept here so that workflows,
// which carry it, depend on no I/O package.
type Reader struct {
	Format          string `json:"format"`
	IDField         string `json:"id_field"`
	TextField       string `json:"text_field"`
	BIOOrder        string `json:"bio_order"`
	SentencesPerDoc int    `json:"sentences_per_doc"`
	MaxDocBytes     int    `json:"max_doc_bytes"`
}

// Identity is what of the spec changes a run's outputs: the backend, models,
// prompts and decoding; not where the server is or how fast it may be asked.
func (b BackendSpec) Identity() []byte {
	l := b.LLM
	l.BaseURL = ""
	l.TimeoutSeconds, l.MaxConcurrent, l.RequestsPerMinute, l.TokensPerMinute = 0, 0, 0, 0
	l.MaxRetries, l.MaxReasks = 0, 0
	id, _ := json.Marshal(struct {
		Name string
		LLM  LLMConfig
	}{b.Name, l})
	return id
}
