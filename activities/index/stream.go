package index

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
)

// The build's steps stream their tables: each holds a batch of vectors at
// a time, not a shard's (50,000 raw local vectors are 200 MB, and a worker
// runs several steps at once) nor the index's.

// scanBatch is the rows a step reads at a time: 2 MiB of 1024-wide
// vectors, and a multiple of the head's evaluation batch. Arrow's reader
// holds several times a batch (values, levels, their growth), per shard
// read at once.
const scanBatch = 512

// errEnough stops a scan past the rows wanted.
var errEnough = errors.New("enough rows")

// scanMentions calls fn with the rows of the mentions table at uri, in
// order, a batch at a time, with the number of the batch's first row; fn
// stops the scan early by returning errEnough. A table that does not
// decode is bad input; fn's errors come back as they are.
func (a *Activities) scanMentions(ctx context.Context, uri string, fn func(first int, ms []table.Mention) error) error {
	pos := 0
	return a.scan(ctx, uri, func(r blob.ReaderAt, own func(error) error) error {
		return table.ScanMentions(r, scanBatch, func(ms []table.Mention) error {
			first := pos
			pos += len(ms)
			if err := fn(first, ms); err != nil {
				if errors.Is(err, errEnough) {
					return err
				}
				return own(err)
			}
			return own(ctx.Err())
		})
	})
}

// shardMentions reads the rows of an index shard from its mentions table:
// rows [in.Lo, in.Hi), as many as the shard's vectors.
func (a *Activities) shardMentions(ctx context.Context, in activities.IndexShardInput) ([]table.Mention, error) {
	if in.Lo < 0 || in.Lo > in.Hi {
		return nil, activities.BadInput(fmt.Errorf("%s: the plan reads rows [%d, %d)", in.Mentions, in.Lo, in.Hi))
	}
	out := make([]table.Mention, 0, in.Hi-in.Lo)
	n := 0
	err := a.scanMentions(ctx, in.Mentions, func(first int, ms []table.Mention) error {
		n = first + len(ms)
		i, j := min(max(in.Lo-first, 0), len(ms)), min(max(in.Hi-first, 0), len(ms))
		out = append(out, ms[i:j]...)
		if n >= in.Hi {
			return errEnough
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n < in.Hi {
		return nil, activities.BadInput(fmt.Errorf("%s has %d rows, the plan reads [%d, %d)", in.Mentions, n, in.Lo, in.Hi))
	}
	return out, nil
}

// scanVectors calls fn with the rows of the vectors table at uri, in
// order, a batch at a time, and their width; errors as scanMentions.
func (a *Activities) scanVectors(ctx context.Context, uri string, fn func(rows []table.Vector, dim int) error) error {
	return a.scan(ctx, uri, func(r blob.ReaderAt, own func(error) error) error {
		return table.ScanVectors(r, scanBatch, func(rows []table.Vector, dim int) error {
			if err := own(fn(rows, dim)); err != nil {
				return err
			}
			return own(ctx.Err())
		})
	})
}

// scan opens the table at uri and reads it with read, which passes the
// errors of its callbacks through own. Those come back as they are,
// errEnough as none; any other error is the table's: bad input.
func (a *Activities) scan(ctx context.Context, uri string, read func(r blob.ReaderAt, own func(error) error) error) error {
	r, err := a.deps.Store.OpenAt(ctx, uri)
	if err != nil {
		return err
	}
	defer r.Close()
	var mine error
	err = read(r, func(err error) error {
		if err != nil {
			mine = err
		}
		return err
	})
	switch {
	case err == nil || errors.Is(err, errEnough):
		return nil
	case mine != nil && err == mine:
		return err
	default:
		return activities.BadInput(fmt.Errorf("read %s: %w", uri, err))
	}
}

// writeVectors replaces the vectors table at uri with the dim-wide rows
// that fill passes to write, a batch at a time.
func (a *Activities) writeVectors(ctx context.Context, uri string, dim int, fill func(write func([]table.Vector) error) error) error {
	return a.deps.Store.Replace(ctx, uri, func(w io.Writer) error {
		vw := table.NewVectorWriter(w, dim)
		if err := fill(vw.Write); err != nil {
			return err
		}
		return vw.Close()
	})
}
