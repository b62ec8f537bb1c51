package workflows

import (
	"fmt"
	"testing"

	"github.com/zeroner/zeroner/activities"
)

// A distill run's identity names its sample and student, so that a change
// of either makes another run.
func TestDistillIdentity(t *testing.T) {
	tests := []struct {
		in   DistillInput
		want string
	}{
		{DistillInput{Every: 10, HoldoutEvery: 5, Student: activities.StudentPerceptron}, "every=10 holdout=5 student=perceptron"},
		{DistillInput{Every: 10, HoldoutEvery: 5, Student: activities.StudentMap}, "every=10 holdout=5 student=map"},
		{DistillInput{Every: 0}, "every=1 holdout=0 student=map"},
		{DistillInput{Every: 10, SampleDocs: 5000, HoldoutEvery: 5, Student: activities.StudentPerceptron}, "sample_docs=5000 holdout=5 student=perceptron"},
	}
	for _, tt := range tests {
		if got := tt.in.identity(); got != tt.want {
			t.Errorf("identity of %+v = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDistillEvery(t *testing.T) {
	tests := []struct {
		in     DistillInput
		sh     activities.Sharding
		want   int
		approx int64 // documents sampled at the mean shard size
	}{
		{DistillInput{Every: 10}, activities.Sharding{Shards: 100, Docs: 100000}, 10, 10000},
		{DistillInput{Every: 10, SampleDocs: 5000}, activities.Sharding{Shards: 100, Docs: 100000}, 24, 5000},
		{DistillInput{SampleDocs: 4500}, activities.Sharding{Shards: 100, Docs: 100000}, 24, 5000},    // 5 shards: rounded up
		{DistillInput{SampleDocs: 1}, activities.Sharding{Shards: 100, Docs: 100000}, 100, 1000},      // one shard at least
		{DistillInput{SampleDocs: 200000}, activities.Sharding{Shards: 100, Docs: 100000}, 1, 100000}, // more than there is
		{DistillInput{SampleDocs: 30}, activities.Sharding{Shards: 55, Docs: 271}, 9, 271 * 7 / 55},   // 7 shards of about 5
		{DistillInput{SampleDocs: 30}, activities.Sharding{}, 1, 0},                                   // nothing sharded
	}
	for _, tt := range tests {
		got, need := tt.in.spacing(tt.sh)
		if got != tt.want {
			t.Errorf("every(%+v, %+v) = %d, want %d", tt.in, tt.sh, got, tt.want)
			continue
		}
		if tt.sh.Shards == 0 {
			continue
		}
		sampled := int64((tt.sh.Shards + got - 1) / got)
		if tt.in.SampleDocs > 0 && sampled < int64(need) {
			t.Errorf("%+v: %d shards sampled from shard 0, want %d at least", tt.in, sampled, need)
		}
		if docs := sampled * tt.sh.Docs / int64(tt.sh.Shards); docs != tt.approx || (tt.in.SampleDocs > 0 && docs < min(tt.in.SampleDocs, tt.sh.Docs)) {
			t.Errorf("%+v: %d shards sampled, about %d documents; want %d", tt.in, sampled, docs, tt.approx)
		}
	}
}

// Wherever the sample starts, it holds the shards it needs, and the same
// run starts at the same shard.
func TestSampleStart(t *testing.T) {
	seen := map[int]bool{}
	for _, tt := range []struct{ shards, every, need int }{{100, 10, 1}, {100, 24, 5}, {55, 9, 7}, {28, 5, 6}, {3, 10, 1}, {1, 1, 1}} {
		for i := range 50 {
			id := fmt.Sprintf("job-%03d", i)
			start := sampleStart(id, tt.shards, tt.every, tt.need)
			s := activities.Sample{Shards: tt.shards, Every: tt.every, Start: start}
			n := 0
			for shard := range tt.shards {
				if s.Sampled(shard) {
					n++
				}
			}
			if start < 0 || start >= max(tt.every, 1) || n < tt.need || start != sampleStart(id, tt.shards, tt.every, tt.need) {
				t.Fatalf("%+v, run %s: start %d samples %d shards", tt, id, start, n)
			}
			if tt.shards == 100 && tt.every == 10 {
				seen[start] = true
			}
		}
	}
	if len(seen) < 5 {
		t.Errorf("starts over 50 runs at a spacing of 10: %v; want them spread", seen)
	}
}
