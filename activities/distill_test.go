package activities

import "testing"

func TestSample(t *testing.T) {
	s := Sample{Shards: 28, Every: 4, HoldoutEvery: 3}
	var sampled, held []int
	for shard := range s.Shards {
		if s.Sampled(shard) {
			sampled = append(sampled, shard)
		}
		if s.Holdout(shard) {
			held = append(held, shard)
		}
	}
	if len(sampled) != 7 || len(held) != 2 || held[0] != 8 || held[1] != 20 {
		t.Errorf("sampled %v, held out %v; want 0, 4, ..., 24 and 8, 20", sampled, held)
	}
	s = Sample{Shards: 28, Every: 4, Start: 3, HoldoutEvery: 3}
	sampled, held = nil, nil
	for shard := range s.Shards {
		if s.Sampled(shard) {
			sampled = append(sampled, shard)
		}
		if s.Holdout(shard) {
			held = append(held, shard)
		}
	}
	if len(sampled) != 7 || sampled[0] != 3 || sampled[6] != 27 || len(held) != 2 || held[0] != 11 || held[1] != 23 {
		t.Errorf("from shard 3: sampled %v, held out %v; want 3, 7, ..., 27 and 11, 23", sampled, held)
	}
	for _, tt := range []struct{ student, want string }{{"", StudentMap}, {StudentMap, StudentMap}, {StudentPerceptron, StudentPerceptron}} {
		if got := (Sample{Student: tt.student}).StudentName(); got != tt.want {
			t.Errorf("student %q: name %q, want %q", tt.student, got, tt.want)
		}
	}
	for _, name := range Students() {
		if err := CheckStudent(name); err != nil {
			t.Error(err)
		}
	}
	if err := CheckStudent(""); err == nil {
		t.Error(`CheckStudent(""): no error`)
	}
}
