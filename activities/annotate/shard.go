package annotate

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
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
	s := sharder{a: a, run: run, size: max(cfg.ShardSize, 1), seen: make(map[docKey]int32),
		objects: make([]runs.ObjectShards, 0, len(m.Objects))}
	for _, o := range m.Objects {
		if err := s.read(ctx, o, corpus.Options(cfg.Reader), log); err != nil {
			return activities.Sharding{}, err
		}
	}
	if err := s.finish(ctx); err != nil {
		return activities.Sharding{}, err
	}
	a.deps.Metrics.Sharded(s.res.Shards, s.res.Docs, s.res.Rejects)
	log.Info("sharded corpus", "shards", s.res.Shards, "docs", s.res.Docs, "rejects", s.res.Rejects)
	return s.res, nil
}

// sharder cuts a run's documents into shards as the objects are read.
type sharder struct {
	a       *Activities
	run     activities.Run
	size    int // documents per shard
	res     activities.Sharding
	batch   []table.Document // the shard being filled
	rejects []table.Reject
	seen    map[docKey]int32 // doc id -> index in objects, to reject duplicates
	objects []runs.ObjectShards
}

// docKey stands for a document id in the set of ids seen: the first 128
// bits of its SHA-256. The set is the one part of sharding that grows with
// the corpus; a fixed-size key keeps it at about 44 bytes a document
// however long the ids are (a map of the ids themselves took 100 to 130,
// more with ids derived from long object URIs). Two distinct ids share a
// key with probability about n²/2¹²⁹: 10⁻²⁵ at 10 million documents.
type docKey [16]byte

func keyOf(id string) docKey {
	h := sha256.Sum256([]byte(id))
	return docKey(h[:16])
}

// read reads one object into the shards. An object that cannot be read is
// rejected whole.
func (s *sharder) read(ctx context.Context, o activities.ManifestItem, opts corpus.Options, log *slog.Logger) error {
	obj := blob.Object{URI: o.URI, Size: o.Size, ModTime: o.ModTime, Generation: o.Generation}
	s.objects = append(s.objects, runs.ObjectShards{URI: o.URI, First: -1, Last: -1})
	cur := &s.objects[len(s.objects)-1]
	emit := func(d corpus.Doc) error { return s.emit(ctx, cur, d) }
	reject := func(r corpus.Reject) { s.reject(cur, r) }
	if err := corpus.Read(ctx, s.a.deps.Store, obj, opts, emit, reject); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The storage client has already retried transient faults, so
		// what is left is the object's own problem: record it, go on.
		log.Warn("rejected object", "object", o.URI, "err", err)
		reject(corpus.Reject{Object: o.URI, Reason: err.Error()})
	}
	return nil
}

// emit adds a document of object cur to the shard being filled, and
// writes the shard once it is full. A duplicate document id is a reject.
func (s *sharder) emit(ctx context.Context, cur *runs.ObjectShards, d corpus.Doc) error {
	k := keyOf(d.ID)
	if prev, dup := s.seen[k]; dup {
		s.reject(cur, corpus.Reject{Object: d.Source, Line: d.Line,
			Reason: fmt.Sprintf("duplicate document id %q (first in %s)", d.ID, s.objects[prev].URI)})
		return nil
	}
	s.seen[k] = int32(len(s.objects) - 1)
	if cur.First < 0 {
		cur.First = s.res.Shards
	}
	cur.Last = s.res.Shards
	cur.Docs++
	w, c := countWords(d.Text)
	s.res.Words += w
	s.res.Capitalised += c
	s.batch = append(s.batch, table.Document{DocID: d.ID, Text: d.Text, Source: d.Source})
	s.res.Docs++
	if len(s.batch) >= s.size {
		return s.flush(ctx)
	}
	return nil
}

// reject records a reject of object cur; the object's first reason is its
// reason.
func (s *sharder) reject(cur *runs.ObjectShards, r corpus.Reject) {
	if cur.Rejects == 0 {
		cur.Reason = r.Reason
	}
	cur.Rejects++
	s.rejects = append(s.rejects, table.Reject{RunID: s.run.ID, Object: r.Object, Line: int64(r.Line), Reason: r.Reason})
}

// flush writes the shard being filled, if it has documents.
func (s *sharder) flush(ctx context.Context) error {
	if len(s.batch) == 0 {
		return nil
	}
	if err := s.a.writeDocuments(ctx, runs.Dir(s.run).Documents(s.res.Shards), s.batch); err != nil {
		return err
	}
	s.res.Shards++
	s.batch = s.batch[:0]
	activity.RecordHeartbeat(ctx, s.res.Shards)
	return nil
}

// finish writes the last shard, the rejects table and the indexes; the
// document index is last, as it marks the sharding done.
func (s *sharder) finish(ctx context.Context) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	s.res.Rejects = int64(len(s.rejects))
	store := s.a.deps.Store
	if err := store.Replace(ctx, runs.Dir(s.run).Rejects(), runs.Rows(table.NewRejectWriter, s.rejects)); err != nil {
		return err
	}
	if err := store.WriteJSON(ctx, runs.Dir(s.run).ObjectIndex(), s.objects); err != nil {
		return err
	}
	return store.WriteJSON(ctx, runs.Dir(s.run).DocumentIndex(), s.res)
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
