package cli

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
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
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("config: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
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
