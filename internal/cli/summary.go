package cli

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zeroner/zeroner/activities"
)

// printSummary prints a job's outcome: first, in one line, what was not
// annotated and why; then the runs it finished.
func printSummary(w io.Writer, s activities.Summary, elapsed time.Duration) {
	if line := problemLine(s); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	for _, e := range s.Earlier {
		printRun(w, e, 0)
	}
	if len(s.Reannotated) > 0 {
		fmt.Fprintf(w, "\nnot up to date: %s\n", strings.Join(s.Reannotated, "; "))
	}
	if s.Stopped != "" {
		fmt.Fprintf(w, "\njob %s stopped, run %s not finished: %s\n", s.Job, s.RunID, s.Stopped)
		return
	}
	if s.UpToDate {
		if s.Pending > 0 {
			fmt.Fprintf(w, "\njob %s has nothing new to annotate; %d objects stay pending (above)\n", s.Job, s.Pending)
		} else if len(s.Earlier) == 0 {
			fmt.Fprintf(w, "\njob %s is up to date: every object was annotated with these settings since it last changed (--full annotates all)\n", s.Job)
		}
		if s.RunID != "" {
			fmt.Fprintf(w, "  latest run %s: %s\n", s.RunID, s.Outputs.Summary)
		}
		return
	}
	printRun(w, s, elapsed)
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
}

// problemLine says in one line which objects were not annotated and why,
// grouped by cause: the first few objects of each, then a count.
func problemLine(s activities.Summary) string {
	if s.Pending == 0 {
		return ""
	}
	var causes []string
	for _, p := range s.Problems {
		objs := strings.Join(p.Objects, ", ")
		if more := p.Count - len(p.Objects); more > 0 {
			objs += fmt.Sprintf(" and %d more", more)
		}
		causes = append(causes, fmt.Sprintf("%s (%s)", p.Cause, objs))
	}
	return fmt.Sprintf("not annotated: %d %s: %s", s.Pending, plural(s.Pending, "object", "objects"), strings.Join(causes, "; "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// outcome is the error a finished job's command returns: none when all was
// annotated; ExitFailures when objects stay pending or the job stopped.
func outcome(s activities.Summary) error {
	switch {
	case s.Stopped != "":
		return withCode(ExitFailures, fmt.Errorf("job %s stopped before finishing its run", s.Job))
	case s.Pending > 0:
		hint := "run the same command to retry them"
		if !slices.ContainsFunc(s.Problems, func(p activities.Problem) bool { return !p.Rejected }) {
			hint = "they cannot be read: fix them or the reader flags (--format, --text-field, --id-field) and run again"
		}
		return withCode(ExitFailures, fmt.Errorf("job %s finished with failures: %d %s not annotated; %s",
			s.Job, s.Pending, plural(s.Pending, "object", "objects"), hint))
	}
	return nil
}

// printRun prints one finalized run; elapsed 0 is unknown.
func printRun(w io.Writer, s activities.Summary, elapsed time.Duration) {
	what := "run"
	if s.Resumed {
		what = "resumed run"
	}
	if elapsed <= 0 {
		fmt.Fprintf(w, "\n%s %s done\n", what, s.RunID)
		fmt.Fprintf(w, "  documents  %d\n", s.Docs)
	} else {
		fmt.Fprintf(w, "\n%s %s done in %s\n", what, s.RunID, elapsed.Round(time.Millisecond))
		fmt.Fprintf(w, "  documents  %d (%.0f/s)\n", s.Docs, float64(s.Docs)/elapsed.Seconds())
	}
	fmt.Fprintf(w, "  mentions   %d\n", s.Mentions)
	fmt.Fprintf(w, "  rejects    %d (objects or lines that could not be read)\n", s.Rejects)
	if s.Failures > 0 || len(s.FailedShards) > 0 {
		fmt.Fprintf(w, "  failures   %d documents, %d shards\n", s.Failures, len(s.FailedShards))
	}
	if s.Pending > 0 {
		fmt.Fprintf(w, "  pending    %d objects not annotated (see the first line)\n", s.Pending)
	}
	if u := s.Usage; u.Requests+u.CacheHits+u.BatchRequests > 0 {
		fmt.Fprintf(w, "  llm        %d requests, %d cache hits, %d prompt tokens (%d cached), %d completion tokens\n",
			u.Requests, u.CacheHits, u.PromptTokens, u.CachedTokens, u.CompletionTokens)
		if u.BatchRequests > 0 {
			fmt.Fprintf(w, "  batch      %d answers through the batch provider, %d of the tokens above\n", u.BatchRequests, u.BatchTokens)
		}
	}
	if rss := peakRSS(); rss > 0 {
		fmt.Fprintf(w, "  peak RSS   %.0f MiB (this process)\n", float64(rss)/(1<<20))
	}
	labels := make([]string, 0, len(s.Labels))
	for l := range s.Labels {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		if s.Labels[labels[i]] != s.Labels[labels[j]] {
			return s.Labels[labels[i]] > s.Labels[labels[j]]
		}
		return labels[i] < labels[j]
	})
	fmt.Fprintln(w, "  mentions per label:")
	for _, l := range labels {
		fmt.Fprintf(w, "    %-20s %d\n", l, s.Labels[l])
	}
	fmt.Fprintln(w, "  outputs:")
	fmt.Fprintf(w, "    mentions   %s\n", s.Outputs.Mentions)
	fmt.Fprintf(w, "    documents  %s\n", s.Outputs.Documents)
	fmt.Fprintf(w, "    rejects    %s\n", s.Outputs.Rejects)
	if s.Outputs.Entities != "" {
		fmt.Fprintf(w, "    entities   %s (%d)\n", s.Outputs.Entities, s.Graph.Entities)
		fmt.Fprintf(w, "    edges      %s (%d)\n", s.Outputs.Edges, s.Graph.Edges)
	}
	if s.Outputs.Usage != "" {
		fmt.Fprintf(w, "    ledger     %s\n", s.Outputs.Usage)
	}
	fmt.Fprintf(w, "    run.json   %s\n", s.Outputs.Summary)
}
