package cli

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/zeroner/zeroner/activities"
)

func printSummary(w io.Writer, s activities.Summary, elapsed time.Duration) {
	if s.Stopped != "" {
		fmt.Fprintf(w, "\njob %s stopped, run %s not finished: %s\n", s.Job, s.RunID, s.Stopped)
		return
	}
	if s.UpToDate {
		fmt.Fprintf(w, "\njob %s is up to date: no object is new or changed since its last run (--full annotates all)\n", s.Job)
		if s.RunID != "" {
			fmt.Fprintf(w, "  latest run %s: %s\n", s.RunID, s.Outputs.Summary)
		}
		return
	}
	fmt.Fprintf(w, "\nrun %s done in %s\n", s.RunID, elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  documents  %d (%.0f/s)\n", s.Docs, float64(s.Docs)/elapsed.Seconds())
	fmt.Fprintf(w, "  mentions   %d\n", s.Mentions)
	fmt.Fprintf(w, "  rejects    %d (objects or lines that could not be read)\n", s.Rejects)
	if s.Failures > 0 || len(s.FailedShards) > 0 {
		fmt.Fprintf(w, "  failures   %d documents, %d shards\n", s.Failures, len(s.FailedShards))
	}
	if u := s.Usage; u.Requests+u.CacheHits > 0 {
		fmt.Fprintf(w, "  llm        %d requests, %d cache hits, %d prompt tokens (%d cached), %d completion tokens\n",
			u.Requests, u.CacheHits, u.PromptTokens, u.CachedTokens, u.CompletionTokens)
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
