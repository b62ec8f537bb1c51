package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
)

func TestEvalDatasets(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string // names
		wantErr string
	}{
		{name: "no data", args: nil, wantErr: "--data is required"},
		{name: "schema missing", args: []string{"--data", "a.txt", "--data", "b.txt", "--schema", "a.yaml"}, wantErr: "one --schema per --data"},
		{name: "names missing", args: []string{"--data", "a.txt", "--data", "b.txt", "--schema", "a.yaml", "--schema", "b.yaml", "--name", "a"},
			wantErr: "one --name per --data"},
		{name: "bad name", args: []string{"--data", "a.txt", "--schema", "a.yaml", "--name", "a/b"}, wantErr: "use letters"},
		{name: "same default name", args: []string{"--data", "x/test.txt", "--data", "x/test.bio", "--schema", "a", "--schema", "b"},
			wantErr: `two data sets named "x-test"`},
		{name: "names from files", args: []string{
			"--data", "data/crossner/ai/test.txt", "--schema", "schemas/crossner-ai.yaml",
			"--data", "data/mit/restaurant/restauranttest.txt", "--schema", "schemas/mit-restaurant.yaml"},
			want: []string{"ai-test", "restauranttest"}},
		{name: "names given, in any order", args: []string{"--name", "crossner-ai", "--data", "a.txt", "--name", "mit", "--schema", "a.yaml",
			"--data", "b.txt", "--schema", "b.yaml"}, want: []string{"crossner-ai", "mit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fs := newEvalFlags(t)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			sets, err := f.datasets()
			if wantError(t, err, tt.wantErr) {
				return
			}
			var got []string
			for _, s := range sets {
				got = append(got, s.name)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("names %v, want %v", got, tt.want)
			}
		})
	}
}

func newEvalFlags(t *testing.T) (*evalFlags, *flag.FlagSet) {
	t.Helper()
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f evalFlags
	f.register(fs, Env{Getenv: func(string) string { return "" }})
	return &f, fs
}

// eval takes the run flags, but sets the corpus, output, job and reader
// itself: a BIO file, one sentence per document.
func TestEvalConfig(t *testing.T) {
	f, fs := newEvalFlags(t)
	for _, name := range []string{"dev", "dev-db", "backend", "llm-base-url", "bio-order", "shard-size", "address"} {
		if fs.Lookup(name) == nil {
			t.Errorf("eval lacks the run flag --%s", name)
		}
	}
	for _, name := range []string{"corpus", "job", "format", "sentences-per-doc", "detach"} {
		if fs.Lookup(name) != nil {
			t.Errorf("eval has the run flag --%s, which it sets itself", name)
		}
	}
	dir := t.TempDir()
	data, schema := filepath.Join(dir, "d", "test.txt"), filepath.Join(dir, "s.yaml")
	writeFile(t, data, "EU\tB-organisation\n")
	writeFile(t, schema, validSchema)
	args := []string{"--data", data, "--schema", schema, "--name", "crossner-ai", "--out", "evals/x",
		"--tag", "t1", "--shard-size", "50", "--backend", "rules", "--bio-order", "token-tag"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	sets, err := f.datasets()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(sets[0])
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Job != "crossner-ai-t1" || cfg.ShardSize != 50 || cfg.Backend.Name != "rules" {
		t.Errorf("config %+v: want job crossner-ai-t1, shard size 50, rules", cfg)
	}
	want := activities.Reader{Format: "bio", IDField: "id", TextField: "text", BIOOrder: "token-tag", SentencesPerDoc: 1}
	if cfg.Reader != want {
		t.Errorf("reader %+v, want %+v", cfg.Reader, want)
	}
	if !strings.HasPrefix(cfg.Corpus, "file:///") || !strings.HasSuffix(cfg.Corpus, "/d/test.txt") ||
		!strings.HasSuffix(cfg.Output, "/evals/x") {
		t.Errorf("corpus %s, output %s", cfg.Corpus, cfg.Output)
	}
}

func TestEvalHelp(t *testing.T) {
	var out bytes.Buffer
	code := Main(context.Background(), []string{"eval", "--help"}, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Errorf("eval --help: exit %d", code)
	}
	for _, want := range []string{"-data", "-schema", "-dev", "TEMPORAL_ADDRESS", "report.html"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("eval --help does not mention %s", want)
		}
	}
}
