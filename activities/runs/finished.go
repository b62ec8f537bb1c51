package runs

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
)

// Finished is a finished run as the export and review commands read it:
// its summary, its mentions by document and where its documents are.
type Finished struct {
	store    Store
	Run      activities.Run
	Summary  activities.Summary
	Schema   *pipeline.Schema              // nil if the run's copy does not parse
	Mentions map[string][]pipeline.Mention // by document id
	Failed   map[string]bool               // documents a stage failed on
}

// OpenFinished reads a finished run's summary, mentions and failures.
func OpenFinished(ctx context.Context, store blob.Store, uriOrPath string) (*Finished, error) {
	uri, err := blob.Normalize(strings.TrimRight(uriOrPath, "/"))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", uriOrPath, err)
	}
	r := &Finished{store: Store{Store: store}, Run: activities.Run{URI: uri}, Mentions: make(map[string][]pipeline.Mention),
		Failed: make(map[string]bool)}
	err = r.store.ReadJSON(ctx, Dir(r.Run).Summary(), &r.Summary)
	if blob.IsNotExist(err) {
		return nil, fmt.Errorf("run %s: no run.json: not a run folder, or the run has not finished", uri)
	}
	if err != nil {
		return nil, err
	}
	r.Run.ID = r.Summary.RunID
	if data, err := blob.ReadAll(ctx, store, Dir(r.Run).Schema()); err == nil {
		r.Schema, _ = pipeline.ParseSchema(data) // labels come from the mentions then
	}
	rows, err := r.store.AllMentions(ctx, Dir(r.Run).MentionsDir())
	if err != nil {
		return nil, err
	}
	for _, m := range ToMentions(rows) {
		r.Mentions[m.DocID] = append(r.Mentions[m.DocID], m)
	}
	stages := blob.Join(r.Run.URI, "stages") + "/"
	objs, err := store.List(ctx, stages)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", stages, err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(path.Base(o.URI), "failures-") {
			continue
		}
		fails, err := r.store.Rejects(ctx, o.URI)
		if err != nil {
			return nil, err
		}
		for _, f := range fails {
			r.Failed[f.Object] = true
		}
	}
	return r, nil
}

// Labels are the schema's labels, in its order, then any other label of
// the mentions, sorted.
func (r *Finished) Labels() []string {
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
func (r *Finished) EachDoc(ctx context.Context, fn func(pipeline.Document) error) error {
	failed := make(map[int]bool)
	for _, f := range r.Summary.FailedShards {
		failed[f.Shard] = true
	}
	for shard := range r.Summary.Shards {
		if failed[shard] {
			continue
		}
		docs, err := r.store.Documents(ctx, Dir(r.Run).Documents(shard))
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
