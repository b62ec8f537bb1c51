package annotate

import (
	"cmp"
	"context"
	"fmt"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
)

// account decides, for every object of the run's manifest m, whether it was
// annotated: all of its documents went through every stage. An object is
// pending when a shard holding its documents failed, when a chunk of one of
// its documents failed, or when none of its documents could be read
// (rejected whole; an empty object has nothing to annotate and is done).
// chunks are the failed chunks' rows by shard. It returns the outcomes by
// URI and the pending objects grouped by cause.
func (a *Activities) account(ctx context.Context, run activities.Run, m activities.Manifest, failed []activities.ShardFailure, chunks map[int][]table.Reject) (map[string]objectOutcome, []activities.Problem, error) {
	index, err := a.objectIndex(ctx, run)
	if err != nil {
		return nil, nil, err
	}
	where := make(map[string]runs.ObjectShards, len(index))
	for _, o := range index {
		where[o.URI] = o
	}
	shardCause := make(map[int]string, len(failed))
	for _, f := range failed {
		shardCause[f.Shard] = cmp.Or(f.Cause, f.Reason)
	}
	// Failed chunks name documents: find their objects.
	docCause := make(map[string]string) // object -> first failed chunk's reason
	for shard, rows := range chunks {
		if len(rows) == 0 {
			continue
		}
		docs, err := a.deps.Store.Documents(ctx, runs.Dir(run).Documents(shard))
		if err != nil {
			return nil, nil, err
		}
		source := make(map[string]string, len(docs))
		for _, d := range docs {
			source[d.DocID] = d.Source
		}
		for _, r := range rows {
			if obj, ok := source[r.Object]; ok {
				if _, seen := docCause[obj]; !seen {
					docCause[obj] = "failed chunk: " + r.Reason
				}
			}
		}
	}
	out := make(map[string]objectOutcome, len(m.Objects))
	var probs activities.Problems
	for _, o := range m.Objects {
		w, ok := where[o.URI]
		res := objectOutcome{done: true}
		switch {
		case !ok:
			res = objectOutcome{reason: "not in the run's object index"}
		case w.Docs == 0 && o.Size > 0:
			reason := w.Reason
			if reason == "" {
				reason = "no documents"
			}
			res = objectOutcome{rejected: true, reason: "rejected whole: " + reason}
		case w.Docs > 0:
			for s := w.First; s <= w.Last; s++ {
				if c, bad := shardCause[s]; bad {
					res = objectOutcome{reason: fmt.Sprintf("failed shard: %s", c)}
					break
				}
			}
			if c, bad := docCause[o.URI]; res.done && bad {
				res = objectOutcome{reason: c}
			}
		}
		out[o.URI] = res
		if !res.done {
			probs.Add(res.reason, o.URI, res.rejected)
		}
	}
	return out, probs.List(), nil
}

// failedChunks reads the failures tables of a shard's stages.
func (a *Activities) failedChunks(ctx context.Context, run activities.Run, shard int) ([]table.Reject, error) {
	var all []table.Reject
	for _, stage := range activities.Stages() {
		fails, err := a.deps.Store.Rejects(ctx, runs.Dir(run).Failures(stage, shard))
		if err != nil && !blob.IsNotExist(err) {
			return nil, err
		}
		all = append(all, fails...)
	}
	return all, nil
}

// objectIndex reads the run's object index; a run sharded before there was
// one gets it rebuilt from its documents and rejects tables.
func (a *Activities) objectIndex(ctx context.Context, run activities.Run) ([]runs.ObjectShards, error) {
	var index []runs.ObjectShards
	err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).ObjectIndex(), &index)
	if err == nil || !blob.IsNotExist(err) {
		return index, err
	}
	var sh activities.Sharding
	if err := a.deps.Store.ReadJSON(ctx, runs.Dir(run).DocumentIndex(), &sh); err != nil {
		return nil, err
	}
	at := make(map[string]int)
	get := func(uri string) *runs.ObjectShards {
		i, ok := at[uri]
		if !ok {
			i = len(index)
			at[uri] = i
			index = append(index, runs.ObjectShards{URI: uri, First: -1, Last: -1})
		}
		return &index[i]
	}
	for shard := range sh.Shards {
		docs, err := a.deps.Store.Documents(ctx, runs.Dir(run).Documents(shard))
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			o := get(d.Source)
			if o.First < 0 {
				o.First = shard
			}
			o.Last = shard
			o.Docs++
		}
	}
	rejects, err := a.deps.Store.Rejects(ctx, runs.Dir(run).Rejects())
	if err != nil && !blob.IsNotExist(err) {
		return nil, err
	}
	for _, r := range rejects {
		o := get(r.Object)
		if o.Rejects == 0 {
			o.Reason = r.Reason
		}
		o.Rejects++
	}
	return index, nil
}
