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
	mis    []int // mediate and calibrate: the prepared mentions asked, by id - 1
	// split returns the request as two smaller ones, or nil when it cannot
	// be split; it is called when the answer was cut off at the token
	// limit.
	split func() []call
}

// outcome is a call's answer or error. A split call's answer was cut off
// and its halves (or itself with a larger budget) were asked instead; only
// its cost counts.
type outcome struct {
	ans   pipeline.Answer
	err   error
	split bool
}

// ask runs the calls, at most Concurrency at a time. A call whose answer
// is cut off at the token limit is split in two and both halves asked,
// recursively; one that cannot be split (one sentence, one mention) is
// asked again with twice the answer budget, up to maxAnswerTokens. The
// calls asked again are appended to the calls returned, after the cut call
// (marked split).
func (b *Backend) ask(ctx context.Context, calls []call) ([]call, []outcome) {
	var all []call
	var outs []outcome
	for len(calls) > 0 {
		got := b.askAll(ctx, calls)
		var next []call
		for i, c := range calls {
			if !errors.Is(got[i].err, pipeline.ErrCutOff) || ctx.Err() != nil {
				continue
			}
			if c.split != nil {
				if halves := c.split(); len(halves) > 1 {
					got[i].split = true
					next = append(next, halves...)
					b.count(func(s *Stats) { s.Splits++ })
					continue
				}
			}
			if c.prompt.MaxTokens > 0 && c.prompt.MaxTokens < maxAnswerTokens {
				got[i].split = true
				bigger := c
				bigger.prompt.MaxTokens = min(2*c.prompt.MaxTokens, maxAnswerTokens)
				bigger.split = nil
				next = append(next, bigger)
				b.count(func(s *Stats) { s.Splits++ })
			}
		}
		all, outs = append(all, calls...), append(outs, got...)
		calls = next
	}
	return all, outs
}

// maxAnswerTokens bounds the budget of an answer that cannot be split:
// one sentence, or one mention.
const maxAnswerTokens = 4096

func (b *Backend) askAll(ctx context.Context, calls []call) []outcome {
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

// Call statuses after settle.
const (
	answered   = iota // a valid answer
	failed            // failed, and a Failure is recorded for its documents
	again             // its answer never validated: its items are asked again
	superseded        // cut off and split: its halves are further on
)

// settle books a stage call's outcomes into res: each call's usage shared
// among the documents it served, and a Failure per document of each failed
// call. With followUp, a call whose answer never validated is not a
// failure yet: its status is again, and the caller asks its items again. It
// returns ctx.Err() when the context ended, and an error when more than half
// of the calls failed in transport.
func (b *Backend) settle(ctx context.Context, stage string, calls []call, outs []outcome,
	ps []passage, docs []pipeline.Document, res *pipeline.Result, followUp bool) (status []int, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	status = make([]int, len(calls))
	var transport, invalid, tried int
	var firstErr error
	for i, c := range calls {
		shares, spans := b.shares(c.group, ps)
		b.book(res, docs, shares, outs[i].ans.Usage)
		err := outs[i].err
		switch {
		case outs[i].split:
			status[i] = superseded
			continue
		case err == nil:
			status[i] = answered
			tried++
			continue
		}
		tried++
		what := "request failed"
		switch {
		case errors.Is(err, pipeline.ErrInvalidAnswer):
			invalid++
			what = "answer never validated"
			if followUp {
				status[i] = again
				continue
			}
		case errors.Is(err, pipeline.ErrCutOff):
			invalid++
			what = "answer cut off at the token limit, and the request cannot be made smaller"
		case errors.Is(err, pipeline.ErrUnanswered):
			invalid++
			what = "no answer from the batch provider"
		default:
			transport++
			if firstErr == nil {
				firstErr = err
			}
		}
		status[i] = failed
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
	if transport > 0 && 2*transport > tried {
		return nil, fmt.Errorf("sam: %s: %d of %d requests failed: %w", stage, transport, tried, firstErr)
	}
	return status, nil
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
