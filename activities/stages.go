package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/zeroner/zeroner/internal/apiclient"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// Discover proposes the shard's entity spans.
func (a *Activities) Discover(ctx context.Context, t ShardTask) (StageStats, error) {
	return a.stage(ctx, t, StageDiscover)
}

// Mediate assigns the shard's mentions their archetypes.
func (a *Activities) Mediate(ctx context.Context, t ShardTask) (StageStats, error) {
	return a.stage(ctx, t, StageMediate)
}

// Calibrate assigns the shard's mentions their target labels.
func (a *Activities) Calibrate(ctx context.Context, t ShardTask) (StageStats, error) {
	return a.stage(ctx, t, StageCalibrate)
}

// prevStage is the stage whose output a stage reads ("" for the first).
func prevStage(stage string) string {
	switch stage {
	case StageMediate:
		return StageDiscover
	case StageCalibrate:
		return StageMediate
	}
	return ""
}

// runStage runs one stage of b on documents and the previous stage's mentions.
func runStage(ctx context.Context, stage string, b pipeline.Backend, docs []pipeline.Document, in []pipeline.Mention) (pipeline.Result, error) {
	switch stage {
	case StageDiscover:
		return b.Discover(ctx, docs)
	case StageMediate:
		return b.Mediate(ctx, docs, in)
	case StageCalibrate:
		return b.Calibrate(ctx, docs, in)
	}
	return pipeline.Result{}, fmt.Errorf("unknown stage %q", stage)
}

// stageInput reads a stage's input for a shard: the documents and the
// previous stage's mentions.
func (a *Activities) stageInput(ctx context.Context, t ShardTask, stage string) ([]pipeline.Document, []pipeline.Mention, error) {
	rows, err := a.readDocuments(ctx, t.Run.Documents(t.Shard))
	if err != nil {
		return nil, nil, err
	}
	var in []pipeline.Mention
	if prev := prevStage(stage); prev != "" {
		prevRows, err := a.readMentions(ctx, t.Run.Stage(prev, t.Shard))
		if err != nil {
			return nil, nil, err
		}
		in = toMentions(prevRows)
	}
	return toDocuments(rows), in, nil
}

// stage runs one stage on one shard: it returns at once if the output exists,
// else reads the documents and the previous stage's mentions, runs the
// stage, and writes the mentions and any failures.
func (a *Activities) stage(ctx context.Context, t ShardTask, stage string) (_ StageStats, err error) {
	log := a.taskLog(ctx, t.Run.ID, t.Shard, stage)
	start := time.Now()
	defer a.countError(ctx, log, stage, &err)
	defer classify(ctx, &err)
	out := t.Run.Stage(stage, t.Shard)
	if ms, err := a.readMentions(ctx, out); err == nil {
		log.Debug("stage output exists")
		return a.existingStats(ctx, t, stage, ms)
	} else if !blob.IsNotExist(err) {
		return StageStats{}, err
	}
	stop := heartbeat(ctx, 5*time.Second)
	defer stop()

	docs, in, err := a.stageInput(ctx, t, stage)
	if err != nil {
		return StageStats{}, err
	}
	var b pipeline.Backend
	if t.Backend.Batch.Mode == "" {
		b, err = a.backend(ctx, t.Run, t.Backend)
	} else {
		b, err = a.batchFinal(ctx, t, stage)
	}
	if err != nil {
		return StageStats{}, err
	}
	res, err := runStage(ctx, stage, b, docs, in)
	if err != nil {
		// No shard number: the workflow knows it, and the same cause on
		// many shards is then one cause in the job's summary.
		return StageStats{}, fmt.Errorf("%s: %w", stage, err)
	}
	if err := pipeline.CheckMentions(docs, res.Mentions); err != nil {
		// A backend that emits a span outside its document is a bug; do
		// not write a table that downstream users would trust.
		return StageStats{}, badInput(fmt.Errorf("%s shard %d: %w", stage, t.Shard, err))
	}
	// The ledger and the failures first: the stage's output is the marker
	// that the stage is done.
	var total pipeline.Usage
	if len(res.Usage) > 0 {
		rows := make([]table.Usage, 0, len(res.Usage))
		for _, d := range docs {
			u, ok := res.Usage[d.ID]
			if !ok {
				continue
			}
			total.Add(u)
			rows = append(rows, table.Usage{RunID: t.Run.ID, DocID: d.ID, Stage: stage, Requests: u.Requests, CacheHits: u.CacheHits,
				PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, CachedTokens: u.CachedTokens,
				BatchRequests: u.BatchRequests, BatchTokens: u.BatchTokens})
		}
		err := a.store.Replace(ctx, t.Run.Usage(stage, t.Shard), rowsTo(table.NewUsageWriter, rows))
		if err != nil {
			return StageStats{}, err
		}
	}
	if len(res.Failures) > 0 {
		fails := make([]table.Reject, len(res.Failures))
		for i, f := range res.Failures {
			fails[i] = table.Reject{RunID: t.Run.ID, Object: f.DocID, Reason: f.Stage + ": " + f.Reason}
		}
		err := a.store.Replace(ctx, t.Run.Failures(stage, t.Shard), rowsTo(table.NewRejectWriter, fails))
		if err != nil {
			return StageStats{}, err
		}
	}
	err = a.store.Create(ctx, out, rowsTo(table.NewMentionWriter, fromMentions(t.Run.ID, res.Mentions)))
	if err != nil && !blob.IsExist(err) {
		return StageStats{}, err
	}
	st := StageStats{Docs: len(docs), Mentions: len(res.Mentions), Failures: len(res.Failures), Usage: total}
	// Counted here only: a retry that finds the output did no new work.
	a.metrics.Stage(stage, st.Docs, st.Mentions, st.Failures, st.Usage)
	log.Info("stage done", "docs", st.Docs, "mentions", st.Mentions, "failures", st.Failures,
		"requests", total.Requests, "cache_hits", total.CacheHits, "tokens", total.PromptTokens+total.CompletionTokens,
		"seconds", time.Since(start).Round(time.Millisecond).Seconds())
	if st.Failures > 0 {
		log.Warn("stage could not process some documents", "failures", st.Failures, "table", t.Run.Failures(stage, t.Shard))
	}
	return st, nil
}

// taskLog is a's logger with what locates an activity's work: the run, the
// stage, the shard (if not negative), and the Temporal workflow and attempt.
func (a *Activities) taskLog(ctx context.Context, run string, shard int, stage string) *slog.Logger {
	attrs := []any{"run", run, "stage", stage}
	if shard >= 0 {
		attrs = append(attrs, "shard", shard)
	}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		attrs = append(attrs, "workflow_id", info.WorkflowExecution.ID, "attempt", info.Attempt)
	}
	return a.log.With(attrs...)
}

// countError counts and logs *err, a stage's error, when it is one: an
// attempt canceled by its context (a worker stopping, a lost heartbeat) is
// not the stage's failure.
func (a *Activities) countError(ctx context.Context, log *slog.Logger, stage string, err *error) {
	if *err != nil && ctx.Err() == nil {
		a.metrics.StageError(stage)
		log.Warn("stage failed", "err", *err)
	}
}

// classify gives *err, an activity's error, the type that tells the
// workflow what to do with it (see errors.go), at the top of the error,
// where Temporal's retry policy and the workflow look:
//   - an application error wrapped in context (a refusal from safeStore,
//     bad input) is lifted to the top with its type and the whole text;
//   - a service that refused the request for good (401, 403, 404 from the
//     LLM or an encoder) is ErrRefused, not retried;
//   - a service that could not be reached, timed out or kept failing after
//     the client's retries is ErrUnavailable: retried by the activity's
//     policy, and when those retries end the shard stays pending.
//
// An error of an attempt whose context ended (a worker stopping, a lost
// heartbeat) is left as it is. The new error has no cause: its text says
// it all, and a cause would reach the workflow as more application errors
// whose types are Go's.
func classify(ctx context.Context, err *error) {
	e := *err
	if e == nil || ctx.Err() != nil {
		return
	}
	// The innermost error rides along as the error's details: the job
	// groups failures by it (the outer text varies with counts and ids).
	opts := temporal.ApplicationErrorOptions{Details: []any{tail(e)}}
	var app *temporal.ApplicationError
	switch {
	case errors.As(e, &app):
		if app == e {
			return
		}
		opts.NonRetryable = app.NonRetryable()
		*err = temporal.NewApplicationErrorWithOptions(message(e), app.Type(), opts)
	case errors.Is(e, apiclient.ErrRefused):
		opts.NonRetryable = true
		*err = temporal.NewApplicationErrorWithOptions(e.Error(), ErrRefused, opts)
	case errors.Is(e, apiclient.ErrUnavailable) || apiclient.Retryable(e):
		*err = temporal.NewApplicationErrorWithOptions(e.Error(), ErrUnavailable, opts)
	}
}

// message is err's text, without the "(type: ..., retryable: ...)" that an
// application error in its chain adds.
func message(err error) string {
	text := err.Error()
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		text = strings.Replace(text, app.Error(), app.Message(), 1)
	}
	return text
}

// tail is the text of the innermost error of err's chain that ends err's
// text: "dial tcp ...: connection refused" of "discover: 20 of 20 requests
// failed: ...: dial tcp ...: connection refused". It stops at an error
// wrapped in the middle of a message ("llm m: %w: 401"), whose text alone
// would say too little.
func tail(err error) string {
	text := message(err)
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(next) {
		t := message(next)
		if !strings.HasSuffix(text, t) {
			break
		}
		text = t
	}
	return text
}

// existingStats recounts a finished stage's output, for a retried activity.
func (a *Activities) existingStats(ctx context.Context, t ShardTask, stage string, ms []table.Mention) (StageStats, error) {
	docs, err := a.readDocuments(ctx, t.Run.Documents(t.Shard))
	if err != nil {
		return StageStats{}, err
	}
	fails, err := a.readRejects(ctx, t.Run.Failures(stage, t.Shard))
	if err != nil && !blob.IsNotExist(err) {
		return StageStats{}, err
	}
	usage, err := a.readUsage(ctx, t.Run.Usage(stage, t.Shard))
	if err != nil && !blob.IsNotExist(err) {
		return StageStats{}, err
	}
	return StageStats{Docs: len(docs), Mentions: len(ms), Failures: len(fails), Usage: sumUsage(usage)}, nil
}

// heartbeat records a heartbeat every period until stopped, so that a
// worker's death is noticed within the heartbeat timeout while a stage runs.
func heartbeat(ctx context.Context, period time.Duration) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

func toDocuments(rows []table.Document) []pipeline.Document {
	docs := make([]pipeline.Document, len(rows))
	for i, r := range rows {
		docs[i] = pipeline.Document{ID: r.DocID, Text: r.Text, Source: r.Source}
	}
	return docs
}

func toMentions(rows []table.Mention) []pipeline.Mention {
	ms := make([]pipeline.Mention, len(rows))
	for i, r := range rows {
		ms[i] = pipeline.Mention{
			DocID: r.DocID, Start: int(r.Start), End: int(r.End), Text: r.Text,
			Archetype: pipeline.Archetype(r.Archetype), Label: r.Label, Score: r.Score,
			Extractors: r.Extractors,
		}
	}
	return ms
}

func fromMentions(run string, ms []pipeline.Mention) []table.Mention {
	rows := make([]table.Mention, len(ms))
	for i, m := range ms {
		rows[i] = table.Mention{
			RunID: run, DocID: m.DocID, Start: int64(m.Start), End: int64(m.End), Text: m.Text,
			Archetype: string(m.Archetype), Label: m.Label, Score: m.Score, Extractors: m.Extractors,
		}
	}
	return rows
}
