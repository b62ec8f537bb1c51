package pipeline

import "context"

// Annotate runs a backend's three stages on docs in order: discover, mediate,
// calibrate. The result holds the calibrated mentions, the failures of every
// stage and their model usage added up per document. The job runs the stages
// as separate activities; this is for everything that runs them in one go.
func Annotate(ctx context.Context, b Backend, docs []Document) (Result, error) {
	var out Result
	add := func(r Result) {
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
	d, err := b.Discover(ctx, docs)
	if err != nil {
		return Result{}, err
	}
	add(d)
	m, err := b.Mediate(ctx, docs, d.Mentions)
	if err != nil {
		return Result{}, err
	}
	add(m)
	c, err := b.Calibrate(ctx, docs, m.Mentions)
	if err != nil {
		return Result{}, err
	}
	add(c)
	out.Mentions = c.Mentions
	return out, nil
}
