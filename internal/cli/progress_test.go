package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// annotating is a job a quarter done; earlier is it a minute before, with
// six shards (6,000 documents) fewer: 100 documents/s, 30 shards left at
// 0.1 shard/s.
var (
	annotating = workflows.Progress{Phase: "annotate", RunID: "r", ShardsDone: 10, ShardsTotal: 40, Docs: 10000, DocsTotal: 40000, Mentions: 123456}
	earlier    = workflows.Progress{Phase: "annotate", RunID: "r", ShardsDone: 4, ShardsTotal: 40, Docs: 4000, DocsTotal: 40000, Mentions: 50000}
	withLLM    = workflows.Progress{Phase: "annotate", RunID: "r", ShardsDone: 10, ShardsTotal: 40, Docs: 10000, DocsTotal: 40000, Mentions: 123456,
		Requests: 1234, CacheHits: 56, Tokens: 7890123, Failed: 2}
)

func TestFormatProgress(t *testing.T) {
	minute := []sample{{t0, earlier}}
	tests := []struct {
		name  string
		cur   workflows.Progress
		prev  []sample
		width int
		want  string
	}{
		{"plain, one sample: no rate", annotating, nil, 0,
			"annotate shards 10/40  documents 10000/40000  mentions 123456  run r"},
		{"plain with rate and ETA", annotating, minute, 0,
			"annotate shards 10/40  documents 10000/40000  mentions 123456  100 docs/s  ETA 5m00s  run r"},
		{"plain with LLM usage and failed shards", withLLM, nil, 0,
			"annotate shards 10/40  documents 10000/40000  mentions 123456  llm requests 1234  cache hits 56  tokens 7890123  failed shards 2  run r"},
		{"terminal, wide", annotating, minute, 120,
			"annotate [#######........................]  25%  shards 10/40  docs 10.0k/40.0k  mentions 123.5k  100 docs/s  ETA 5m00s"},
		{"terminal, 80 columns: fields go before the bar", annotating, minute, 80,
			"annotate [######....................]  25%  shards 10/40  100 docs/s  ETA 5m00s"},
		{"terminal, narrow: ETA stays longest", annotating, minute, 60,
			"annotate [#####...............]  25%  100 docs/s  ETA 5m00s"},
		{"terminal, tiny: no bar, cut, last column free", annotating, minute, 20,
			"annotate  25%  ETA "},
		{"terminal with LLM usage; failed shards count as finished", withLLM, nil, 120,
			"annotate [###..........]  30%  shards 10/40  docs 10.0k/40.0k  mentions 123.5k  llm 1.2k req 56 hits 7.9M tok  2 failed"},
		{"no shard finished in the window: rate, no ETA",
			workflows.Progress{Phase: "annotate", RunID: "r", ShardsDone: 4, ShardsTotal: 40, Docs: 4000}, minute, 0,
			"annotate shards 4/40  documents 4000  mentions 0  0.0 docs/s  run r"},
		{"samples of another run: no rate", annotating, []sample{{t0, workflows.Progress{Phase: "annotate", RunID: "old"}}}, 0,
			"annotate shards 10/40  documents 10000/40000  mentions 123456  run r"},
		{"done: no rate", workflows.Progress{Phase: "done", RunID: "r", ShardsDone: 40, ShardsTotal: 40, Docs: 40000, DocsTotal: 40000}, minute, 60,
			"done     [###########] 100%  shards 40/40  docs 40.0k/40.0k"},
		{"planning", workflows.Progress{Phase: "plan"}, nil, 0, "plan     listing the corpus"},
		{"sharding, terminal", workflows.Progress{Phase: "shard", RunID: "r"}, nil, 80, "shard    cutting the corpus into shards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatProgress(sample{t0.Add(time.Minute), tt.cur}, tt.prev, tt.width)
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if tt.width > 0 && len([]rune(got)) >= tt.width {
				t.Errorf("%d runes on a terminal %d wide", len([]rune(got)), tt.width)
			}
		})
	}
}

func TestAddSample(t *testing.T) {
	at := func(sec int, shards int, run string) sample {
		return sample{t0.Add(time.Duration(sec) * time.Second), workflows.Progress{RunID: run, ShardsDone: shards, Docs: int64(shards)}}
	}
	tests := []struct {
		name string
		add  []sample
		want []int // seconds of the samples kept
	}{
		{"within the window", []sample{at(0, 0, "r"), at(10, 1, "r"), at(20, 2, "r")}, []int{0, 10, 20}},
		{"the last sample before the window stays", []sample{at(0, 0, "r"), at(60, 1, "r"), at(130, 2, "r"), at(200, 3, "r")}, []int{60, 130, 200}},
		{"a new run starts over", []sample{at(0, 0, "r"), at(10, 5, "r"), at(20, 0, "s")}, []int{20}},
		{"counts going back start over", []sample{at(0, 0, "r"), at(10, 5, "r"), at(20, 3, "r")}, []int{20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var win []sample
			for _, s := range tt.add {
				win = addSample(win, s)
			}
			var got []int
			for _, s := range win {
				got = append(got, int(s.at.Sub(t0).Seconds()))
			}
			if !slicesEqual(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
		})
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCompactAndDuration(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.0k", 12345: "12.3k", 999949: "999.9k", 999950: "1.0M", 7890123: "7.9M", 3e12: "3.0T"} {
		if got := compact(n); got != want {
			t.Errorf("compact(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 90 * time.Second: "1m30s", 2*time.Hour + 5*time.Minute + 40*time.Second: "2h05m"} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// fakeQuery answers with the progress set last, failing when told.
type fakeQuery struct {
	mu   sync.Mutex
	p    workflows.Progress
	err  error
	hits int
}

func (q *fakeQuery) set(p workflows.Progress, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.p, q.err = p, err
}

func (q *fakeQuery) query(context.Context) (workflows.Progress, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.hits++
	return q.p, q.err
}

func (q *fakeQuery) wait(t *testing.T, hits int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		q.mu.Lock()
		n := q.hits
		q.mu.Unlock()
		if n >= hits {
			return
		}
	}
	t.Fatalf("fewer than %d queries", hits)
}

// syncBuffer is a bytes.Buffer the display's goroutine can write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestFollow(t *testing.T) {
	t.Run("lines when something changed", func(t *testing.T) {
		var q fakeQuery
		var out syncBuffer
		q.set(earlier, nil)
		stop := follow(context.Background(), &out, 0, time.Millisecond, q.query)
		q.wait(t, 3)
		q.set(workflows.Progress{}, errors.New("no worker")) // skipped
		q.wait(t, 6)
		q.set(annotating, nil)
		q.wait(t, 9)
		stop()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "annotate shards 4/40") || !strings.HasPrefix(lines[1], "annotate shards 10/40") {
			t.Fatalf("got %q, want two lines, one per change", lines)
		}
		if !strings.Contains(lines[1], "docs/s") || strings.Contains(out.String(), "\r") {
			t.Errorf("got %q, want a rate on the second line and no redraws", lines[1])
		}
	})
	t.Run("a terminal redraws in place and is cleared", func(t *testing.T) {
		var q fakeQuery
		var out syncBuffer
		q.set(annotating, nil)
		stop := follow(context.Background(), &out, 100, time.Millisecond, q.query)
		q.wait(t, 3)
		stop()
		s := out.String()
		if strings.Count(s, "\r\033[K") < 4 || !strings.HasSuffix(s, "]  25%  shards 10/40  docs 10.0k/40.0k  mentions 123.5k  0.0 docs/s\r\033[K") || strings.Contains(s, "\n") {
			t.Errorf("got %q, want redraws of one line, then the line cleared", s)
		}
	})
	t.Run("stop returns while a query hangs", func(t *testing.T) {
		var out syncBuffer
		started := make(chan struct{})
		var once sync.Once
		hang := func(ctx context.Context) (workflows.Progress, error) {
			once.Do(func() { close(started) })
			<-ctx.Done()
			return workflows.Progress{}, ctx.Err()
		}
		stop := follow(context.Background(), &out, 0, time.Hour, hang)
		<-started
		done := make(chan struct{})
		go func() { stop(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("stop waited for the query's timeout")
		}
		if out.String() != "" {
			t.Errorf("printed %q", out.String())
		}
	})
}

func TestSummaryProgress(t *testing.T) {
	s := activities.Summary{RunID: "r", Docs: 271, Mentions: 3722, Shards: 11, FailedShards: []activities.ShardFailure{{Shard: 3}},
		Usage: pipeline.Usage{Requests: 5, CacheHits: 2, PromptTokens: 100, CompletionTokens: 20, CachedTokens: 50}}
	got := formatProgress(sample{t0, summaryProgress(s)}, nil, 0)
	want := "done     shards 10/11  documents 271/271  mentions 3722  llm requests 5  cache hits 2  tokens 120  failed shards 1  run r"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
