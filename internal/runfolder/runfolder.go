// Package runfolder reads a finished run's folder as the export and review
// commands need it: its summary, its mentions by document, the documents a
// stage failed on, and its documents shard by shard.
package runfolder

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
)

// Folder is a finished run.
type Folder struct {
	store    runs.Store
	Run      activities.Run
	Summary  activities.Summary
	Schema   *pipeline.Schema              // nil if the run's copy does not parse
	Mentions map[string][]pipeline.Mention // by document id
	Failed   map[string]bool               // documents a stage failed on
}

// Open reads a finished run's summary, mentions and failures.
func Open(ctx context.Context, store blob.Store, uriOrPath string) (*Folder, error) {
	uri, err := blob.Normalize(strings.TrimRight(uriOrPath, "/"))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", uriOrPath, err)
	}
	r := &Folder{store: runs.Store{Store: store}, Run: activities.Run{URI: uri},
		Mentions: make(map[string][]pipeline.Mention), Failed: make(map[string]bool)}
	dir := runs.Dir(r.Run)
	data, err := blob.ReadAll(ctx, store, dir.Summary())
	if blob.IsNotExist(err) {
		return nil, fmt.Errorf("run %s: no run.json: not a run folder, or the run has not finished", uri)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir.Summary(), err)
	}
	if err := json.Unmarshal(data, &r.Summary); err != nil {
		return nil, fmt.Errorf("read %s: %w", dir.Summary(), err)
	}
	r.Run.ID = r.Summary.RunID
	if data, err := blob.ReadAll(ctx, store, runs.Dir(r.Run).Schema()); err == nil {
		r.Schema, _ = pipeline.ParseSchema(data) // labels come from the mentions then
	}
	if err := r.readMentions(ctx); err != nil {
		return nil, err
	}
	if err := r.readFailures(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Folder) readMentions(ctx context.Context) error {
	rows, err := r.store.AllMentions(ctx, runs.Dir(r.Run).MentionsDir())
	if err != nil {
		return err
	}
	for _, m := range rows {
		r.Mentions[m.DocID] = append(r.Mentions[m.DocID], pipeline.Mention{
			DocID: m.DocID, Start: int(m.Start), End: int(m.End), Text: m.Text,
			Archetype: pipeline.Archetype(m.Archetype), Label: m.Label, Score: m.Score, Extractors: m.Extractors,
		})
	}
	return nil
}

// readFailures reads the failures tables of every stage.
func (r *Folder) readFailures(ctx context.Context) error {
	stages := blob.Join(r.Run.URI, "stages") + "/"
	objs, err := r.store.List(ctx, stages)
	if err != nil {
		return fmt.Errorf("list %s: %w", stages, err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(path.Base(o.URI), "failures-") {
			continue
		}
		fails, err := r.store.Rejects(ctx, o.URI)
		if err != nil {
			return err
		}
		for _, f := range fails {
			r.Failed[f.Object] = true
		}
	}
	return nil
}

// Labels are the schema's labels, in its order, then any other label of
// the mentions, sorted.
func (r *Folder) Labels() []string {
	var out []string
	if r.Schema != nil {
		for _, l := range r.Schema.Labels {
			out = append(out, l.Name)
		}
	}
	var extra []string
	for _, ms := range r.Mentions {
		for _, m := range ms {
			if !slices.Contains(out, m.Label) && !slices.Contains(extra, m.Label) {
				extra = append(extra, m.Label)
			}
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// EachDoc calls fn with each document of the run, shard by shard, leaving
// out the shards that failed for good.
func (r *Folder) EachDoc(ctx context.Context, fn func(pipeline.Document) error) error {
	failed := make(map[int]bool)
	for _, f := range r.Summary.FailedShards {
		failed[f.Shard] = true
	}
	for shard := range r.Summary.Shards {
		if failed[shard] {
			continue
		}
		docs, err := r.store.Documents(ctx, runs.Dir(r.Run).Documents(shard))
		if err != nil {
			return err
		}
		for _, d := range docs {
			if err := fn(pipeline.Document{ID: d.DocID, Text: d.Text, Source: d.Source}); err != nil {
				return err
			}
		}
	}
	return nil
}
