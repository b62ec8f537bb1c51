package wire

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/zeroner/zeroner/activities"

	"go.temporal.io/sdk/temporal"

	"github.com/zeroner/zeroner/io/httpapi"
)

// An activity's error reaches Temporal with the type that says what to do
// with it, at the top of the error, where the retry policy and the
// workflow look.
func TestClassify(t *testing.T) {
	refusedStore := permanent(fmt.Errorf("create gs://b/x: %w", fs.ErrPermission))
	for _, tt := range []struct {
		name         string
		err          error
		typ          string // "" : left as it is
		nonRetryable bool
	}{
		{"llm 401", fmt.Errorf("discover: %w", fmt.Errorf("llm m at u: %w: 401", httpapi.ErrRefused)), activities.ErrRefused, true},
		{"llm gave up", fmt.Errorf("discover: %w", httpapi.GaveUp(syscall.ECONNREFUSED, 7)), activities.ErrUnavailable, false},
		{"connection refused", fmt.Errorf("read x: %w", syscall.ECONNREFUSED), activities.ErrUnavailable, false},
		{"storage refused, wrapped", fmt.Errorf("discover shard 3: %w", refusedStore), activities.ErrRefused, true},
		{"bad input, wrapped", fmt.Errorf("discover shard 3: %w", activities.BadInput(errors.New("corrupt"))), activities.ErrBadInput, true},
		{"other", errors.New("a bug"), "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err
			Classify(context.Background(), &err)
			app, ok := err.(*temporal.ApplicationError)
			if tt.typ == "" {
				if err != tt.err {
					t.Errorf("classified %v as %v", tt.err, err)
				}
				return
			}
			// The whole text, without the "(type: ...)" an application
			// error's Error adds.
			want, _, _ := strings.Cut(tt.err.Error(), " (type: ")
			if !ok || app.Type() != tt.typ || app.NonRetryable() != tt.nonRetryable || app.Message() != want {
				t.Fatalf("classified as %#v, want a top-level %s (non-retryable %v) with the whole text", err, tt.typ, tt.nonRetryable)
			}
			var root string
			if !app.HasDetails() || app.Details(&root) != nil || root == "" || !strings.HasSuffix(want, root) {
				t.Errorf("details %q: want the innermost error, which ends %q", root, want)
			}
			if errors.Unwrap(app) != nil {
				t.Errorf("%v has a cause; the workflow would see more application errors under it", app)
			}
		})
	}

	// An attempt cut short by its context is left alone.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := error(fmt.Errorf("x: %w", context.Canceled))
	before := err
	Classify(ctx, &err)
	if err != before {
		t.Errorf("classified a cancelled attempt's error: %v", err)
	}
}
