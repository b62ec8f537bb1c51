package sam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/text"
)

// fake is an in-memory pipeline.LLM that answers from a lexicon of known
// names (surface -> label) and a label -> archetype map, like a perfect
// model would, and lets a test replace any answer.
type fake struct {
	lex  map[string]string
	arch map[string]pipeline.Archetype
	// occ makes the extractors give every occurrence explicitly.
	occ bool
	// hook, when set, may replace the answer of a request: it returns the
	// content and error to use, or handled false for the normal answer.
	hook func(kind string, p pipeline.Prompt, attempt int) (content string, err error, handled bool)

	mu       sync.Mutex
	calls    map[string]int
	usage    pipeline.Usage
	maxLen   map[string]int // longest user message by kind
	inFlight int
	maxIn    int
}

func newFake(lex map[string]string, arch map[string]pipeline.Archetype) *fake {
	return &fake{lex: lex, arch: arch, calls: make(map[string]int), maxLen: make(map[string]int)}
}

const maxAttempts = 3

func (f *fake) Ask(ctx context.Context, p pipeline.Prompt, valid func(string) error) (pipeline.Answer, error) {
	kind := strings.TrimPrefix(p.SchemaName, "zeroner_")
	kind = strings.ReplaceAll(kind, "_", "-")
	f.mu.Lock()
	f.calls[kind]++
	f.maxLen[kind] = max(f.maxLen[kind], len(p.User))
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()

	var ans pipeline.Answer
	var lastErr error
	for attempt := range maxAttempts {
		if err := ctx.Err(); err != nil {
			return ans, err
		}
		content, err, handled := "", error(nil), false
		if f.hook != nil {
			content, err, handled = f.hook(kind, p, attempt)
		}
		if !handled {
			content = f.answer(kind, p)
		}
		u := pipeline.Usage{Requests: 1, PromptTokens: int64(len(p.System)+len(p.User)) / 4, CompletionTokens: int64(len(content)) / 4}
		f.mu.Lock()
		f.usage.Add(u)
		f.mu.Unlock()
		ans.Usage.Add(u)
		if err != nil {
			return ans, err
		}
		if err := valid(content); err != nil {
			lastErr = err
			continue
		}
		ans.Content = content
		if p.LogProbs {
			ans.LogProbs = tokenLogProbs(content)
		}
		return ans, nil
	}
	return ans, fmt.Errorf("%w: %v", pipeline.ErrInvalidAnswer, lastErr)
}

// tokenLogProbs cuts content into tokens of up to 3 bytes, each with log
// probability -0.01.
func tokenLogProbs(content string) []pipeline.TokenLogProb {
	var out []pipeline.TokenLogProb
	for i := 0; i < len(content); i += 3 {
		out = append(out, pipeline.TokenLogProb{Token: content[i:min(i+3, len(content))], LogProb: -0.01})
	}
	return out
}

// payload decodes the JSON line that ends a user message.
func payload(user string, v any) {
	line := user[strings.LastIndex(user, "\n")+1:]
	if err := json.Unmarshal([]byte(line), v); err != nil {
		panic(fmt.Sprintf("fake: bad payload %q: %v", line, err))
	}
}

func (f *fake) answer(kind string, p pipeline.Prompt) string {
	switch kind {
	case KindAnchor, KindExplorer:
		var in struct{ Passages []passageIn }
		payload(p.User, &in)
		type out struct {
			ID       int   `json:"id"`
			Entities []any `json:"entities,omitempty"`
			Mentions []any `json:"mentions,omitempty"`
		}
		var res []out
		for _, ps := range in.Passages {
			o := out{ID: ps.ID}
			for s, label := range f.lex {
				n := len(text.Find(ps.Text, s))
				if n == 0 {
					continue
				}
				if !f.occ {
					o.Mentions = append(o.Mentions, s)
					o.Entities = append(o.Entities, map[string]any{"text": s, "label": label})
					continue
				}
				for k := 1; k <= n; k++ {
					o.Mentions = append(o.Mentions, map[string]any{"text": s, "occurrence": k})
					o.Entities = append(o.Entities, map[string]any{"text": s, "occurrence": k, "label": label})
				}
			}
			if kind == KindAnchor {
				o.Mentions = nil
			} else {
				o.Entities = nil
			}
			res = append(res, o)
		}
		return marshal(map[string]any{"passages": res})
	case KindMediate, KindCalibrate:
		var in struct{ Passages []mentionPassageIn }
		payload(p.User, &in)
		var res []map[string]any
		for _, ps := range in.Passages {
			for _, m := range ps.Mentions {
				label, known := f.lex[m.Text]
				if kind == KindMediate {
					a := pipeline.Misc
					if x, ok := f.arch[label]; known && ok {
						a = x
					}
					res = append(res, map[string]any{"id": m.ID, "text": m.Text, "archetype": a})
					continue
				}
				switch {
				case len(m.Candidates) == 0 && !known: // whole-schema calibration
					label = "misc"
				case len(m.Candidates) > 0 && (!known || !contains(m.Candidates, label)):
					label = m.Candidates[len(m.Candidates)-1]
				}
				res = append(res, map[string]any{"id": m.ID, "text": m.Text, "label": label})
			}
		}
		return marshal(map[string]any{"mentions": res})
	case KindLabelMap:
		var in struct{ Labels []struct{ Name string } }
		payload(p.User, &in)
		res := map[string][]pipeline.Archetype{}
		for _, l := range in.Labels {
			if a, ok := f.arch[l.Name]; ok {
				res[l.Name] = []pipeline.Archetype{a}
			}
		}
		return marshal(map[string]any{"labels": res})
	}
	return "{}"
}

func toSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var errTransport = errors.New("connection reset by peer")
