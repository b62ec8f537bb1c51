package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/io/llm"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline/sam"
)

// llmFlags configure the SAM-NER backend's model. The API key is not a flag:
// workers read OPENAI_API_KEY, so it never enters a job's configuration.
type llmFlags struct {
	baseURL, model string
	stageModels    map[string]*string
	temperature    float64
	topP           float64
	maxTokens      int
	structured     string
	logprobs       bool
	extractors     string
	passages       int
	profile        string
	calibration    string
	mentions       int
	requestTokens  int
	followUps      int
	minVotes       int
	noSingleWord   bool
	timeout        time.Duration
	concurrency    int
	rpm, tpm       int
	retries        int
	reasks         int
	batch          batchFlags
}

// batchFlags choose the batch mode of the model's requests.
type batchFlags struct {
	mode, dir, window      string
	rounds                 int
	poll, maxPoll, maxWait time.Duration
}

// llmStages are the steps that can each use their own model.
var llmStages = []string{"anchor", "explorer", "mediate", "calibrate", "map"}

func (l *llmFlags) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&l.baseURL, "llm-base-url", env.Getenv("OPENAI_BASE_URL"), "OpenAI-compatible server `URL`, e.g. http://127.0.0.1:8000/v1 (env OPENAI_BASE_URL); the API key comes from the worker's OPENAI_API_KEY")
	fs.StringVar(&l.model, "llm-model", env.Getenv("ZERONER_LLM_MODEL"), "model `name` (env ZERONER_LLM_MODEL)")
	l.stageModels = make(map[string]*string)
	for _, s := range llmStages {
		l.stageModels[s] = fs.String("llm-model-"+s, "", "model `name` for the "+s+" step (default --llm-model)")
	}
	fs.Float64Var(&l.temperature, "llm-temperature", 0, "sampling temperature (0 is sent as 0.01: near-greedy)")
	fs.Float64Var(&l.topP, "llm-top-p", 0.1, "nucleus sampling top_p")
	fs.IntVar(&l.maxTokens, "llm-max-tokens", 0, "completion tokens per request at most (0: each request asks for what its answer needs; see --llm-profile)")
	fs.StringVar(&l.structured, "llm-structured", "auto", "structured output: json_schema, json_object, or auto (json_schema, falling back when the server refuses it)")
	fs.BoolVar(&l.logprobs, "llm-logprobs", false, "ask for log probabilities and score labels with them")
	fs.StringVar(&l.extractors, "llm-extractors", "anchor,explorer", "discovery voters, comma-separated: anchor, explorer, rules")
	fs.IntVar(&l.minVotes, "llm-min-votes", 2, "consensus: keep a span that this many voters propose")
	fs.BoolVar(&l.noSingleWord, "llm-no-single-word-rule", false, "consensus: turn off SAM-NER's rule (keep every anchor span and multi-word explorer span; an explorer single word needs the anchor)")
	fs.StringVar(&l.profile, "llm-profile", sam.ProfileLarge, "request sizes: large (up to 1,500 tokens of text, 32 passages, 64 mentions a request: hosted models) or small (400, 8, 16: open 7-8B models)")
	fs.IntVar(&l.passages, "llm-passages-per-request", 0, "sentences or chunks packed into one request at most (0: the profile's; 1: one per request)")
	fs.IntVar(&l.mentions, "llm-mentions-per-request", 0, "mentions of one mediate or calibrate request at most (0: the profile's)")
	fs.IntVar(&l.requestTokens, "llm-request-tokens", 0, "text of one request at most, in tokens estimated as bytes/4 (0: the profile's)")
	fs.StringVar(&l.calibration, "llm-calibration", sam.CalibrateWhole, "calibration: whole (every label offered, the archetype's labels as a hint) or narrowed (only the labels of the mention's archetype)")
	fs.IntVar(&l.followUps, "llm-follow-ups", 3, "times the mentions an answer left out or got wrong are asked again in requests of their own (0: none)")
	fs.DurationVar(&l.timeout, "llm-timeout", llm.DefaultTimeout, "timeout of one request")
	fs.IntVar(&l.concurrency, "llm-concurrency", llm.DefaultMaxConcurrent, "requests in flight at most, per worker process")
	fs.IntVar(&l.rpm, "llm-rpm", 0, "requests per minute at most, per worker process (0: no limit)")
	fs.IntVar(&l.tpm, "llm-tpm", 0, "tokens per minute at most, per worker process (0: no limit)")
	fs.IntVar(&l.retries, "llm-retries", llm.DefaultMaxRetries, "retries of a request on 429, 5xx and timeouts")
	fs.IntVar(&l.reasks, "llm-reasks", llm.DefaultMaxReasks, "re-asks of an answer that is not valid")
	b := &l.batch
	fs.StringVar(&b.mode, "batch", "", "send the model's requests in batches: api (OpenAI Batch API at --llm-base-url) or files (a file exchange under --batch-dir); empty: online")
	fs.StringVar(&b.dir, "batch-dir", "", "exchange `URI` prefix of --batch files (default <out>/exchange)")
	fs.IntVar(&b.rounds, "batch-rounds", activities.DefaultBatchRounds, "batch submissions per stage and shard at most: the first and the re-submissions of what failed, expired or is missing")
	fs.DurationVar(&b.poll, "batch-poll", activities.DefaultBatchPoll, "first wait before asking whether a batch is done (doubles up to --batch-max-poll)")
	fs.DurationVar(&b.maxPoll, "batch-max-poll", activities.DefaultBatchMaxPoll, "longest wait between two polls")
	fs.DurationVar(&b.maxWait, "batch-max-wait", activities.DefaultBatchMaxWait, "--batch files: how long a round waits for its responses file before asking again")
	fs.StringVar(&b.window, "batch-window", "24h", "--batch api: the batch's completion window")
}

// Values of the enum flags of the LLM backend.
var (
	llmStructured = []string{"auto", "json_schema", "json_object"}
	llmExtractors = []string{"anchor", "explorer", "rules"}
	llmProfiles   = []string{sam.ProfileLarge, sam.ProfileSmall}
	llmCalibrate  = []string{sam.CalibrateWhole, sam.CalibrateNarrowed}
	batchModes    = []string{activities.BatchAPI, activities.BatchFiles}
)

// check checks the LLM flags that have a fixed set of values, whatever the
// backend, so that a typo is named even when the flag would not be used.
func (l *llmFlags) check() []error {
	var errs []error
	if l.structured != "" {
		errs = append(errs, oneOf("llm-structured", l.structured, llmStructured...))
	}
	if l.profile != "" {
		errs = append(errs, oneOf("llm-profile", l.profile, llmProfiles...))
	}
	if l.calibration != "" {
		errs = append(errs, oneOf("llm-calibration", l.calibration, llmCalibrate...))
	}
	if l.batch.mode != "" {
		if err := oneOf("batch", l.batch.mode, batchModes...); err != nil {
			errs = append(errs, fmt.Errorf("%w (or leave it out: online)", err))
		}
	}
	if l.batch.dir != "" && l.batch.mode != activities.BatchFiles {
		errs = append(errs, errors.New("--batch-dir is the exchange of --batch files: give --batch files, or drop --batch-dir"))
	}
	if l.extractors != "" {
		if _, err := l.extractorList(); err != nil {
			errs = append(errs, err)
		}
	}
	if l.baseURL != "" {
		if u, err := url.Parse(l.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--llm-base-url %q: want http://host[:port]/path or https://...", l.baseURL))
		}
	}
	return errs
}

// followUps is --llm-follow-ups as LLMConfig has it: 0 there is the
// default, none is negative.
func followUps(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// extractorList is --llm-extractors as a list.
func (l *llmFlags) extractorList() ([]string, error) {
	var ex []string
	for _, e := range strings.Split(l.extractors, ",") {
		switch e = strings.TrimSpace(e); {
		case slices.Contains(llmExtractors, e):
			ex = append(ex, e)
		case e == "":
		default:
			return nil, fmt.Errorf("--llm-extractors: unknown extractor %q; want %s, comma-separated", e, orList(llmExtractors))
		}
	}
	if len(ex) == 0 {
		return nil, fmt.Errorf("--llm-extractors: none given; want %s, comma-separated", orList(llmExtractors))
	}
	return ex, nil
}

// spec returns the backend spec for backend ("auto": SAM-NER when an LLM
// endpoint is configured, the rules backend otherwise), with the response
// cache under the output prefix so every run of a job shares it.
func (l *llmFlags) spec(backend, out string) (activities.BackendSpec, error) {
	if backend == "" || backend == "auto" {
		backend = "rules"
		if l.baseURL != "" {
			backend = "sam"
		}
	}
	switch backend {
	case "rules":
		if l.batch.mode != "" {
			return activities.BackendSpec{}, fmt.Errorf("--batch needs the LLM backend (--backend sam and --llm-base-url)")
		}
		return activities.BackendSpec{Name: backend}, nil
	case "sam":
	default:
		return activities.BackendSpec{}, fmt.Errorf("--backend %q: want auto, rules or sam", backend)
	}
	if l.baseURL == "" {
		return activities.BackendSpec{}, fmt.Errorf("--backend sam needs --llm-base-url (or OPENAI_BASE_URL)")
	}
	models := make(map[string]string)
	for s, m := range l.stageModels {
		if *m != "" {
			models[s] = *m
		}
	}
	ex, err := l.extractorList()
	if err != nil {
		return activities.BackendSpec{}, err
	}
	spec := activities.BackendSpec{
		Name:  "sam",
		Cache: blob.Join(out, "cache", "llm"),
		LLM: activities.LLMConfig{
			BaseURL: l.baseURL, Model: l.model, Models: models,
			Temperature: float32(l.temperature), TopP: float32(l.topP), MaxTokens: l.maxTokens,
			StructuredOutput: l.structured, LogProbs: l.logprobs, Extractors: ex, PassagesPerRequest: l.passages,
			Profile: l.profile, Calibration: l.calibration, MentionsPerRequest: l.mentions, RequestTokens: l.requestTokens,
			FollowUps: followUps(l.followUps),
			MinVotes:  l.minVotes, NoSingleWordRule: l.noSingleWord,
			TimeoutSeconds: l.timeout.Seconds(), MaxConcurrent: l.concurrency,
			RequestsPerMinute: l.rpm, TokensPerMinute: l.tpm, MaxRetries: l.retries, MaxReasks: l.reasks,
		},
	}
	if b := l.batch; b.mode != "" {
		spec.Batch = activities.BatchConfig{
			Mode: b.mode, Dir: b.dir, MaxRounds: b.rounds, Window: b.window,
			PollSeconds: b.poll.Seconds(), MaxPollSeconds: b.maxPoll.Seconds(), MaxWaitSeconds: b.maxWait.Seconds(),
		}
		if spec.Batch.Mode == activities.BatchFiles {
			if spec.Batch.Dir == "" {
				spec.Batch.Dir = blob.Join(out, "exchange")
			} else if spec.Batch.Dir, err = uriFlag("batch-dir", spec.Batch.Dir); err != nil {
				return activities.BackendSpec{}, err
			}
		}
		if err := spec.Batch.Check(spec); err != nil {
			return activities.BackendSpec{}, fmt.Errorf("--batch: %w", err)
		}
	}
	return spec, nil
}
