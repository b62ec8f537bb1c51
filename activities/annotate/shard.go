package annotate

import (
	"context"
	"fmt"
	"unicode"

	"go.temporal.io/sdk/activity"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/io/table"
)

// Shard reads the manifest's objects in order and writes the documents table
// as shards of cfg.ShardSize documents, and the rejects table. Objects or
// lines that cannot be read are rejects, not failures: the run goes on.
// A retry re-reads the corpus but rewrites no shard that exists.
func (a *Activities) Shard(ctx context.Context, cfg activities.Config, p activities.Plan) (_ activities.Sharding, err error) {
	run := p.Run
	log := a.deps.TaskLog(ctx, run.ID, -1, "shard")
	defer a.deps.CountError(ctx, log, "shard", &err)
	var done activities.Sharding
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).DocumentIndex(), &done); err == nil {
		return done, nil
	} else if !blob.IsNotExist(err) {
		return activities.Sharding{}, err
	}
	var m activities.Manifest
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).Manifest(), &m); err != nil {
		return activities.Sharding{}, err
	}
	size := max(cfg.ShardSize, 1)

	var (
		res     activities.Sharding
		batch   []table.Document
		rejects []table.Reject
		seen    = make(map[string]string) // doc id -> object, to reject duplicates
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := a.writeDocuments(ctx, runs.Dir(run).Documents(res.Shards), batch); err != nil {
			return err
		}
		res.Shards++
		batch = batch[:0]
		activity.RecordHeartbeat(ctx, res.Shards)
		return nil
	}
	objects := make([]runs.ObjectShards, 0, len(m.Objects))
	for _, o := range m.Objects {
		obj := blob.Object{URI: o.URI, Size: o.Size, ModTime: o.ModTime, Generation: o.Generation}
		objects = append(objects, runs.ObjectShards{URI: o.URI, First: -1, Last: -1})
		cur := &objects[len(objects)-1]
		emit := func(d corpus.Doc) error {
			if prev, dup := seen[d.ID]; dup {
				reason := fmt.Sprintf("duplicate document id %q (first in %s)", d.ID, prev)
				if cur.Rejects == 0 {
					cur.Reason = reason
				}
				cur.Rejects++
				rejects = append(rejects, table.Reject{RunID: run.ID, Object: d.Source, Line: int64(d.Line), Reason: reason})
				return nil
			}
			seen[d.ID] = d.Source
			if cur.First < 0 {
				cur.First = res.Shards
			}
			cur.Last = res.Shards
			cur.Docs++
			w, c := countWords(d.Text)
			res.Words += w
			res.Capitalised += c
			batch = append(batch, table.Document{DocID: d.ID, Text: d.Text, Source: d.Source})
			res.Docs++
			if len(batch) >= size {
				return flush()
			}
			return nil
		}
		reject := func(r corpus.Reject) {
			if cur.Rejects == 0 {
				cur.Reason = r.Reason
			}
			cur.Rejects++
			rejects = append(rejects, table.Reject{RunID: run.ID, Object: r.Object, Line: int64(r.Line), Reason: r.Reason})
		}
		if err := corpus.Read(ctx, a.deps.Store, obj, corpus.Options(cfg.Reader), emit, reject); err != nil {
			if ctx.Err() != nil {
				return activities.Sharding{}, ctx.Err()
			}
			// The storage client has already retried transient faults, so
			// what is left is the object's own problem: record it, go on.
			log.Warn("rejected object", "object", o.URI, "err", err)
			reject(corpus.Reject{Object: o.URI, Reason: err.Error()})
		}
	}
	if err := flush(); err != nil {
		return activities.Sharding{}, err
	}
	res.Rejects = int64(len(rejects))
	err = a.deps.Store.Replace(ctx, runs.Dir(run).Rejects(), runs.Rows(table.NewRejectWriter, rejects))
	if err != nil {
		return activities.Sharding{}, err
	}
	if err := a.deps.Store.WriteJSON(ctx, runs.Dir(run).ObjectIndex(), objects); err != nil {
		return activities.Sharding{}, err
	}
	if err := a.deps.Store.WriteJSON(ctx, runs.Dir(run).DocumentIndex(), res); err != nil {
		return activities.Sharding{}, err
	}
	a.deps.Metrics.Sharded(res.Shards, res.Docs, res.Rejects)
	log.Info("sharded corpus", "shards", res.Shards, "docs", res.Docs, "rejects", res.Rejects)
	return res, nil
}

func (a *Activities) writeDocuments(ctx context.Context, uri string, docs []table.Document) error {
	err := a.deps.Store.Create(ctx, uri, runs.Rows(table.NewDocumentWriter, docs))
	if err != nil && !blob.IsExist(err) {
		return err
	}
	return nil
}

// countWords counts the words of s (runs of letters) and those whose first
// letter is upper case.
func countWords(s string) (words, capitalised int64) {
	in := false
	for _, r := range s {
		letter := unicode.IsLetter(r)
		if letter && !in {
			words++
			if unicode.IsUpper(r) {
				capitalised++
			}
		}
		in = letter
	}
	return words, capitalised
}
