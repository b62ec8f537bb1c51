package cli

import (
	"context"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
)

func TestIndexFlagsConfig(t *testing.T) {
	run := activities.Run{ID: "r", URI: "file:///out/runs/r"}
	parse := func(t *testing.T, args ...string) indexFlags {
		t.Helper()
		var f indexFlags
		fs := flag.NewFlagSet("index", flag.ContinueOnError)
		f.register(fs, Env{Getenv: func(string) string { return "" }})
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c activities.IndexConfig)
	}{
		{name: "defaults: local encoder, a head, approximate past 200,000",
			check: func(t *testing.T, c activities.IndexConfig) {
				if c.Encoder.Kind != "local" || c.Head.Skip || c.Approx.Min != activities.DefaultApproxMin || c.ShardRows != activities.DefaultShardRows {
					t.Errorf("config %+v", c)
				}
			}},
		{name: "no head, never approximate", args: []string{"--no-head", "--approx-min", "-1"},
			check: func(t *testing.T, c activities.IndexConfig) {
				if !c.Head.Skip || c.Approx.Min != -1 {
					t.Errorf("config %+v", c)
				}
			}},
		{name: "approx-min 0 means always", args: []string{"--approx-min", "0"},
			check: func(t *testing.T, c activities.IndexConfig) {
				if c.Approx.Min != 1 {
					t.Errorf("approx min %d, want 1", c.Approx.Min)
				}
			}},
		{name: "embeddings", args: []string{"--encoder", "embeddings", "--embed-url", "http://127.0.0.1:8000/v1", "--embed-model", "e5", "--dim", "256"},
			check: func(t *testing.T, c activities.IndexConfig) {
				e := c.Encoder
				if e.Kind != "embeddings" || e.URL != "http://127.0.0.1:8000/v1" || e.Model != "e5" || e.Dim != 256 {
					t.Errorf("encoder %+v", e)
				}
			}},
		{name: "hidden", args: []string{"--encoder", "hidden", "--hidden-url", "http://127.0.0.1:8001", "--layer", "17"},
			check: func(t *testing.T, c activities.IndexConfig) {
				if e := c.Encoder; e.Kind != "hidden" || e.Layer != 17 || e.URL != "http://127.0.0.1:8001" {
					t.Errorf("encoder %+v", e)
				}
			}},
		{name: "embeddings without a model", args: []string{"--encoder", "embeddings"}, wantErr: "--embed-model"},
		{name: "hidden without a URL", args: []string{"--encoder", "hidden"}, wantErr: "--hidden-url"},
		{name: "unknown encoder", args: []string{"--encoder", "bert"}, wantErr: "--encoder"},
		{name: "bad shard rows", args: []string{"--shard-rows", "0"}, wantErr: "--shard-rows"},
		{name: "negative dim", args: []string{"--dim", "-3"}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.args...)
			c, err := f.config(run, "file:///out/indexes/r")
			if wantError(t, err, tt.wantErr) {
				return
			}
			if c.Run != run || c.Index != "file:///out/indexes/r" {
				t.Errorf("run %+v, index %s", c.Run, c.Index)
			}
			tt.check(t, c)
		})
	}
}

func TestResolveRun(t *testing.T) {
	out, run, _ := tinyIndex(t)
	ctx := context.Background()
	store := blob.NewFile()
	for _, arg := range []string{filepath.Join(out, "runs", run.ID), run.URI, run.URI + "/", run.ID} {
		got, err := resolveRun(ctx, store, arg, out)
		if err != nil || got != run {
			t.Errorf("resolveRun(%q) = %+v, %v; want %+v", arg, got, err, run)
		}
	}
	if _, err := resolveRun(ctx, store, "nope", out); err == nil || !strings.Contains(err.Error(), "not a finished run") {
		t.Errorf("unknown run id: %v", err)
	}
}

func TestIndexCommandErrors(t *testing.T) {
	out, run, _ := tinyIndex(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no run", nil, "give one RUN"},
		{"two runs", []string{"a", "b"}, "give one RUN"},
		{"not a run", []string{"--runs", out, "nope"}, "not a finished run"},
		{"bad encoder", []string{"--runs", out, "--encoder", "magic", run.ID}, "--encoder"},
		{"dev unavailable", []string{"--runs", out, "--dev", run.ID}, "--dev is not available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runMain(t, append([]string{"index"}, tt.args...)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want an error with %q", code, stderr, tt.want)
			}
		})
	}
}

func TestScoreRetrieval(t *testing.T) {
	_, run, index := tinyIndex(t)
	ctx := context.Background()
	store := blob.NewFile()
	s, err := search.OpenIndex(ctx, store, index, search.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := runs.Store{Store: store}.MentionsIn(ctx, runs.Dir(run).MentionsDir())
	if err != nil {
		t.Fatal(err)
	}
	docs, err := store.OpenAt(ctx, runs.Dir(run).Documents(0))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := table.ReadDocuments(docs)
	docs.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The gold is the run's mentions, and one gold city no mention covers.
	gold := make([]eval.Doc, len(rows))
	for i, r := range rows {
		gold[i] = eval.Doc{ID: r.DocID, Text: r.Text}
		for _, m := range ms {
			if m.DocID == r.DocID {
				gold[i].Gold = append(gold[i].Gold, eval.Span{Start: int(m.Start), End: int(m.End), Label: m.Label})
			}
		}
	}
	gold[1].Gold = append(gold[1].Gold, eval.Span{Start: 0, End: 3, Label: "city"})
	ms = slices.DeleteFunc(ms, func(m table.Mention) bool { return m.DocID == "s1" }) // no mention in s1 at all
	schema, err := pipeline.ParseSchema([]byte("name: t\nlabels:\n  - name: team\n    description: A sports team.\n  - name: city\n    description: A city.\n  - name: person\n    description: A person.\n  - name: ship\n    description: A ship.\n"))
	if err != nil {
		t.Fatal(err)
	}
	var d RetrievalDataset
	if err := scoreRetrieval(ctx, &d, gold, ms, schema, map[string]*search.Searcher{"raw": s, "head": s}); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		r     int
		reach float64
	}{"team": {3, 1}, "city": {4, 3.0 / 4}, "person": {3, 2.0 / 3}}
	if len(d.Labels) != len(want) {
		t.Fatalf("labels %+v: want team, city and person (ship has no gold)", d.Labels)
	}
	for _, l := range d.Labels {
		w := want[l.Label]
		if l.Relevant != w.r || l.Reach != w.reach || l.Query == "" {
			t.Errorf("%s: R %d, reach %v, query %q; want R %d, reach %v", l.Label, l.Relevant, l.Reach, l.Query, w.r, w.reach)
		}
		for _, sys := range retrievalSystems {
			if v := l.Scores[sys]; v < 0 || v > 1 {
				t.Errorf("%s %s: R-Precision %v", l.Label, sys, v)
			}
		}
		if l.Scores["raw"] != l.Scores["head"] {
			t.Errorf("%s: the same searcher scored %v and %v", l.Label, l.Scores["raw"], l.Scores["head"])
		}
	}
	// BM25 matches words: "team", "city" and "person" occur in no sentence.
	if d.Macro["bm25"] != 0 || !(d.Macro["head"] > 0) {
		t.Errorf("macro %v: want BM25 0 and the index above it", d.Macro)
	}
	var b strings.Builder
	if err := writeRetrievalMarkdown(&b, RetrievalReport{Backend: "rules", Encoder: "local", Datasets: []RetrievalDataset{d}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| team | 3 |") || !strings.Contains(b.String(), "**macro avg**") {
		t.Errorf("report:\n%s", b.String())
	}
}
