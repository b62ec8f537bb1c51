package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/term"

	"github.com/zeroner/zeroner/workflows"
)

// sample is a progress query's answer and when it came.
type sample struct {
	at time.Time
	p  workflows.Progress
}

// rateWindow is how far back the rate and the ETA look: long enough to span
// several shards finishing (they finish in bursts of the window), short
// enough to follow a change of pace.
const rateWindow = 2 * time.Minute

// addSample appends s to the samples of the rate window and drops those it
// no longer needs: all of them when s starts over (another run), else those
// older than the window but the last one before it, so that the samples
// span the whole window.
func addSample(win []sample, s sample) []sample {
	if n := len(win); n > 0 {
		last := win[n-1].p
		if s.p.RunID != last.RunID || s.p.Docs < last.Docs || s.p.ShardsDone+s.p.Failed < last.ShardsDone+last.Failed {
			win = win[:0]
		}
	}
	win = append(win, s)
	i := 0
	for i+1 < len(win) && !win[i+1].at.After(s.at.Add(-rateWindow)) {
		i++
	}
	return append(win[:0], win[i:]...)
}

// pace is how fast a job goes.
type pace struct {
	docsPerSec float64
	eta        time.Duration
	hasRate    bool
	hasETA     bool
}

// paceOf measures cur against the oldest of the earlier samples: documents
// done over the time elapsed, and the time left at the rate shards finish.
func paceOf(cur sample, prev []sample) pace {
	if len(prev) == 0 || cur.p.Phase != "annotate" {
		return pace{}
	}
	base := prev[0]
	dt := cur.at.Sub(base.at).Seconds()
	if base.p.RunID != cur.p.RunID || cur.p.Docs < base.p.Docs || dt <= 0 {
		return pace{}
	}
	pc := pace{docsPerSec: float64(cur.p.Docs-base.p.Docs) / dt, hasRate: true}
	done := cur.p.ShardsDone + cur.p.Failed
	left := cur.p.ShardsTotal - done
	shardsPerSec := float64(done-base.p.ShardsDone-base.p.Failed) / dt
	if left > 0 && shardsPerSec > 0 {
		pc.eta = time.Duration(float64(left) / shardsPerSec * float64(time.Second))
		pc.hasETA = true
	}
	return pc
}

// formatProgress renders cur, with the rate and ETA measured against the
// earlier samples prev. Width 0 gives a plain line with exact counts, for
// logs; a terminal's width gives a bar and compact counts that fit in it.
func formatProgress(cur sample, prev []sample, width int) string {
	p := cur.p
	head := fmt.Sprintf("%-8s ", p.Phase)
	if note, ok := phaseNotes[p.Phase]; ok && p.ShardsTotal == 0 {
		return fit(head+note, width)
	}
	pc := paceOf(cur, prev)
	if width <= 0 {
		return head + plainFields(p, pc)
	}
	return fit(head+barLine(len(head), p, termFields(p, pc), width), width)
}

// plainFields are the progress fields of a line for a log or a pipe.
func plainFields(p workflows.Progress, pc pace) string {
	fields := []string{
		fmt.Sprintf("shards %d/%d", p.ShardsDone, p.ShardsTotal),
		"documents " + of(p.Docs, p.DocsTotal, func(n int64) string { return strconv.FormatInt(n, 10) }),
		fmt.Sprintf("mentions %d", p.Mentions),
	}
	if p.Requests+p.CacheHits > 0 {
		fields = append(fields, fmt.Sprintf("llm requests %d  cache hits %d  tokens %d", p.Requests, p.CacheHits, p.Tokens))
	}
	if pc.hasRate {
		fields = append(fields, rate(pc.docsPerSec)+" docs/s")
	}
	if pc.hasETA {
		fields = append(fields, "ETA "+duration(pc.eta))
	}
	if p.Failed > 0 {
		fields = append(fields, fmt.Sprintf("failed shards %d", p.Failed))
	}
	if p.RunID != "" {
		fields = append(fields, "run "+p.RunID)
	}
	return strings.Join(fields, "  ")
}

// termField is a progress field on a terminal, with its rank: what goes
// first when the line is too long (a lower rank stays longer).
type termField struct {
	text string
	rank int
}

// termFields are the progress fields of a terminal line, in their order.
func termFields(p workflows.Progress, pc pace) []termField {
	fields := []termField{
		{fmt.Sprintf("shards %d/%d", p.ShardsDone, p.ShardsTotal), 3},
		{"docs " + of(p.Docs, p.DocsTotal, compact), 4},
		{"mentions " + compact(p.Mentions), 5},
	}
	if p.Requests+p.CacheHits > 0 {
		fields = append(fields, termField{fmt.Sprintf("llm %s req %s hits %s tok", compact(p.Requests), compact(p.CacheHits), compact(p.Tokens)), 6})
	}
	if pc.hasRate {
		fields = append(fields, termField{rate(pc.docsPerSec) + " docs/s", 1})
	}
	if pc.hasETA {
		fields = append(fields, termField{"ETA " + duration(pc.eta), 0})
	}
	if p.Failed > 0 {
		fields = append(fields, termField{fmt.Sprintf("%d failed", p.Failed), 2})
	}
	return fields
}

// barLine is a terminal line after a head of headLen bytes: a progress bar,
// the share of shards done and the fields, dropping fields by rank until
// the bar has room.
func barLine(headLen int, p workflows.Progress, fields []termField, width int) string {
	pct := ""
	if p.ShardsTotal > 0 {
		pct = fmt.Sprintf("%3.0f%%  ", 100*min(float64(p.ShardsDone+p.Failed)/float64(p.ShardsTotal), 1))
	}
	const minBar, maxBar = 10, 40
	join := func() string {
		var ts []string
		for _, f := range fields {
			ts = append(ts, f.text)
		}
		return strings.Join(ts, "  ")
	}
	// The room the bar leaves; the last column stays free (see fit).
	room := func() int { return width - 1 - headLen - len("[] ") - len(pct) - len(join()) }
	for p.ShardsTotal > 0 && room() < minBar && len(fields) > 1 {
		drop := 0
		for i, f := range fields {
			if f.rank > fields[drop].rank {
				drop = i
			}
		}
		fields = append(fields[:drop], fields[drop+1:]...)
	}
	bar := ""
	if n := min(room(), maxBar); p.ShardsTotal > 0 && n >= minBar {
		full := int(min(float64(p.ShardsDone+p.Failed)/float64(p.ShardsTotal), 1) * float64(n))
		bar = "[" + strings.Repeat("#", full) + strings.Repeat(".", n-full) + "] "
	}
	return bar + pct + join()
}

// phaseNotes say what a job does before its shards are known.
var phaseNotes = map[string]string{"plan": "listing the corpus", "shard": "cutting the corpus into shards"}

// of writes n, and "/total" when the total is known.
func of(n, total int64, num func(int64) string) string {
	if total > 0 {
		return num(n) + "/" + num(total)
	}
	return num(n)
}

// fit cuts line to a terminal's width less the last column: a terminal
// wraps a line that fills it, and the next redraw would then start on the
// wrong line. Width 0 means no terminal.
func fit(line string, width int) string {
	if r := []rune(line); width > 0 && len(r) > width-1 {
		return string(r[:max(width-1, 0)])
	}
	return line
}

// compact writes n with at most four significant digits: 950, 12.3k, 4.1M.
func compact(n int64) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	v := float64(n)
	for _, unit := range []string{"k", "M", "G", "T"} {
		v /= 1000
		if v < 999.95 || unit == "T" {
			return fmt.Sprintf("%.1f%s", v, unit)
		}
	}
	panic("unreachable")
}

// rate writes a rate with the precision it deserves.
func rate(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// duration writes d to the second under an hour, to the minute above.
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// showProgress shows the job's progress on w until stop is called: a bar
// redrawn in place every second on a terminal, else a line every ten
// seconds when something changed. stop waits for the display to end and
// clears the bar, so that what the caller prints next starts clean.
func showProgress(ctx context.Context, cl client.Client, id string, w io.Writer) (stop func()) {
	width, period := 0, 10*time.Second
	if isTerminal(w) {
		width, period = termWidth(w), time.Second
	}
	query := func(ctx context.Context) (workflows.Progress, error) { return queryProgress(ctx, cl, id) }
	return follow(ctx, w, width, period, query)
}

// follow is showProgress over any query, for tests: width 0 means w is not
// a terminal.
func follow(ctx context.Context, w io.Writer, width int, period time.Duration, query func(context.Context) (workflows.Progress, error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	drawn := false
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		var (
			win  []sample
			last workflows.Progress
		)
		for {
			qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
			p, err := query(qctx)
			qcancel()
			// A query can fail while a worker restarts: try again at
			// the next tick.
			if err == nil && ctx.Err() == nil {
				s := sample{at: time.Now(), p: p}
				switch {
				case width > 0:
					if f, ok := w.(*os.File); ok {
						width = termWidth(f) // the terminal may have been resized
					}
					fmt.Fprintf(w, "\r\033[K%s", formatProgress(s, win, width))
					drawn = true
				case !drawn || p != last:
					fmt.Fprintln(w, formatProgress(s, win, 0))
					drawn = true
				}
				win, last = addSample(win, s), p
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		if width > 0 && drawn {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}

// queryProgress asks the job's running workflow for its progress.
func queryProgress(ctx context.Context, cl client.Client, id string) (workflows.Progress, error) {
	var p workflows.Progress
	v, err := cl.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
	if err != nil {
		return p, err
	}
	err = v.Get(&p)
	return p, err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termWidth is the width of the terminal w, or 80 if it cannot be told.
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}
