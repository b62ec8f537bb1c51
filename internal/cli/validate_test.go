package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/zeroner/zeroner/activities"
)

const validSchema = "name: s\nlabels:\n  - name: city\n    description: A town.\n"

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// inputs makes a corpus folder and a valid schema in a temporary folder.
func inputs(t *testing.T) (dir, corpus, schema string) {
	t.Helper()
	dir = t.TempDir()
	corpus, schema = filepath.Join(dir, "corpus"), filepath.Join(dir, "schema.yaml")
	writeFile(t, filepath.Join(corpus, "a.jsonl"), `{"id": "1", "text": "Paris."}`+"\n")
	writeFile(t, schema, validSchema)
	return dir, corpus, schema
}

// parseRun parses run's command line as run does.
func parseRun(t *testing.T, args ...string) runFlags {
	t.Helper()
	env := Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: func(string) string { return "" }}
	fs := newFlagSet("run", runHelp, env)
	var f runFlags
	f.register(fs, env)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

// wantUsage fails unless err is a usage error (exit 2) on one line with
// want in it.
func wantUsage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one with %q", err, want)
	}
	if exitCode(err) != ExitUsage {
		t.Errorf("%v: exit code %d, want %d", err, exitCode(err), ExitUsage)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error on several lines: %q", err)
	}
}

// Every enum flag is checked before anything starts, with its values in the
// message.
func TestRunEnumFlags(t *testing.T) {
	_, corpus, schema := inputs(t)
	llm := []string{"--llm-base-url", "http://127.0.0.1:1/v1", "--llm-model", "m"}
	tests := []struct {
		name string
		args []string
		want string // "": valid
	}{
		{name: "format", args: []string{"--format", "xml"}, want: `--format "xml": want auto, jsonl, txt, parquet or bio`},
		{name: "format any case", args: []string{"--format", "JSONL"}},
		{name: "format bio", args: []string{"--format", "bio"}},
		{name: "backend", args: []string{"--backend", "llm"}, want: `--backend "llm": want auto, rules or sam`},
		{name: "bio order", args: []string{"--bio-order", "tokentag"}, want: `--bio-order "tokentag": want auto, token-tag or tag-token`},
		{name: "batch", args: append([]string{"--batch", "file"}, llm...), want: `--batch "file": want api or files`},
		{name: "batch without llm", args: []string{"--batch", "filez"}, want: `--batch "filez": want api or files`},
		{name: "batch files", args: append([]string{"--batch", "files"}, llm...)},
		{name: "batch-dir without batch files", args: append([]string{"--batch-dir", "x"}, llm...), want: "--batch-dir is the exchange of --batch files"},
		{name: "structured", args: []string{"--llm-structured", "json"}, want: `--llm-structured "json": want auto, json_schema or json_object`},
		{name: "extractors", args: []string{"--llm-extractors", "anchor,explorr"}, want: `unknown extractor "explorr"; want anchor, explorer or rules`},
		{name: "log level", args: []string{"--log-level", "verbose"}, want: `--log-level "verbose": want debug, info, warn or error`},
		{name: "llm base url", args: []string{"--llm-base-url", "127.0.0.1:8000/v1"}, want: `--llm-base-url "127.0.0.1:8000/v1": want http://`},
		{name: "gcs endpoint", args: []string{"--gcs-endpoint", "localhost:4443"}, want: `--gcs-endpoint "localhost:4443": want http://host:port`},
		{name: "several at once", args: []string{"--format", "xml", "--backend", "llm"}, want: `--format "xml": want auto, jsonl, txt, parquet or bio; --backend "llm"`},
		{name: "negative max tokens", args: []string{"--max-tokens", "-1"}, want: "--max-tokens must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseRun(t, append([]string{"--corpus", corpus, "--schema", schema, "--out", t.TempDir()}, tt.args...)...)
			_, err := f.config()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantUsage(t, err, tt.want)
		})
	}
}

// Every URI flag goes through one function: plain paths become absolute
// file:// URIs, file:// and gs:// URIs are cleaned.
func TestURIFlagsNormalized(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	wd = filepath.ToSlash(wd)
	llm := []string{"--llm-base-url", "http://127.0.0.1:1/v1", "--llm-model", "m", "--batch", "files"}
	tests := []struct {
		name string
		args []string
		get  func(activities.Config) string
		want string
	}{
		{name: "corpus path", args: []string{"--corpus", "c/news"}, get: corpusOf, want: "file://" + wd + "/c/news"},
		{name: "corpus file URI", args: []string{"--corpus", "file:///data/./news/"}, get: corpusOf, want: "file:///data/news/"},
		{name: "corpus gs", args: []string{"--corpus", "gs://b/news/../news/"}, get: corpusOf, want: "gs://b/news/"},
		{name: "schema path", args: []string{"--schema", "s.yaml"}, get: func(c activities.Config) string { return c.Schema }, want: "file://" + wd + "/s.yaml"},
		{name: "schema gs", args: []string{"--schema", "GS://b/s.yaml"}, get: func(c activities.Config) string { return c.Schema }, want: "gs://b/s.yaml"},
		{name: "out path", args: []string{"--out", "o/"}, get: outOf, want: "file://" + wd + "/o/"},
		{name: "out file URI", args: []string{"--out", "file:///tmp/o"}, get: outOf, want: "file:///tmp/o"},
		{name: "batch-dir path", args: append([]string{"--batch-dir", "exchange"}, llm...), get: batchDirOf, want: "file://" + wd + "/exchange"},
		{name: "batch-dir file URI", args: append([]string{"--batch-dir", "file:///x/../ex"}, llm...), get: batchDirOf, want: "file:///ex"},
		{name: "batch-dir gs", args: append([]string{"--batch-dir", "gs://b/ex"}, llm...), get: batchDirOf, want: "gs://b/ex"},
		{name: "batch-dir default", args: append([]string{"--out", "o"}, llm...), get: batchDirOf, want: "file://" + wd + "/o/exchange"},
		{name: "cache under out", args: append([]string{"--out", "o"}, llm[:4]...), get: func(c activities.Config) string { return c.Backend.Cache }, want: "file://" + wd + "/o/cache/llm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseRun(t, withDefaults(tt.args, "--corpus", "c", "--schema", "s.yaml", "--out", "out")...)
			cfg, err := f.settings()
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(cfg); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	bad := []struct{ args []string }{
		{[]string{"--corpus", "s3://b/c"}},
		{[]string{"--schema", "file:/s.yaml"}},
		{[]string{"--out", "gs:/b/o"}},
		{append([]string{"--batch-dir", "s3://b/ex"}, llm...)},
	}
	for _, tt := range bad {
		f := parseRun(t, withDefaults(tt.args, "--corpus", "c", "--schema", "s.yaml", "--out", "out")...)
		_, err := f.settings()
		wantUsage(t, err, tt.args[0]+": ")
	}
}

// withDefaults is args with each flag of defaults (flag, value pairs) that
// args does not give.
func withDefaults(args []string, defaults ...string) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(defaults); i += 2 {
		if !slices.Contains(args, defaults[i]) {
			out = append(out, defaults[i], defaults[i+1])
		}
	}
	return out
}

func corpusOf(c activities.Config) string   { return c.Corpus }
func outOf(c activities.Config) string      { return c.Output }
func batchDirOf(c activities.Config) string { return c.Backend.Batch.Dir }

func TestURIFlag(t *testing.T) {
	wd, _ := os.Getwd()
	for _, tt := range []struct{ name, in, want, wantErr string }{
		{name: "index", in: "out/indexes/r", want: "file://" + filepath.ToSlash(wd) + "/out/indexes/r"},
		{name: "runs", in: "gs://b//out", want: "gs://b/out"},
		{name: "out", in: "", wantErr: "--out is empty"},
		{name: "index", in: "http://h/x", wantErr: `--index: "http://h/x": unsupported scheme "http"; want a local path, file:// or gs://`},
	} {
		got, err := uriFlag(tt.name, tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr && !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("uriFlag(%q, %q) = %v, want %q", tt.name, tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("uriFlag(%q, %q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
}

// An --out that the corpus prefix would list is refused: the next run would
// annotate this run's outputs. A corpus inside the output prefix is fine.
func TestOutInsideCorpusRefused(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	writeFile(t, filepath.Join(corpus, "a.jsonl"), "{}\n")
	llm := []string{"--llm-base-url", "http://127.0.0.1:1/v1", "--llm-model", "m", "--batch", "files"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "out is the corpus", args: []string{"--corpus", corpus, "--out", corpus}, wantErr: "--out " + corpus + " is inside --corpus"},
		{name: "out under the corpus", args: []string{"--corpus", corpus, "--out", filepath.Join(corpus, "out")}, wantErr: "the next run would annotate this run's outputs"},
		{name: "out under a file URI corpus", args: []string{"--corpus", "file://" + filepath.ToSlash(corpus) + "/", "--out", "file://" + filepath.ToSlash(corpus) + "/x/../out"}, wantErr: "is inside --corpus"},
		{name: "out under gs corpus", args: []string{"--corpus", "gs://b/news/", "--out", "gs://b/news/annotations"}, wantErr: "is inside --corpus gs://b/news/"},
		{name: "out under a prefix of names", args: []string{"--corpus", "gs://b/news", "--out", "gs://b/newsout"}, wantErr: "is inside --corpus gs://b/news"},
		{name: "out under the second corpus", args: []string{"--corpus", "gs://b/a/", "--corpus", "gs://b/c/", "--out", "gs://b/c/o"}, wantErr: "is inside --corpus gs://b/c/"},
		{name: "out under a day", args: []string{"--corpus", "gs://b/{date}/", "--from", "2026-01-01", "--to", "2026-01-02", "--out", "gs://b/2026-01-02/o"}, wantErr: "is inside --corpus gs://b/2026-01-02/"},
		{name: "batch-dir under the corpus", args: append([]string{"--corpus", "gs://b/news/", "--out", "gs://b/out", "--batch-dir", "gs://b/news/x"}, llm...), wantErr: "--batch-dir gs://b/news/x is inside --corpus gs://b/news/"},
		{name: "corpus under out", args: []string{"--corpus", "gs://b/out/corpus/", "--out", "gs://b/out"}},
		{name: "sibling", args: []string{"--corpus", corpus, "--out", filepath.Join(dir, "out")}},
		{name: "sibling sharing a prefix", args: []string{"--corpus", "gs://b/news/", "--out", "gs://b/newsletter"}},
		{name: "other bucket", args: []string{"--corpus", "gs://b/", "--out", "gs://c/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseRun(t, append([]string{"--schema", "s.yaml"}, tt.args...)...)
			_, err := f.settings()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantUsage(t, err, tt.wantErr)
		})
	}
}

// The schema is read and parsed, and a local corpus looked for, before any
// workflow starts: locally, through file:// and on Cloud Storage.
func TestRunInputsChecked(t *testing.T) {
	dir, corpus, schema := inputs(t)
	typo := filepath.Join(dir, "typo.yaml")
	writeFile(t, typo, "name: s\nlables:\n  - name: city\n    description: A town.\n")
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "b", Name: "s.yaml"}, Content: []byte(validSchema)})
	gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "b", Name: "typo.json"},
		Content: []byte(`{"name": "s", "labels": [{"name": "city", "descripton": "A town."}]}`)})
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "valid"},
		{name: "schema file URI", args: []string{"--schema", "file://" + filepath.ToSlash(schema)}},
		{name: "corpus prefix of names", args: []string{"--corpus", filepath.Join(corpus, "a.")}},
		{name: "missing schema", args: []string{"--schema", filepath.Join(dir, "nope.yaml")}, wantErr: "--schema " + filepath.Join(dir, "nope.yaml") + ": no such file"},
		{name: "schema is a folder", args: []string{"--schema", dir}, wantErr: "a folder, not a schema file"},
		{name: "unknown field", args: []string{"--schema", typo}, wantErr: "--schema " + typo + `: line 2: unknown field "lables" in the schema (it has name, fallback, labels, examples)`},
		{name: "gs schema", args: []string{"--schema", "gs://b/s.yaml", "--gcs-endpoint", gcs.URL()}},
		{name: "gs schema missing", args: []string{"--schema", "gs://b/nope.yaml", "--gcs-endpoint", gcs.URL()}, wantErr: "--schema gs://b/nope.yaml: no such object"},
		{name: "gs schema unknown field", args: []string{"--schema", "gs://b/typo.json", "--gcs-endpoint", gcs.URL()}, wantErr: `unknown field "descripton" in label "city"`},
		{name: "missing corpus", args: []string{"--corpus", filepath.Join(dir, "corpsu")}, wantErr: "--corpus " + filepath.Join(dir, "corpsu") + ": no such file or folder"},
		{name: "missing corpus folder", args: []string{"--corpus", filepath.Join(dir, "nope") + "/"}, wantErr: "no such file or folder"},
		{name: "missing days", args: []string{"--corpus", filepath.Join(dir, "{date}"), "--from", "2026-01-01", "--to", "2026-01-03"},
			wantErr: "nothing there on any day from 2026-01-01 to 2026-01-03"},
		{name: "gs corpus is not listed here", args: []string{"--corpus", "gs://nobucket/x/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseRun(t, withDefaults(tt.args, "--corpus", corpus, "--schema", schema, "--out", filepath.Join(dir, "out"))...)
			_, err := f.config()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantUsage(t, err, tt.wantErr)
		})
	}
}

// Every command that takes --schema fails on a missing or invalid schema at
// once, with exit code 2 and one line, before it dials Temporal (--address
// points nowhere).
func TestSchemaCheckedBeforeDial(t *testing.T) {
	dir, corpus, _ := inputs(t)
	missing := filepath.Join(dir, "nope.yaml")
	typo := filepath.Join(dir, "typo.yaml")
	writeFile(t, typo, "name: s\nlables: []\n")
	data := filepath.Join(dir, "test.txt")
	writeFile(t, data, "EU\tB-organisation\n")
	nowhere := []string{"--address", "127.0.0.1:1", "--out", filepath.Join(dir, "out")}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "run missing", args: []string{"run", "--corpus", corpus, "--schema", missing}, want: "zeroner run: --schema " + missing + ": no such file"},
		{name: "run typo", args: []string{"run", "--corpus", corpus, "--schema", typo}, want: `zeroner run: --schema ` + typo + `: line 2: unknown field "lables"`},
		{name: "run detach", args: []string{"run", "--detach", "--corpus", corpus, "--schema", missing}, want: "no such file"},
		{name: "run missing corpus", args: []string{"run", "--corpus", corpus + "x", "--schema", typo}, want: "zeroner run: --corpus " + corpus + "x: no such file or folder"},
		{name: "run bad format", args: []string{"run", "--corpus", corpus, "--schema", missing, "--format", "xml"}, want: `zeroner run: --format "xml": want auto, jsonl, txt, parquet or bio`},
		{name: "distill", args: []string{"distill", "--corpus", corpus, "--schema", missing}, want: "zeroner distill: --schema " + missing + ": no such file"},
		{name: "eval", args: []string{"eval", "--data", data, "--schema", typo, "--name", "test"}, want: `zeroner eval: data set test: --schema ` + typo + `: line 2: unknown field "lables"`},
		{name: "eval missing data", args: []string{"eval", "--data", data + "x", "--schema", typo, "--name", "test"}, want: "zeroner eval: data set test: --data " + data + "x: no such file or folder"},
		{name: "retrieval-eval", args: []string{"retrieval-eval", "--data", data, "--schema", missing, "--name", "test"}, want: "zeroner retrieval-eval: data set test: --schema " + missing + ": no such file"},
		{name: "schedule create", args: []string{"schedule", "create", "--every", "1h", "--corpus", corpus, "--schema", missing}, want: "zeroner schedule: --schema " + missing + ": no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			began := time.Now()
			var o, e strings.Builder
			code := Main(ctx, append(tt.args, nowhere...), Env{Stdout: &o, Stderr: &e, Getenv: func(string) string { return "" }})
			took := time.Since(began)
			if code != ExitUsage || !strings.Contains(e.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, e.String(), tt.want)
			}
			if n := strings.Count(e.String(), "\n"); n != 1 || o.Len() > 0 {
				t.Errorf("want one line on stderr and nothing on stdout; got stdout %q, stderr %q", o.String(), e.String())
			}
			if took > 2*time.Second {
				t.Errorf("took %s", took)
			}
		})
	}
}

// Flag errors, and the usage errors of other commands, exit 2 with one line.
func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--formt", "xml"}, "zeroner run: flag provided but not defined: -formt (starter run --help lists the flags)"},
		{[]string{"run", "--shard-size", "many"}, `zeroner run: invalid value "many" for flag -shard-size`},
		{[]string{"run", "--corpus", "c", "--schema", "s", "extra"}, "zeroner run: unexpected arguments: extra"},
		{[]string{"status", "--nope"}, "zeroner status: flag provided but not defined: -nope"},
		{[]string{"run"}, "zeroner run: --corpus is required; --schema is required"},
		{[]string{"index", "--encoder", "bert", filepath.Join(dir, "runs", "r")}, `zeroner index: --encoder "bert": want local, embeddings or hidden`},
		{[]string{"index", "--log-level", "loud", filepath.Join(dir, "runs", "r")}, `zeroner index: --log-level "loud": want debug, info, warn or error`},
		{[]string{"index", filepath.Join(dir, "runs", "r")}, "is not a finished run: no run.json"},
		{[]string{"search", "--index", dir, "--color", "blue", "x"}, `zeroner search: --color "blue": want auto, always or never`},
		{[]string{"search", "--index", "s3://b/i", "x"}, `zeroner search: --index: "s3://b/i": unsupported scheme "s3"`},
		{[]string{"schedule", "create", "--corpus", "c", "--schema", "s"}, "zeroner schedule: give --every or --cron"},
		{[]string{"schedule", "frobnicate", "x"}, `unknown schedule subcommand "frobnicate"`},
		{[]string{"batch", "resume"}, "zeroner batch: want: batch resume JOB"},
		{[]string{"review"}, "zeroner review: give the run's folder"},
		{[]string{"distill", "--sample", "2"}, "zeroner distill: --sample 2 must be in (0, 1]"},
		{[]string{"distill", "--sample", "0.2", "--sample-docs", "5000"}, "zeroner distill: give --sample or --sample-docs, not both"},
		{[]string{"distill", "--sample-docs", "-3"}, "zeroner distill: --sample-docs -3 must be positive"},
		{[]string{"distill", "--student", "crf"}, `zeroner distill: --student: unknown student "crf" (want perceptron or map)`},
		{[]string{"export", "--run", "r", "--out", "o", "--format", "xml"}, `zeroner export: --format "xml": want`},
		{[]string{"export", "--run", "r", "--out", "o", "--dev-share", "2"}, "zeroner export: --dev-share 2: want 0 to 1"},
		{[]string{"export", "--run", "r", "--out", "o", "--recall", "--min-score", "0.3"}, "zeroner export: --recall keeps every mention"},
	}
	for _, tt := range tests {
		var o, e strings.Builder
		code := Main(context.Background(), tt.args, Env{Stdout: &o, Stderr: &e, Getenv: func(string) string { return "" }})
		if code != ExitUsage || !strings.Contains(e.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tt.args, code, e.String(), tt.want)
			continue
		}
		if n := strings.Count(e.String(), "\n"); n != 1 {
			t.Errorf("%v: %d lines on stderr, want 1:\n%s", tt.args, n, e.String())
		}
	}
	// --help still lists the flags.
	var o, e strings.Builder
	if code := Main(context.Background(), []string{"run", "--help"}, Env{Stdout: &o, Stderr: &e, Getenv: func(string) string { return "" }}); code != 0 ||
		!strings.Contains(e.String(), "-format") {
		t.Errorf("run --help: exit %d, %q", code, e.String())
	}
}

func TestLists(t *testing.T) {
	for _, tt := range []struct {
		prefix, dir string
		want        bool
	}{
		{"gs://b/news/", "gs://b/news", true},
		{"gs://b/news/", "gs://b/news/", true},
		{"gs://b/news/", "gs://b/news/out", true},
		{"gs://b/news", "gs://b/newsletter", true},
		{"gs://b/news/", "gs://b/newsletter", false},
		{"gs://b/news/a", "gs://b/news", false},
		{"file:///data/c/", "file:///data/out", false},
	} {
		if got := lists(tt.prefix, tt.dir); got != tt.want {
			t.Errorf("lists(%q, %q) = %t, want %t", tt.prefix, tt.dir, got, tt.want)
		}
	}
	if err := usageError(nil, errors.New("a\nb"), errors.New("c")); err.Error() != "a; b; c" || exitCode(err) != ExitUsage {
		t.Errorf("usageError = %q, exit %d; want \"a; b; c\", exit 2", err, exitCode(err))
	}
	if usageError(nil) != nil {
		t.Error("usageError(nil) is not nil")
	}
}
