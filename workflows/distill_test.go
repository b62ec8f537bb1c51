package workflows

import (
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
	}
	for _, tt := range tests {
		if got := tt.in.identity(); got != tt.want {
			t.Errorf("identity of %+v = %q, want %q", tt.in, got, tt.want)
		}
	}
}
