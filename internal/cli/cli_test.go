package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// TestRunConfig checks the flags alone (settings); validate_test.go has the
// checks of the inputs.
func TestRunConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		f       runFlags
		wantErr string
		check   func(t *testing.T, f runFlags)
	}{
		{name: "no corpus", f: runFlags{schema: "s.yaml", out: "out", shardSize: 1, window: 1}, wantErr: "--corpus is required"},
		{name: "no schema", f: runFlags{corpora: listFlag{"c"}, out: "out", shardSize: 1, window: 1}, wantErr: "--schema is required"},
		{name: "bad shard size", f: runFlags{corpora: listFlag{"c"}, schema: "s", out: "o", shardSize: 0, window: 1}, wantErr: "--shard-size"},
		{name: "bad window", f: runFlags{corpora: listFlag{"c"}, schema: "s", out: "o", shardSize: 1, window: 0}, wantErr: "--window"},
		{name: "bad scheme", f: runFlags{corpora: listFlag{"s3://b/c"}, schema: "s", out: "o", shardSize: 1, window: 1}, wantErr: "s3"},
		{name: "bad job", f: runFlags{corpora: listFlag{"c"}, schema: "s", out: "o", job: "a/b", shardSize: 1, window: 1}, wantErr: "--job"},
		{name: "local folder lists as a folder", f: runFlags{corpora: listFlag{dir}, schema: "s.yaml", out: "out", shardSize: 1, window: 1},
			check: func(t *testing.T, f runFlags) {
				cfg, _ := f.settings()
				if !strings.HasPrefix(cfg.Corpus, "file:///") || !strings.HasSuffix(cfg.Corpus, "/") {
					t.Errorf("corpus %q: want a file:// URI ending in /", cfg.Corpus)
				}
			}},
		{name: "gs URIs kept", f: runFlags{corpora: listFlag{"gs://b/corpus/"}, schema: "gs://b/s.yaml", out: "gs://b/out", shardSize: 1, window: 1},
			check: func(t *testing.T, f runFlags) {
				cfg, _ := f.settings()
				if cfg.Corpus != "gs://b/corpus/" || cfg.Output != "gs://b/out" {
					t.Errorf("config %+v changed gs:// URIs", cfg)
				}
				if !strings.HasPrefix(cfg.Job, "corpus-") {
					t.Errorf("job %q: want it named after the corpus", cfg.Job)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.f.settings()
			if wantError(t, err, tt.wantErr) {
				return
			}
			tt.check(t, tt.f)
		})
	}
}

func TestDefaultJobIsStable(t *testing.T) {
	f := runFlags{corpora: listFlag{"gs://b/news/"}, schema: "gs://b/s.yaml", out: "gs://b/out", shardSize: 1, window: 1}
	a, _ := f.settings()
	b, _ := f.settings()
	f.out = "gs://b/other"
	c, _ := f.settings()
	if a.Job != b.Job {
		t.Errorf("same flags, jobs %q and %q", a.Job, b.Job)
	}
	if a.Job == c.Job {
		t.Errorf("different output, same job %q", a.Job)
	}
}

func TestHelpDocumentsEnvironment(t *testing.T) {
	for _, cmd := range []string{"run", "status", "worker"} {
		var out bytes.Buffer
		code := Main(context.Background(), []string{cmd, "--help"}, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		if code != 0 {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
		for _, v := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "ZERONER_TASK_QUEUE", "ZERONER_LOG_LEVEL"} {
			if !strings.Contains(out.String(), v) {
				t.Errorf("%s --help does not mention %s", cmd, v)
			}
		}
	}
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"frobnicate"}, Env{Stdout: &out, Stderr: &out}); code != 2 || !strings.Contains(out.String(), "unknown command") {
		t.Errorf("unknown command: exit %d, output %q", code, out.String())
	}
}

func TestExpandDates(t *testing.T) {
	tests := []struct {
		name     string
		prefixes []string
		from, to string
		want     []string
		wantErr  string
	}{
		{name: "no dates", prefixes: []string{"gs://b/a/", "gs://b/c/"}, want: []string{"gs://b/a/", "gs://b/c/"}},
		{name: "days inclusive", prefixes: []string{"gs://b/news/{date}/"}, from: "2026-02-27", to: "2026-03-01",
			want: []string{"gs://b/news/2026-02-27/", "gs://b/news/2026-02-28/", "gs://b/news/2026-03-01/"}},
		{name: "mixed", prefixes: []string{"gs://b/x/", "gs://b/d={date}/"}, from: "2026-01-01", to: "2026-01-01",
			want: []string{"gs://b/x/", "gs://b/d=2026-01-01/"}},
		{name: "dates without placeholder", prefixes: []string{"gs://b/a/"}, from: "2026-01-01", to: "2026-01-02", wantErr: "need {date}"},
		{name: "placeholder without dates", prefixes: []string{"gs://b/{date}/"}, wantErr: "--from and --to"},
		{name: "backwards", prefixes: []string{"gs://b/{date}/"}, from: "2026-01-02", to: "2026-01-01", wantErr: "before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expandDates(tt.prefixes, tt.from, tt.to)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("expandDates: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("expandDates = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// wantError checks err against want, a part of the error a test case
// expects ("" for none), and says whether the case ends there.
func wantError(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one with %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}
