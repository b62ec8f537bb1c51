package annotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/merge"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/kg"
)

// spillFiles writes and merges sorted runs of rows of type T, spilled into
// a folder of the run's finalize folder.
type spillFiles[T any] struct {
	store  runs.Store
	dir    runs.Dir
	folder string
	write  func(io.Writer) *table.Writer[T]
	scan   func(blob.ReaderAt) (*table.Scanner[T], error)
	cmp    func(x, y T) int
	limits limits
	// own copies a row's strings out of the batch they were read in, so
	// that a row held for sorting does not pin that batch's string data.
	own func(T) T
}

// merge passes the rows of the sorted runs at uris to emit in order, rows
// equal by cmp added up by add first (nil: kept apart). With more than
// fanIn runs it first merges them fanIn at a time into runs named
// prefix-ROUND-NNNNN, so that no more than fanIn are open at once.
func (f spillFiles[T]) merge(ctx context.Context, uris []string, prefix string, add func(acc *T, x T), emit func(T) error) error {
	fanIn := max(f.limits.fanIn, 2)
	for round := 1; len(uris) > fanIn; round++ {
		var next []string
		for i := 0; i < len(uris); i += fanIn {
			uri := f.dir.Spill(f.folder, fmt.Sprintf("%s-%d-%05d", prefix, round, i/fanIn))
			err := f.store.Replace(ctx, uri, func(w io.Writer) error {
				tw := f.write(w)
				if err := f.mergeOnce(ctx, uris[i:min(i+fanIn, len(uris))], add, tw.WriteRow); err != nil {
					return err
				}
				return tw.Close()
			})
			if err != nil {
				return err
			}
			next = append(next, uri)
		}
		uris = next
	}
	return f.mergeOnce(ctx, uris, add, emit)
}

// mergeOnce merges the runs at uris, all open at once.
func (f spillFiles[T]) mergeOnce(ctx context.Context, uris []string, add func(acc *T, x T), emit func(T) error) (err error) {
	srcs := make([]merge.Source[T], 0, len(uris))
	defer func() {
		for _, s := range srcs {
			s.(*scanned[T]).close()
		}
	}()
	for _, uri := range uris {
		r, err := f.store.OpenAt(ctx, uri)
		if err != nil {
			return err
		}
		sc, err := f.scan(r)
		if err != nil {
			r.Close()
			return fmt.Errorf("read %s: %w", uri, err)
		}
		srcs = append(srcs, &scanned[T]{sc: sc, r: r, uri: uri})
	}
	if add == nil {
		return merge.Merge(srcs, f.cmp, emit)
	}
	push, flush := merge.Group(func(x, y T) bool { return f.cmp(x, y) == 0 }, add, emit)
	if err := merge.Merge(srcs, f.cmp, push); err != nil {
		return err
	}
	return flush()
}

// scanned is a spilled run being read, a merge.Source that names its file
// in errors.
type scanned[T any] struct {
	sc  *table.Scanner[T]
	r   blob.ReaderAt
	uri string
}

func (s *scanned[T]) Next() ([]T, error) {
	rows, err := s.sc.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", s.uri, err)
	}
	return rows, err
}

func (s *scanned[T]) close() {
	s.sc.Close()
	s.r.Close()
}

// writeMerged writes the rows that produce emits as the table at out and
// counts them.
func writeMerged[T any](ctx context.Context, store runs.Store, out string, write func(io.Writer) *table.Writer[T], produce func(emit func(T) error) error) (int64, error) {
	var n int64
	err := store.Replace(ctx, out, func(w io.Writer) error {
		n = 0
		tw := write(w)
		if err := produce(func(r T) error { n++; return tw.WriteRow(r) }); err != nil {
			return err
		}
		return tw.Close()
	})
	return n, err
}

// sortInto writes the rows that produce emits, sorted by f.cmp, as the
// table at out, holding at most sortRows rows: past that, sorted runs are
// spilled into f's folder and merged.
func sortInto[T any](ctx context.Context, store runs.Store, out string, f spillFiles[T], produce func(emit func(T) error) error) (int64, error) {
	var (
		buf     []T
		spilled []string
	)
	spill := func() error {
		slices.SortFunc(buf, f.cmp)
		uri := f.dir.Spill(f.folder, fmt.Sprintf("sorted-%05d", len(spilled)))
		if err := store.Replace(ctx, uri, runs.Rows(f.write, buf)); err != nil {
			return err
		}
		spilled = append(spilled, uri)
		buf = buf[:0]
		return nil
	}
	err := produce(func(r T) error {
		if f.own != nil {
			r = f.own(r)
		}
		buf = append(buf, r)
		if len(buf) >= max(f.limits.sortRows, 1) {
			return spill()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(spilled) == 0 { // it all fit: no second pass
		slices.SortFunc(buf, f.cmp)
		return writeMerged(ctx, store, out, f.write, func(emit func(T) error) error {
			for _, r := range buf {
				if err := emit(r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if len(buf) > 0 {
		if err := spill(); err != nil {
			return 0, err
		}
	}
	buf = nil
	return writeMerged(ctx, store, out, f.write, func(emit func(T) error) error {
		return f.merge(ctx, spilled, "sorted", nil, emit)
	})
}

// The tables' orders, as pipeline/kg defines them, over their rows.

func compareLinkRows(x, y table.MentionEntity) int {
	return kg.CompareLinks(kg.Link{DocID: x.DocID, Start: int(x.Start), End: int(x.End), Entity: x.EntityID},
		kg.Link{DocID: y.DocID, Start: int(y.Start), End: int(y.End), Entity: y.EntityID})
}

func comparePairRows(x, y table.Edge) int {
	return cmp.Or(strings.Compare(x.Source, y.Source), strings.Compare(x.Target, y.Target))
}

func compareEdgeRows(x, y table.Edge) int {
	return kg.CompareEdges(kg.Edge{Source: x.Source, Target: x.Target, Count: int(x.Count)},
		kg.Edge{Source: y.Source, Target: y.Target, Count: int(y.Count)})
}

func compareEntityRows(x, y table.Entity) int {
	return kg.CompareEntities(kg.Entity{ID: x.EntityID, Mentions: int(x.Mentions)}, kg.Entity{ID: y.EntityID, Mentions: int(y.Mentions)})
}

// addEdgeRows adds up two rows of one edge as kg.Edge.Add does.
func addEdgeRows(acc *table.Edge, x table.Edge) {
	e := kg.Edge{Count: int(acc.Count), Examples: acc.Examples}
	e.Add(kg.Edge{Count: int(x.Count), Examples: x.Examples})
	acc.Count, acc.Examples = int64(e.Count), e.Examples
}

// addEntityParts adds up two rows of one entity as kg.EntityPart.Add does.
func addEntityParts(acc *table.EntityPart, x table.EntityPart) {
	e := entityPart(*acc)
	e.Add(entityPart(x))
	*acc = entityPartRow(e)
}

// ownEdge and ownEntity copy a row's strings (see spillFiles.own); the run
// id, the same in every row, is the run's own.
func ownEdge(run string) func(table.Edge) table.Edge {
	return func(e table.Edge) table.Edge {
		e.RunID, e.Source, e.Target = run, strings.Clone(e.Source), strings.Clone(e.Target)
		ex := make([]string, len(e.Examples))
		for i, s := range e.Examples {
			ex[i] = strings.Clone(s)
		}
		e.Examples = ex
		return e
	}
}

func ownEntity(run string) func(table.Entity) table.Entity {
	return func(e table.Entity) table.Entity {
		e.RunID, e.EntityID, e.Name = run, strings.Clone(e.EntityID), strings.Clone(e.Name)
		e.Label, e.Archetype = strings.Clone(e.Label), strings.Clone(e.Archetype)
		return e
	}
}

func edgeRow(run string, e kg.Edge) table.Edge {
	return table.Edge{RunID: run, Source: e.Source, Target: e.Target, Count: int64(e.Count), Examples: e.Examples}
}

func linkRow(run string, l kg.Link) table.MentionEntity {
	return table.MentionEntity{RunID: run, DocID: l.DocID, Start: int64(l.Start), End: int64(l.End), EntityID: l.Entity}
}

// entityPartRow is e as a row, its forms and archetypes in byte order.
func entityPartRow(e kg.EntityPart) table.EntityPart {
	r := table.EntityPart{EntityID: e.ID, Label: e.Label, Mentions: int64(e.Mentions), Documents: int64(e.Documents)}
	for _, f := range slices.Sorted(maps.Keys(e.Forms)) {
		r.Forms = append(r.Forms, f)
		r.FormCounts = append(r.FormCounts, int64(e.Forms[f]))
	}
	for _, a := range slices.Sorted(maps.Keys(e.Archetypes)) {
		r.Archetypes = append(r.Archetypes, string(a))
		r.ArchetypeCounts = append(r.ArchetypeCounts, int64(e.Archetypes[a]))
	}
	return r
}

func entityPart(r table.EntityPart) kg.EntityPart {
	e := kg.EntityPart{ID: r.EntityID, Label: r.Label, Forms: make(map[string]int, len(r.Forms)),
		Archetypes: make(map[pipeline.Archetype]int, len(r.Archetypes)), Mentions: int(r.Mentions), Documents: int(r.Documents)}
	for i := range min(len(r.Forms), len(r.FormCounts)) {
		e.Forms[r.Forms[i]] += int(r.FormCounts[i])
	}
	for i := range min(len(r.Archetypes), len(r.ArchetypeCounts)) {
		e.Archetypes[pipeline.Archetype(r.Archetypes[i])] += int(r.ArchetypeCounts[i])
	}
	return e
}
