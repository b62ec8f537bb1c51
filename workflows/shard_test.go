package workflows

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/mock"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/pipeline"
)

// A shard of the rules backend is one activity; a shard of a backend that
// calls a model is three, one per stage, whose failures and usage add up.
func TestAnnotateShardActivities(t *testing.T) {
	tests := []struct {
		backend activities.BackendSpec
		want    []string
		result  ShardResult
	}{
		{activities.BackendSpec{}, []string{activities.AnnotateActivity},
			ShardResult{Docs: 10, Mentions: 7, Failures: 1, Usage: pipeline.Usage{}}},
		{activities.BackendSpec{Name: "rules"}, []string{activities.AnnotateActivity},
			ShardResult{Docs: 10, Mentions: 7, Failures: 1, Usage: pipeline.Usage{}}},
		{activities.BackendSpec{Name: "sam"}, []string{activities.DiscoverActivity, activities.MediateActivity, activities.CalibrateActivity},
			ShardResult{Docs: 10, Mentions: 7, Failures: 3, Usage: pipeline.Usage{Requests: 6}}},
	}
	for _, tt := range tests {
		t.Run(tt.backend.Name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := s.NewTestWorkflowEnvironment()
			registry.Register(env, wire.New(nil, nil, wire.Options{}))
			var ran []string
			stats := activities.StageStats{Docs: 10, Mentions: 7, Failures: 1}
			if tt.backend.Name == "sam" {
				stats.Usage.Requests = 2
			}
			for _, name := range []string{activities.AnnotateActivity, activities.DiscoverActivity, activities.MediateActivity, activities.CalibrateActivity} {
				env.OnActivity(name, mock.Anything, mock.Anything).Return(stats, nil).Run(func(mock.Arguments) { ran = append(ran, name) })
			}
			env.ExecuteWorkflow(AnnotateShard, ShardInput{Run: activities.Run{ID: "r", URI: "file:///out/runs/r"}, Backend: tt.backend})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var got ShardResult
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if len(ran) != len(tt.want) || ran[0] != tt.want[0] || ran[len(ran)-1] != tt.want[len(tt.want)-1] {
				t.Errorf("activities %v, want %v", ran, tt.want)
			}
			if got != tt.result {
				t.Errorf("result %+v, want %+v", got, tt.result)
			}
		})
	}
}
