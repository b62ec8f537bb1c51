package pipeline

import (
	"context"
	"fmt"
)

// Staged is what each of a backend's three stages returned for the same
// documents: Mediate read Discover's mentions, Calibrate read Mediate's.
type Staged struct {
	Discover, Mediate, Calibrate Result
}

// Fused is a backend that runs its three stages over documents in one pass,
// reading each document once (its tokens, and what mediation learned about a
// mention, serve the later stages). The result must equal running Discover,
// Mediate and Calibrate one after the other.
type Fused interface {
	AnnotateStages(ctx context.Context, docs []Document) (Staged, error)
}

// RunStages runs b's three stages on docs in order, in one pass if b is
// Fused. An error names the stage it came from.
func RunStages(ctx context.Context, b Backend, docs []Document) (Staged, error) {
	if f, ok := b.(Fused); ok {
		return f.AnnotateStages(ctx, docs)
	}
	var st Staged
	var err error
	if st.Discover, err = b.Discover(ctx, docs); err != nil {
		return Staged{}, fmt.Errorf("discover: %w", err)
	}
	if st.Mediate, err = b.Mediate(ctx, docs, st.Discover.Mentions); err != nil {
		return Staged{}, fmt.Errorf("mediate: %w", err)
	}
	if st.Calibrate, err = b.Calibrate(ctx, docs, st.Mediate.Mentions); err != nil {
		return Staged{}, fmt.Errorf("calibrate: %w", err)
	}
	return st, nil
}

// Annotate runs a backend's three stages on docs in order: discover, mediate,
// calibrate. The result holds the calibrated mentions, the failures of every
// stage and their model usage added up per document. It is for everything
// that runs the stages in one go and needs only the last stage's mentions.
func Annotate(ctx context.Context, b Backend, docs []Document) (Result, error) {
	st, err := RunStages(ctx, b, docs)
	if err != nil {
		return Result{}, err
	}
	out := Result{Mentions: st.Calibrate.Mentions}
	for _, r := range []Result{st.Discover, st.Mediate, st.Calibrate} {
		out.Failures = append(out.Failures, r.Failures...)
		for id, u := range r.Usage {
			if out.Usage == nil {
				out.Usage = make(map[string]Usage)
			}
			v := out.Usage[id]
			v.Add(u)
			out.Usage[id] = v
		}
	}
	return out, nil
}
