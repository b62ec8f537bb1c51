package cli

import (
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
)

func TestNoHoldout(t *testing.T) {
	tests := []struct {
		shards      int
		docs        int64
		every, held int
		size        int
		want        string
	}{
		{1, 271, 10, 5, 1000, "made 1 shard(s) of --shard-size 1000, and holding one sampled shard out needs 41; run again with --shard-size 6 or less"},
		{3, 30, 10, 5, 10, "the corpus is too small"},
	}
	for _, tt := range tests {
		if got := noHoldout(tt.shards, tt.docs, tt.every, tt.held, tt.size); !strings.Contains(got, tt.want) {
			t.Errorf("noHoldout(%d, %d, %d, %d, %d) = %q, want %q", tt.shards, tt.docs, tt.every, tt.held, tt.size, got, tt.want)
		}
	}
}

func TestStudentNote(t *testing.T) {
	tests := []struct {
		e    activities.EstimateStats
		want string
	}{
		{activities.EstimateStats{Student: "perceptron", Docs: 100, Weights: 5000, Bytes: 70000}, "perceptron student (5000 weights, 70000 bytes, from 100 documents)"},
		{activities.EstimateStats{Student: "map", Docs: 100, Entries: 900}, "map (900 entries from 100 documents)"},
		{activities.EstimateStats{Docs: 100, Entries: 900}, "map (900 entries from 100 documents)"},
	}
	for _, tt := range tests {
		if got := studentNote(tt.e); got != tt.want {
			t.Errorf("studentNote(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}
