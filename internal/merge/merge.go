// Package merge is the second half of an external sort: it merges sorted
// streams of rows that are read a batch at a time, so that files too large
// to hold together are combined in one pass with one batch of each in
// memory.
package merge

import (
	"container/heap"
	"errors"
	"io"
)

// Source yields sorted rows in batches; Next returns io.EOF after the last.
// A batch may be reused by the next call.
type Source[T any] interface {
	Next() ([]T, error)
}

// Merge calls emit with every row of the sources in cmp order. Rows that
// compare equal come in the order of their sources.
func Merge[T any](srcs []Source[T], cmp func(a, b T) int, emit func(T) error) error {
	h := &cursors[T]{cmp: cmp}
	for i, s := range srcs {
		c := &cursor[T]{src: s, order: i}
		ok, err := c.advance()
		if err != nil {
			return err
		}
		if ok {
			h.cs = append(h.cs, c)
		}
	}
	heap.Init(h)
	for len(h.cs) > 0 {
		c := h.cs[0]
		if err := emit(c.batch[c.i]); err != nil {
			return err
		}
		ok, err := c.advance()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

// Group returns push, which passes rows on to emit with consecutive rows of
// one key (same reports it) added up by add first, and flush, which emits
// the last group. Feed it a sorted stream.
func Group[T any](same func(a, b T) bool, add func(acc *T, x T), emit func(T) error) (push func(T) error, flush func() error) {
	var (
		acc  T
		have bool
	)
	push = func(x T) error {
		if have && same(acc, x) {
			add(&acc, x)
			return nil
		}
		if have {
			if err := emit(acc); err != nil {
				return err
			}
		}
		acc, have = x, true
		return nil
	}
	flush = func() error {
		if !have {
			return nil
		}
		have = false
		return emit(acc)
	}
	return push, flush
}

// cursor is a source and its current batch; batch[i] is its next row.
type cursor[T any] struct {
	src   Source[T]
	order int
	batch []T
	i     int
}

// advance moves to the next row, reading a batch when one is used up; it
// reports false at the end of the source.
func (c *cursor[T]) advance() (bool, error) {
	c.i++
	for c.i >= len(c.batch) {
		b, err := c.src.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		c.batch, c.i = b, 0
	}
	return true, nil
}

// cursors is a heap of cursors by their next row, then source order.
type cursors[T any] struct {
	cs  []*cursor[T]
	cmp func(a, b T) int
}

func (h *cursors[T]) Len() int { return len(h.cs) }
func (h *cursors[T]) Less(i, j int) bool {
	a, b := h.cs[i], h.cs[j]
	if c := h.cmp(a.batch[a.i], b.batch[b.i]); c != 0 {
		return c < 0
	}
	return a.order < b.order
}
func (h *cursors[T]) Swap(i, j int) { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *cursors[T]) Push(x any)    { h.cs = append(h.cs, x.(*cursor[T])) }
func (h *cursors[T]) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return c
}
