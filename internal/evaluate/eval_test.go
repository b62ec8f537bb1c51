package evaluate

import (
	"testing"

	"github.com/zeroner/zeroner/activities"
)

func TestFailedDocs(t *testing.T) {
	shards := func(ns ...int) []activities.ShardFailure {
		var out []activities.ShardFailure
		for _, n := range ns {
			out = append(out, activities.ShardFailure{Shard: n})
		}
		return out
	}
	tests := []struct {
		name string
		sum  activities.Summary
		want int
	}{
		{name: "none", want: 0},
		{name: "failed chunks", sum: activities.Summary{Failures: 3}, want: 3},
		{name: "a whole shard", sum: activities.Summary{FailedShards: shards(0)}, want: 10},
		{name: "the last, short shard", sum: activities.Summary{FailedShards: shards(2)}, want: 5},
		{name: "shards and chunks", sum: activities.Summary{Failures: 2, FailedShards: shards(1, 2)}, want: 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 25 documents in shards of 10: 10, 10 and 5.
			if got := failedDocs(tt.sum, 10, 25); got != tt.want {
				t.Errorf("failedDocs = %d, want %d", got, tt.want)
			}
		})
	}
}
