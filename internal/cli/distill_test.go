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

func TestAgreementNote(t *testing.T) {
	a := activities.Agreement{Docs: 40, StrictF1: 64.5, SpanF1: 80.15}
	if got, want := agreementNote(a), "strict F1 64.5, span F1 80.2"; got != want {
		t.Errorf("without intervals: %q, want %q", got, want)
	}
	a.StrictCI, a.SpanCI = &activities.Interval{Lo: 58.04, Hi: 70.96}, &activities.Interval{Lo: 75, Hi: 85}
	if got, want := agreementNote(a), "strict F1 64.5 (95% CI 58.0-71.0), span F1 80.2 (95% CI 75.0-85.0)"; got != want {
		t.Errorf("with intervals: %q, want %q", got, want)
	}
}
