package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
type Plan struct {
	Run     Run   `json:"run"`
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	// Finished says the run already has its run.json: there is nothing
	// to do but report it.
	Finished bool `json:"finished"`
}

// Plan lists the corpus, validates the schema, and writes the run's manifest,
// configuration and schema copy. The run id is a hash of all of them, so the
// same job on the same input finds its earlier run's outputs.
func (a *Activities) Plan(ctx context.Context, cfg Config) (Plan, error) {
	objs, err := a.store.List(ctx, cfg.Corpus)
	if err != nil {
		return Plan{}, fmt.Errorf("list corpus: %w", err)
	}
	if len(objs) == 0 {
		return Plan{}, badInput(fmt.Errorf("list corpus: no objects under %s", cfg.Corpus))
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

	m := Manifest{Corpus: cfg.Corpus}
	var total int64
	for _, o := range objs {
		m.Objects = append(m.Objects, ManifestItem{URI: o.URI, Size: o.Size, ModTime: o.ModTime.UTC(), Generation: o.Generation})
		total += o.Size
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
	a.log.Info("planned run", "run", run.ID, "objects", len(objs), "bytes", total, "finished", err == nil)
	return Plan{Run: run, Objects: len(objs), Bytes: total, Finished: err == nil}, nil
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
