package pipeline

import (
	"context"
	"errors"
	"testing"
)

// stub is a backend whose stages record their order and can fail.
type stub struct {
	calls []string
	fail  string
}

func (s *stub) Name() string { return "stub" }

func (s *stub) step(name string, ms []Mention, m Mention) (Result, error) {
	s.calls = append(s.calls, name)
	if s.fail == name {
		return Result{}, errors.New(name + " failed")
	}
	return Result{Mentions: append(ms, m), Failures: []Failure{{DocID: "a", Stage: name}},
		Usage: map[string]Usage{"a": {Requests: 1, PromptTokens: 10}}}, nil
}

func (s *stub) Discover(_ context.Context, _ []Document) (Result, error) {
	return s.step("discover", nil, Mention{Label: "d"})
}
func (s *stub) Mediate(_ context.Context, _ []Document, ms []Mention) (Result, error) {
	return s.step("mediate", ms, Mention{Label: "m"})
}
func (s *stub) Calibrate(_ context.Context, _ []Document, ms []Mention) (Result, error) {
	return s.step("calibrate", ms, Mention{Label: "c"})
}

func TestAnnotate(t *testing.T) {
	b := &stub{}
	r, err := Annotate(context.Background(), b, []Document{{ID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.calls) != 3 || b.calls[0] != "discover" || b.calls[2] != "calibrate" {
		t.Errorf("stages ran as %v", b.calls)
	}
	if len(r.Mentions) != 3 || r.Mentions[2].Label != "c" {
		t.Errorf("mentions %+v: want each stage's output fed to the next", r.Mentions)
	}
	if len(r.Failures) != 3 || r.Usage["a"].Requests != 3 || r.Usage["a"].PromptTokens != 30 {
		t.Errorf("failures %d, usage %+v: want every stage's, added up", len(r.Failures), r.Usage["a"])
	}
	b = &stub{fail: "mediate"}
	if _, err := Annotate(context.Background(), b, nil); err == nil || len(b.calls) != 2 {
		t.Errorf("a failing stage: err %v after %v; want the error, and calibrate not run", err, b.calls)
	}
}

// fusedStub is a stub that also runs its stages in one pass.
type fusedStub struct {
	stub
	fused int
}

func (f *fusedStub) AnnotateStages(_ context.Context, _ []Document) (Staged, error) {
	f.fused++
	return Staged{Calibrate: Result{Mentions: []Mention{{Label: "fused"}}}}, nil
}

func TestRunStages(t *testing.T) {
	b := &stub{fail: "calibrate"}
	_, err := RunStages(context.Background(), b, nil)
	if err == nil || err.Error() != "calibrate: calibrate failed" {
		t.Errorf("err %v: want the stage named", err)
	}
	b = &stub{}
	st, err := RunStages(context.Background(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Discover.Mentions) != 1 || len(st.Mediate.Mentions) != 2 || len(st.Calibrate.Mentions) != 3 {
		t.Errorf("stages' mentions %d, %d, %d: want each stage's own result", len(st.Discover.Mentions), len(st.Mediate.Mentions), len(st.Calibrate.Mentions))
	}
	f := &fusedStub{}
	r, err := Annotate(context.Background(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.fused != 1 || len(f.calls) != 0 || len(r.Mentions) != 1 || r.Mentions[0].Label != "fused" {
		t.Errorf("fused %d times, stages %v, mentions %+v: want the one-pass path alone", f.fused, f.calls, r.Mentions)
	}
}
