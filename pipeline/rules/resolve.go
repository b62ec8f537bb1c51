package rules

import (
	"slices"
	"sort"
)

// resolve keeps the longest spans, then the higher priority, then the
// earliest, dropping any that overlap one already kept; patterns and quotes
// go first whatever their length. It returns the kept spans in order. Spans
// must be non-empty, as every proposer makes them.
//
// A huge document has millions of spans. Whether a span is kept depends
// only on the spans it overlaps, and theirs on the spans they overlap, so
// the spans are cut, in order of position, into groups that overlap in a
// chain, and each group is resolved alone. A group is small in prose, but
// any group is resolved in O(n log n) time, never O(n²).
func resolve(cs []cand) []cand {
	slices.SortFunc(cs, func(a, b cand) int { return a.i - b.i })
	// The kept spans are written over cs, behind the group being read.
	kept := cs[:0]
	var ks keptSpans
	for lo := 0; lo < len(cs); {
		hi, end := lo+1, cs[lo].j
		for hi < len(cs) && cs[hi].i < end {
			end = max(end, cs[hi].j)
			hi++
		}
		g := cs[lo:hi]
		lo = hi
		n := len(kept)
		if len(g) == 1 {
			kept = append(kept, g[0])
			continue
		}
		slices.SortFunc(g, before)
		if len(g) <= smallGroup {
			for _, c := range g {
				if !overlapsAny(kept[n:], c) {
					kept = append(kept, c)
				}
			}
		} else {
			ks.reset(g)
			for _, c := range g {
				if !ks.overlaps(c.i, c.j) {
					ks.add(c.i, c.j)
					kept = append(kept, c)
				}
			}
		}
		// Kept spans are disjoint, so their starts differ.
		slices.SortFunc(kept[n:], func(a, b cand) int { return a.i - b.i })
	}
	return kept
}

// smallGroup is the size up to which a group's spans are compared with
// every span kept before them: quicker than a search for a handful.
const smallGroup = 16

// overlapsAny reports whether c overlaps any of kept.
func overlapsAny(kept []cand, c cand) bool {
	for _, k := range kept {
		if c.i < k.j && k.i < c.j {
			return true
		}
	}
	return false
}

// before orders spans for resolve: patterns and quotes by priority before
// all else, then the longest, the higher priority, the earliest. Only equal
// spans tie.
func before(a, b cand) int {
	if ra, rb := rank(a), rank(b); ra != rb {
		return rb - ra
	}
	if la, lb := a.j-a.i, b.j-b.i; la != lb {
		return lb - la
	}
	if a.prio != b.prio {
		return b.prio - a.prio
	}
	return a.i - b.i
}

// rank is a span's class in resolve's order: its priority for patterns and
// quotes, which win over longer spans, and 0 for the rest.
func rank(c cand) int {
	if c.prio >= prioPattern {
		return c.prio
	}
	return 0
}

// keptSpans holds disjoint non-empty spans, each starting at one of a fixed
// set of positions, and tells in O(log n) whether a span overlaps any of
// them. Because they are disjoint, the kept span that starts last before a
// span's end also ends last: the span overlaps a kept one if and only if it
// overlaps that one. A Fenwick tree counts the kept starts, so that span is
// found by rank.
type keptSpans struct {
	starts []int // every position a span may start at, sorted, distinct
	count  []int // Fenwick tree, 1-based, over starts: 1 where a span is kept
	end    []int // end[k] is the end of the kept span starting at starts[k]
	high   int   // the highest power of two not above len(starts)
}

// reset empties the set for spans starting where cs do, reusing its memory.
func (s *keptSpans) reset(cs []cand) {
	s.starts = s.starts[:0]
	for _, c := range cs {
		s.starts = append(s.starts, c.i)
	}
	slices.Sort(s.starts)
	s.starts = slices.Compact(s.starts)
	s.count = append(s.count[:0], make([]int, len(s.starts)+1)...)
	s.end = append(s.end[:0], make([]int, len(s.starts))...)
	s.high = 1
	for s.high*2 <= len(s.starts) {
		s.high *= 2
	}
}

// overlaps reports whether [i, j) overlaps a kept span.
func (s *keptSpans) overlaps(i, j int) bool {
	r := s.kept(sort.SearchInts(s.starts, j)) // kept spans starting before j
	if r == 0 {
		return false
	}
	return s.end[s.nth(r)] > i
}

// add keeps [i, j); i must be one of the set's positions.
func (s *keptSpans) add(i, j int) {
	k := sort.SearchInts(s.starts, i)
	s.end[k] = j
	for x := k + 1; x < len(s.count); x += x & -x {
		s.count[x]++
	}
}

// kept returns how many kept spans start at starts[:n].
func (s *keptSpans) kept(n int) int {
	t := 0
	for x := n; x > 0; x -= x & -x {
		t += s.count[x]
	}
	return t
}

// nth returns the index in starts of the r-th kept span (from 1) in order.
func (s *keptSpans) nth(r int) int {
	pos := 0 // the largest tree index with fewer than r kept spans up to it
	for step := s.high; step > 0; step /= 2 {
		if next := pos + step; next < len(s.count) && s.count[next] < r {
			pos = next
			r -= s.count[next]
		}
	}
	return pos // tree index pos+1 is starts[pos]
}
