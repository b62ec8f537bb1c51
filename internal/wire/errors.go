package wire

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/httpapi"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// Classify gives *err, an activity's error, the type that tells the
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
// Heartbeat) is left as it is. The new error has no cause: its text says
// it all, and a cause would reach the workflow as more application errors
// whose types are Go's.
func Classify(ctx context.Context, err *error) {
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
	case errors.Is(e, httpapi.ErrRefused):
		opts.NonRetryable = true
		*err = temporal.NewApplicationErrorWithOptions(e.Error(), activities.ErrRefused, opts)
	case errors.Is(e, httpapi.ErrUnavailable) || httpapi.Retryable(e):
		*err = temporal.NewApplicationErrorWithOptions(e.Error(), activities.ErrUnavailable, opts)
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

// Heartbeat records a heartbeat every period until stopped, so that a
// worker's death is noticed within the heartbeat timeout while a stage runs.
func Heartbeat(ctx context.Context, period time.Duration) (stop func()) {
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
