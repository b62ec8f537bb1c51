package sam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/zeroner/zeroner/pipeline"
)

// call is one request of a stage and the passages it serves.
type call struct {
	kind   string
	prompt pipeline.Prompt
	valid  func(content string) error
	group  []int // indexes into the stage's passages
}

// outcome is a call's answer or error.
type outcome struct {
	ans pipeline.Answer
	err error
}

// ask runs the calls, at most Concurrency at a time.
func (b *Backend) ask(ctx context.Context, calls []call) []outcome {
	outs := make([]outcome, len(calls))
	sem := make(chan struct{}, b.opt.Concurrency)
	var wg sync.WaitGroup
	for i := range calls {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			outs[i].err = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := ctx.Err(); err != nil {
				outs[i].err = err
				return
			}
			outs[i].ans, outs[i].err = b.llm.Ask(ctx, calls[i].prompt, calls[i].valid)
		}()
	}
	wg.Wait()
	b.count(func(s *Stats) { s.Requests += int64(len(calls)) })
	return outs
}

// settle books a stage call's outcomes into res: each call's usage shared
// among the documents it served, and a Failure per document of each failed
// call. It returns ctx.Err() when the context ended, and an error when more
// than half of the calls failed in transport. ok[i] reports whether call i
// has a valid answer.
func (b *Backend) settle(ctx context.Context, stage string, calls []call, outs []outcome,
	ps []passage, docs []pipeline.Document, res *pipeline.Result) (ok []bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ok = make([]bool, len(calls))
	var transport, invalid int
	var firstErr error
	for i, c := range calls {
		shares, spans := b.shares(c.group, ps)
		b.book(res, docs, shares, outs[i].ans.Usage)
		err := outs[i].err
		if err == nil {
			ok[i] = true
			continue
		}
		what := "request failed"
		switch {
		case errors.Is(err, pipeline.ErrInvalidAnswer):
			invalid++
			what = "answer never validated"
		case errors.Is(err, pipeline.ErrUnanswered):
			invalid++
			what = "no answer from the batch provider"
		default:
			transport++
			if firstErr == nil {
				firstErr = err
			}
		}
		for _, sh := range shares {
			res.Failures = append(res.Failures, pipeline.Failure{
				DocID: docs[sh.doc].ID,
				Stage: stage,
				Reason: fmt.Sprintf("%s: %s for passage(s) %s of this document, in a request of %d passage(s): %v",
					c.kind, what, strings.Join(spans[sh.doc], " "), len(c.group), err),
			})
		}
	}
	b.count(func(s *Stats) { s.Invalid += int64(invalid); s.Transport += int64(transport) })
	if transport > 0 && 2*transport > len(calls) {
		return nil, fmt.Errorf("sam: %s: %d of %d requests failed: %w", stage, transport, len(calls), firstErr)
	}
	return ok, nil
}

// share is a document's part of a request: its text in code points.
type share struct {
	doc    int
	weight int
}

// shares lists the documents a group of passages serves, in order of first
// appearance, with their weights and their passages' spans as text.
func (b *Backend) shares(group []int, ps []passage) ([]share, map[int][]string) {
	var out []share
	spans := make(map[int][]string)
	at := make(map[int]int)
	for _, pi := range group {
		p := ps[pi]
		k, seen := at[p.doc]
		if !seen {
			k = len(out)
			at[p.doc] = k
			out = append(out, share{doc: p.doc})
		}
		out[k].weight += p.end - p.start
		spans[p.doc] = append(spans[p.doc], fmt.Sprintf("[%d,%d)", p.start, p.end))
	}
	return out, spans
}

// book adds u to the ledger, shared among documents in proportion to their
// weights; integer parts are rounded down and the remainder goes to the
// last document, so the totals are exact.
func (b *Backend) book(res *pipeline.Result, docs []pipeline.Document, shares []share, u pipeline.Usage) {
	if len(shares) == 0 || u == (pipeline.Usage{}) {
		return
	}
	if res.Usage == nil {
		res.Usage = make(map[string]pipeline.Usage)
	}
	total := 0
	for _, s := range shares {
		total += max(s.weight, 0)
	}
	part := func(v int64, w int) int64 {
		if total == 0 {
			return 0
		}
		return v * int64(w) / int64(total)
	}
	var given pipeline.Usage
	for i, s := range shares {
		var v pipeline.Usage
		if i == len(shares)-1 {
			v = pipeline.Usage{
				Requests:         u.Requests - given.Requests,
				CacheHits:        u.CacheHits - given.CacheHits,
				PromptTokens:     u.PromptTokens - given.PromptTokens,
				CompletionTokens: u.CompletionTokens - given.CompletionTokens,
				CachedTokens:     u.CachedTokens - given.CachedTokens,
				BatchRequests:    u.BatchRequests - given.BatchRequests,
				BatchTokens:      u.BatchTokens - given.BatchTokens,
			}
		} else {
			w := max(s.weight, 0)
			v = pipeline.Usage{
				Requests:         part(u.Requests, w),
				CacheHits:        part(u.CacheHits, w),
				PromptTokens:     part(u.PromptTokens, w),
				CompletionTokens: part(u.CompletionTokens, w),
				CachedTokens:     part(u.CachedTokens, w),
				BatchRequests:    part(u.BatchRequests, w),
				BatchTokens:      part(u.BatchTokens, w),
			}
			given.Add(v)
		}
		id := docs[s.doc].ID
		cur := res.Usage[id]
		cur.Add(v)
		res.Usage[id] = cur
	}
}
