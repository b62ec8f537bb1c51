package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
)

// Manifest lists the corpus objects a run reads, with what identifies their
// content, so a changed object makes a new run.
type Manifest struct {
	Corpus  string         `json:"corpus"`
	Objects []ManifestItem `json:"objects"`
}

// ManifestItem is one corpus object.
type ManifestItem struct {
	URI        string    `json:"uri"`
	Size       int64     `json:"size"`
	ModTime    time.Time `json:"mod_time"`
	Generation int64     `json:"generation,omitempty"`
}

// Plan is what the plan activity decided: the run and the size of its input.
// A plan with UpToDate set has no run: nothing is new or changed.
type Plan struct {
	UpToDate bool  `json:"up_to_date,omitempty"`
	Run      Run   `json:"run"`
	Objects  int   `json:"objects"`
	Bytes    int64 `json:"bytes"`
	// Finished says the run already has its run.json: there is nothing
	// to do but report it.
	Finished bool `json:"finished"`
}

// Plan lists the corpus, keeps the objects new or changed since the job's last
// completed run (all of them with cfg.Full), validates the schema, and writes
// the run's manifest, configuration and schema copy. The run id is a hash of
// all of them, so the same job on the same input finds its earlier run's
// outputs, also after a crash.
func (a *Activities) Plan(ctx context.Context, cfg Config) (Plan, error) {
	objs, err := a.list(ctx, cfg)
	if err != nil {
		return Plan{}, err
	}
	schema, err := blob.ReadAll(ctx, a.store, cfg.Schema)
	if err != nil {
		if blob.IsNotExist(err) {
			return Plan{}, badInput(err)
		}
		return Plan{}, err
	}
	s, err := pipeline.ParseSchema(schema)
	if err != nil {
		return Plan{}, badInput(fmt.Errorf("schema %s: %w", cfg.Schema, err))
	}
	if _, err := a.factory(cfg.Backend, s); err != nil {
		return Plan{}, badInput(err)
	}

	state, err := a.readJobState(ctx, cfg)
	if err != nil {
		return Plan{}, err
	}
	m := Manifest{Corpus: cfg.Corpus}
	var total int64
	for _, o := range objs {
		item := ManifestItem{URI: o.URI, Size: o.Size, ModTime: o.ModTime.UTC(), Generation: o.Generation}
		if cfg.Full || state.changed(item) {
			m.Objects = append(m.Objects, item)
			total += o.Size
		}
	}
	if len(m.Objects) == 0 {
		a.log.Info("job is up to date", "job", cfg.Job, "objects", len(objs))
		var last Run
		if n := len(state.Runs); n > 0 {
			last = Run{ID: state.Runs[n-1].ID, URI: state.Runs[n-1].URI}
		}
		return Plan{UpToDate: true, Run: last}, nil
	}
	manifest, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return Plan{}, err
	}
	config, err := json.MarshalIndent(cfg, "", " ")
	if err != nil {
		return Plan{}, err
	}

	// Everything that changes the outputs goes into the run id; the window
	// does not, so a job can be resumed with a different width.
	h := sha256.New()
	for _, part := range [][]byte{[]byte(Version), manifest, []byte(s.Hash()), cfg.Backend.identity(),
		fmt.Appendf(nil, "%d %+v", cfg.ShardSize, cfg.Reader)} {
		h.Write(part)
		h.Write([]byte{0})
	}
	id := cfg.Job + "-" + hex.EncodeToString(h.Sum(nil))[:10]
	run := Run{ID: id, URI: blob.Join(cfg.Output, "runs", id)}

	for uri, data := range map[string][]byte{run.Manifest(): manifest, run.Config(): config, run.Schema(): schema} {
		if err := a.createOnce(ctx, uri, data); err != nil {
			return Plan{}, err
		}
	}
	_, err = a.store.Stat(ctx, run.Summary())
	if err != nil && !blob.IsNotExist(err) {
		return Plan{}, err
	}
	a.log.Info("planned run", "run", run.ID, "objects", len(m.Objects), "of", len(objs), "bytes", total, "finished", err == nil)
	return Plan{Run: run, Objects: len(m.Objects), Bytes: total, Finished: err == nil}, nil
}

// list returns the objects under the job's prefixes, each once, in URI order.
func (a *Activities) list(ctx context.Context, cfg Config) ([]blob.Object, error) {
	prefixes := cfg.Prefixes
	if len(prefixes) == 0 {
		prefixes = []string{cfg.Corpus}
	}
	seen := make(map[string]bool)
	var objs []blob.Object
	for _, p := range prefixes {
		listed, err := a.store.List(ctx, p)
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
		return nil, badInput(fmt.Errorf("list corpus: no objects under %s", strings.Join(prefixes, ", ")))
	}
	slices.SortFunc(objs, func(x, y blob.Object) int { return strings.Compare(x.URI, y.URI) })
	return objs, nil
}

// createOnce writes data to uri unless the object exists. Outputs are
// deterministic, so an existing object holds the same bytes.
func (a *Activities) createOnce(ctx context.Context, uri string, data []byte) error {
	err := a.store.Create(ctx, uri, blob.WriteBytes(data))
	if err != nil && !errors.Is(err, blob.ErrExist) {
		return err
	}
	return nil
}

// readJSON decodes the JSON object at uri into v.
func (a *Activities) readJSON(ctx context.Context, uri string, v any) error {
	data, err := blob.ReadAll(ctx, a.store, uri)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", uri, err)
	}
	return nil
}
