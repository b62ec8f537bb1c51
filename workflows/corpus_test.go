package workflows

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/mock"
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
			a := activities.New(nil, nil, activities.Options{})
			env.RegisterActivity(a)
			run := activities.Run{ID: "job-1", URI: "file:///out/runs/job-1"}
			env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(activities.Plan{Run: run, Objects: 1}, nil)
			env.OnActivity(a.Shard, mock.Anything, mock.Anything, mock.Anything).Return(activities.Sharding{Shards: tt.shards, Docs: int64(10 * tt.shards)}, nil)
			stats := activities.StageStats{Docs: 10, Mentions: 7}
			env.OnActivity(a.Discover, mock.Anything, mock.Anything).Return(
				func(_ context.Context, task activities.ShardTask) (activities.StageStats, error) {
					if task.Shard == tt.badShard {
						return activities.StageStats{}, temporal.NewNonRetryableApplicationError("corrupt shard", activities.ErrBadInput, nil)
					}
					return stats, nil
				})
			env.OnActivity(a.Mediate, mock.Anything, mock.Anything).Return(stats, nil)
			env.OnActivity(a.Calibrate, mock.Anything, mock.Anything).Return(stats, nil)
			var fin activities.FinalizeInput
			env.OnActivity(a.Finalize, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.FinalizeInput) (activities.Summary, error) {
					fin = in
					return activities.Summary{RunID: in.Plan.Run.ID}, nil
				})

			env.OnActivity(a.Graph, mock.Anything, mock.Anything).Return(activities.GraphStats{Entities: 3}, nil)
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
