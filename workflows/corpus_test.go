package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zeroner/zeroner/activities"
)

func TestAnnotateCorpus(t *testing.T) {
	tests := []struct {
		name         string
		shards       int
		perRun       int
		badShard     int // -1: none
		wantFailed   []int
		wantDocs     int64
		wantContinue bool
	}{
		{name: "all shards", shards: 4, badShard: -1, wantDocs: 40},
		{name: "a bad shard is recorded and skipped", shards: 4, badShard: 2, wantFailed: []int{2}, wantDocs: 30},
		{name: "continues as new past the per-run bound", shards: 5, perRun: 2, badShard: -1, wantContinue: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := s.NewTestWorkflowEnvironment()
			env.RegisterWorkflow(AnnotateShard)
			registry.Register(env, wire.New(nil, nil, wire.Options{}))
			run := activities.Run{ID: "job-1", URI: "file:///out/runs/job-1"}
			env.OnActivity(activities.PlanActivity, mock.Anything, mock.Anything).Return(activities.Plan{Run: run, Objects: 1}, nil)
			env.OnActivity(activities.ShardActivity, mock.Anything, mock.Anything, mock.Anything).Return(activities.Sharding{Shards: tt.shards, Docs: int64(10 * tt.shards)}, nil)
			stats := activities.StageStats{Docs: 10, Mentions: 7}
			// The rules backend: one activity runs a shard's stages.
			env.OnActivity(activities.AnnotateActivity, mock.Anything, mock.Anything).Return(
				func(_ context.Context, task activities.ShardTask) (activities.StageStats, error) {
					if task.Shard == tt.badShard {
						return activities.StageStats{}, temporal.NewNonRetryableApplicationError("corrupt shard", activities.ErrBadInput, nil)
					}
					return stats, nil
				})
			var fin activities.FinalizeInput
			env.OnActivity(activities.FinalizeActivity, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.FinalizeInput) (activities.Summary, error) {
					fin = in
					return activities.Summary{RunID: in.Plan.Run.ID}, nil
				})

			env.OnActivity(activities.PlanFinalizeActivity, mock.Anything, mock.Anything).Return(
				[]activities.FinalizePart{{Run: run, Part: 0}, {Run: run, Part: 1}}, nil)
			env.OnActivity(activities.FinalizePartActivity, mock.Anything, mock.Anything).Return(activities.PartStats{}, nil)
			env.OnActivity(activities.MergeGraphActivity, mock.Anything, mock.Anything).Return(int64(3), nil)
			env.ExecuteWorkflow(AnnotateCorpus, CorpusState{
				Config:       activities.Config{Job: "job", Window: 2, ShardSize: 10},
				ShardsPerRun: tt.perRun,
			})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			if tt.wantContinue {
				var can *workflow.ContinueAsNewError
				if !errors.As(err, &can) {
					t.Fatalf("got %v, want continue-as-new", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var failed []int
			for _, f := range fin.Failed {
				failed = append(failed, f.Shard)
			}
			if len(failed) != len(tt.wantFailed) || (len(failed) > 0 && failed[0] != tt.wantFailed[0]) {
				t.Errorf("failed shards %v, want %v", failed, tt.wantFailed)
			}
			var p Progress
			v, err := env.QueryWorkflow(QueryProgress)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Get(&p); err != nil {
				t.Fatal(err)
			}
			if p.Phase != "done" || p.Docs != tt.wantDocs || p.ShardsTotal != tt.shards || p.ShardsDone != tt.shards-len(tt.wantFailed) {
				t.Errorf("progress %+v, want done with %d documents, %d of %d shards", p, tt.wantDocs, tt.shards-len(tt.wantFailed), tt.shards)
			}
		})
	}
}

// cause finds the activity's own error under Temporal's layers, not the
// Go causes Temporal carries below it, nor the child workflow's wrapping.
func TestCause(t *testing.T) {
	root := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	own := temporal.NewApplicationErrorWithOptions("discover: 3 of 3 requests failed: "+root.Error(), activities.ErrUnavailable,
		temporal.ApplicationErrorOptions{Details: []any{root.Error()}, Cause: errors.New("a Go cause")})
	bad := temporal.NewNonRetryableApplicationError("calibrate: span outside its document", activities.ErrBadInput, errors.New("wrapped"))
	tests := []struct {
		name      string
		err       error
		typ, want string
		grouped   string
	}{
		{"an activity's classified error", fmt.Errorf("calibrate batch: %w", activityErr("Discover", own)), activities.ErrUnavailable,
			"discover: 3 of 3 requests failed: " + root.Error(), "discover: " + root.Error()},
		{"bad input with a Go cause", activityErr("Calibrate", bad), activities.ErrBadInput, "calibrate: span outside its document", ""},
		{"no application error", errors.New("activity StartToClose timeout"), "", "activity StartToClose timeout", ""},
	}
	for _, tt := range tests {
		f := cause(tt.err)
		if f.Type != tt.typ || f.Reason != tt.want || f.Cause != tt.grouped {
			t.Errorf("%s: cause = %+v, want type %q, reason %q, cause %q", tt.name, f, tt.typ, tt.want, tt.grouped)
		}
	}
}

// activityErr is err as a workflow sees an activity's error: through
// Temporal's failure protocol, wrapped in an ActivityError.
func activityErr(name string, err error) error {
	fc := temporal.GetDefaultFailureConverter()
	f := &failurepb.Failure{Message: "activity error", Cause: fc.ErrorToFailure(err),
		FailureInfo: &failurepb.Failure_ActivityFailureInfo{ActivityFailureInfo: &failurepb.ActivityFailureInfo{
			ActivityType: &commonpb.ActivityType{Name: name}}}}
	return fc.FailureToError(f)
}
