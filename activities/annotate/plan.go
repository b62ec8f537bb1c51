package annotate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
)

// Plan decides the job's next run. First, an earlier run of the job with
// the same settings that left objects pending (a failed shard or chunk)
// is reopened, so its finished stages and cached answers are reused; the
// job plans again once it is finalized (cfg.Tried lists the runs reopened
// so far, which are not reopened twice). Otherwise the run reads every
// object that is new, changed, pending, or annotated with other settings
// (all of them with cfg.Full). The run id is a hash of the manifest and
// the settings, so the same job on the same input finds its earlier run's
// outputs, also after a crash.
func (a *Activities) Plan(ctx context.Context, cfg activities.Config) (activities.Plan, error) {
	objs, err := a.list(ctx, cfg)
	if err != nil {
		return activities.Plan{}, err
	}
	schema, s, err := a.planSchema(ctx, cfg)
	if err != nil {
		return activities.Plan{}, err
	}
	state, err := a.readJobState(ctx, cfg)
	if err != nil {
		return activities.Plan{}, err
	}
	settings := settingsOf(cfg, s)
	items := make([]activities.ManifestItem, len(objs))
	for i, o := range objs {
		items[i] = activities.ManifestItem{URI: o.URI, Size: o.Size, ModTime: o.ModTime.UTC(), Generation: o.Generation}
	}
	resume := ""
	if !cfg.Full {
		resume = resumable(state, settings, items, cfg.Tried)
	}
	sel := selectObjects(cfg, state, settings, items, resume)
	switch {
	case resume != "":
		return a.resumeRun(ctx, state, resume, len(sel.manifest.Objects))
	case len(sel.manifest.Objects) == 0:
		return a.upToDate(ctx, cfg, state, len(objs), sel.pending)
	}
	run, err := a.createRun(ctx, cfg, s, schema, sel.manifest)
	if err != nil {
		return activities.Plan{}, err
	}
	finished, err := a.reopenFinished(ctx, run)
	if err != nil {
		return activities.Plan{}, err
	}
	a.deps.Log.Info("planned run", "run", run.ID, "objects", len(sel.manifest.Objects), "of", len(objs), "bytes", sel.bytes, "finished", finished)
	return withOutputs(activities.Plan{Run: run, Objects: len(sel.manifest.Objects), Bytes: sel.bytes, Finished: finished,
		Reannotated: sel.redo(), Pending: sel.pending.List()}), nil
}

// planSchema reads and parses the job's schema, and checks that the job's
// backend can be built with it. It returns the schema's bytes too, for the
// run's copy.
func (a *Activities) planSchema(ctx context.Context, cfg activities.Config) ([]byte, *pipeline.Schema, error) {
	schema, err := blob.ReadAll(ctx, a.deps.Store, cfg.Schema)
	if err != nil {
		if blob.IsNotExist(err) {
			return nil, nil, activities.BadInput(err)
		}
		return nil, nil, err
	}
	s, err := pipeline.ParseSchema(schema)
	if err != nil {
		return nil, nil, activities.BadInput(fmt.Errorf("schema %s: %w", cfg.Schema, err))
	}
	if _, err := a.deps.BuildBackend(cfg.Backend, s); err != nil {
		return nil, nil, activities.BadInput(err)
	}
	return schema, s, nil
}

// selection is the objects a new run would annotate, and why.
type selection struct {
	manifest activities.Manifest
	bytes    int64
	pending  activities.Problems // objects left pending that no run takes now
	// reasons counts the objects annotated with other settings, per
	// change, in order of first appearance.
	reasons map[string]int
	order   []string
}

// selectObjects picks the listed objects a new run annotates: new,
// changed, pending, or annotated with other settings (all of them with
// cfg.Full), except those the resumed run annotates.
func selectObjects(cfg activities.Config, state runs.JobState, settings runs.Settings, items []activities.ManifestItem, resume string) selection {
	sel := selection{manifest: activities.Manifest{Corpus: cfg.Corpus}, reasons: make(map[string]int)}
	for _, o := range items {
		if !cfg.Full {
			if p, ok := state.Pending[o.URI]; ok && runs.Same(p.ManifestItem, o) && p.Settings == settings.Hash {
				if p.Run == resume {
					continue // the resumed run annotates it
				}
				if p.Rejected || slices.Contains(cfg.Tried, p.Run) {
					sel.pending.Add(p.Reason, o.URI, p.Rejected)
					continue
				}
			}
			if prev, ok := state.Objects[o.URI]; ok && runs.Same(prev.ManifestItem, o) {
				if prev.Settings == settings.Hash {
					continue
				}
				r, _ := state.Run(prev.Run)
				why := settings.Change(r.Settings)
				if sel.reasons[why] == 0 {
					sel.order = append(sel.order, why)
				}
				sel.reasons[why]++
			}
		}
		sel.manifest.Objects = append(sel.manifest.Objects, o)
		sel.bytes += o.Size
	}
	return sel
}

// redo says, per change of settings, how many objects are annotated again.
func (sel selection) redo() []string {
	var out []string
	for _, why := range sel.order {
		noun := "objects were"
		if sel.reasons[why] == 1 {
			noun = "object was"
		}
		out = append(out, fmt.Sprintf("%d %s annotated with %s", sel.reasons[why], noun, why))
	}
	return out
}

// resumeRun reopens the job's run id to annotate what it left pending;
// more is how many objects a run after it annotates.
func (a *Activities) resumeRun(ctx context.Context, state runs.JobState, id string, more int) (activities.Plan, error) {
	r, _ := state.Run(id)
	run := activities.Run{ID: r.ID, URI: r.URI}
	if _, err := a.reopen(ctx, run); err != nil {
		return activities.Plan{}, err
	}
	a.deps.Log.Info("resuming run", "run", run.ID, "pending", r.Pending, "more", more)
	return withOutputs(activities.Plan{Run: run, Objects: r.Objects, Resumed: true, More: more > 0}), nil
}

// upToDate is the plan of a job with nothing to annotate: it records the
// check in the job's dataset and names the job's latest run.
func (a *Activities) upToDate(ctx context.Context, cfg activities.Config, state runs.JobState, listed int, pending activities.Problems) (activities.Plan, error) {
	a.deps.Log.Info("job is up to date", "job", cfg.Job, "objects", listed, "pending", len(pending.List()))
	var last activities.Run
	if n := len(state.Runs); n > 0 {
		if err := a.addCheck(ctx, cfg, state); err != nil {
			return activities.Plan{}, err
		}
		last = activities.Run{ID: state.Runs[n-1].ID, URI: state.Runs[n-1].URI}
	}
	return withOutputs(activities.Plan{UpToDate: true, Run: last, Pending: pending.List()}), nil
}

// createRun names the run of manifest m and writes its manifest, config
// and schema, unless a run with that name has them already.
func (a *Activities) createRun(ctx context.Context, cfg activities.Config, s *pipeline.Schema, schema []byte, m activities.Manifest) (activities.Run, error) {
	manifest, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return activities.Run{}, err
	}
	config, err := json.MarshalIndent(cfg, "", " ")
	if err != nil {
		return activities.Run{}, err
	}
	// Everything that changes the outputs goes into the run id; the window
	// does not, so a job can be resumed with a different width.
	parts := [][]byte{[]byte(activities.Version), manifest, []byte(s.Hash()), cfg.Backend.Identity(),
		fmt.Appendf(nil, "%d %+v", cfg.ShardSize, cfg.Reader)}
	if cfg.Distill != "" {
		// Only then, so that plain runs keep their ids.
		parts = append(parts, []byte("distill "+cfg.Distill))
	}
	h := sha256.New()
	for _, part := range parts {
		h.Write(part)
		h.Write([]byte{0})
	}
	id := cfg.Job + "-" + hex.EncodeToString(h.Sum(nil))[:10]
	run := activities.Run{ID: id, URI: blob.Join(cfg.Output, "runs", id)}
	for uri, data := range map[string][]byte{runs.Dir(run).Manifest(): manifest, runs.Dir(run).Config(): config, runs.Dir(run).Schema(): schema} {
		if err := a.deps.Store.CreateOnce(ctx, uri, data); err != nil {
			return activities.Run{}, err
		}
	}
	return run, nil
}

// reopenFinished reports whether a run planned before has finished with
// nothing to redo; one that finished with failures is reopened.
func (a *Activities) reopenFinished(ctx context.Context, run activities.Run) (bool, error) {
	_, err := a.deps.Store.Stat(ctx, runs.Dir(run).Summary())
	if blob.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	reopened, err := a.reopen(ctx, run)
	if err != nil {
		return false, err
	}
	return reopened == 0, nil
}

// resumable returns the latest run of the job, with the run's settings and
// not tried yet, that left objects pending which reopening it can annotate:
// listed, unchanged, and not rejected whole.
func resumable(st runs.JobState, s runs.Settings, items []activities.ManifestItem, tried []string) string {
	listed := make(map[string]activities.ManifestItem, len(items))
	for _, o := range items {
		listed[o.URI] = o
	}
	open := make(map[string]bool)
	for uri, p := range st.Pending {
		if o, ok := listed[uri]; ok && !p.Rejected && runs.Same(p.ManifestItem, o) && p.Settings == s.Hash {
			open[p.Run] = true
		}
	}
	for _, r := range slices.Backward(st.Runs) {
		if open[r.ID] && r.Settings.Hash == s.Hash && !slices.Contains(tried, r.ID) {
			return r.ID
		}
	}
	return ""
}

// list returns the objects under the job's prefixes, each once, in URI order.
func (a *Activities) list(ctx context.Context, cfg activities.Config) ([]blob.Object, error) {
	prefixes := cfg.Prefixes
	if len(prefixes) == 0 {
		prefixes = []string{cfg.Corpus}
	}
	seen := make(map[string]bool)
	var objs []blob.Object
	for _, p := range prefixes {
		listed, err := a.deps.Store.List(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("list corpus: %w", err)
		}
		for _, o := range listed {
			if !seen[o.URI] {
				seen[o.URI] = true
				objs = append(objs, o)
			}
		}
	}
	if len(objs) == 0 {
		return nil, activities.BadInput(fmt.Errorf("list corpus: no objects under %s", strings.Join(prefixes, ", ")))
	}
	slices.SortFunc(objs, func(x, y blob.Object) int { return strings.Compare(x.URI, y.URI) })
	return objs, nil
}

// withOutputs fills in the URIs of the plan's run's outputs.
func withOutputs(p activities.Plan) activities.Plan {
	if p.Run.ID != "" {
		p.Outputs = runs.Dir(p.Run).Outputs()
	}
	return p
}
