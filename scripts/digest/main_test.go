package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testRules are rules like scripts/samebytes.sh's.
func testRules() Rules {
	return Rules{
		Drop:   keySet("timings,seconds,started,finished,created"),
		DropIn: []FileKeys{{Glob: "responses.jsonl", Keys: keySet("id")}, {Glob: "jobs/*.json", Keys: keySet("last")}},
		Masks:  []FileMask{{Glob: "report.md", Re: regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d UTC`)}},
	}
}

func TestFileDigest(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // base name: it selects the rules
		a, b string
		same bool
	}{
		{
			name: "a timing field is dropped",
			file: "run.json",
			a:    `{"run_id": "r", "mentions": 3722, "seconds": 1.058, "timings": {"started": "2026-01-01T10:00:00Z"}}`,
			b:    `{"run_id": "r", "mentions": 3722, "seconds": 2.5, "timings": {"started": "2026-01-02T11:30:00Z"}}`,
			same: true,
		},
		{
			name: "a nested timestamp is dropped",
			file: "job.json",
			a:    `{"runs": [{"id": "r", "finished": "2026-01-01T10:00:00Z"}]}`,
			b:    `{"runs": [{"id": "r", "finished": "2027-05-05T00:00:00Z"}]}`,
			same: true,
		},
		{
			name: "a content change changes the digest",
			file: "run.json",
			a:    `{"run_id": "r", "mentions": 3722, "seconds": 1.058}`,
			b:    `{"run_id": "r", "mentions": 3723, "seconds": 1.058}`,
		},
		{
			name: "a label count change changes the digest",
			file: "run.json",
			a:    `{"mentions_per_label": {"country": 173, "misc": 229}, "seconds": 1}`,
			b:    `{"mentions_per_label": {"country": 174, "misc": 229}, "seconds": 2}`,
		},
		{
			name: "a dropped key that disappears changes the digest",
			file: "run.json",
			a:    `{"mentions": 1, "seconds": 1.058}`,
			b:    `{"mentions": 1}`,
		},
		{
			name: "the order of members counts",
			file: "run.json",
			a:    `{"documents": 1, "mentions": 2}`,
			b:    `{"mentions": 2, "documents": 1}`,
		},
		{
			name: "white space counts",
			file: "run.json",
			a:    "{\"mentions\": 2}\n",
			b:    "{\"mentions\":2}\n",
		},
		{
			name: "a key like a dropped one is kept",
			file: "config.json",
			a:    `{"timeout_seconds": 120}`,
			b:    `{"timeout_seconds": 60}`,
		},
		{
			name: "JSON lines: a timestamp in each line is dropped",
			file: "results.jsonl",
			a:    "{\"query\": \"a\", \"created\": 1}\n{\"query\": \"b\", \"created\": 2}\n",
			b:    "{\"query\": \"a\", \"created\": 7}\n{\"query\": \"b\", \"created\": 8}\n",
			same: true,
		},
		{
			name: "JSON lines: a changed line changes the digest",
			file: "results.jsonl",
			a:    "{\"query\": \"a\", \"score\": 0.5}\n",
			b:    "{\"query\": \"a\", \"score\": 0.6}\n",
		},
		{
			name: "a key dropped in one file only",
			file: "responses.jsonl",
			a:    `{"id": "batch_req_1", "custom_id": "c"}`,
			b:    `{"id": "batch_req_2", "custom_id": "c"}`,
			same: true,
		},
		{
			name: "that key is kept in other files",
			file: "train.jsonl",
			a:    `{"id": "doc-1", "text": "t"}`,
			b:    `{"id": "doc-2", "text": "t"}`,
		},
		{
			name: "a masked date",
			file: "report.md",
			a:    "Backend `rules`, 2026-12-04 17:43 UTC.\n| x | 52.4 |\n",
			b:    "Backend `rules`, 2026-12-05 09:01 UTC.\n| x | 52.4 |\n",
			same: true,
		},
		{
			name: "a change beside a masked date",
			file: "report.md",
			a:    "Backend `rules`, 2026-12-04 17:43 UTC.\n| x | 52.4 |\n",
			b:    "Backend `rules`, 2026-12-04 17:43 UTC.\n| x | 52.5 |\n",
		},
		{
			name: "other files are hashed as they are",
			file: "part-00000.parquet",
			a:    `PAR1 {"seconds": 1} PAR1`,
			b:    `PAR1 {"seconds": 2} PAR1`,
		},
		{
			name: "JSON that does not parse is hashed as it is",
			file: "broken.json",
			a:    `{"seconds": 1`,
			b:    `{"seconds": 2`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a := digestOf(t, filepath.Join(dir, "a"), tc.file, tc.a)
			b := digestOf(t, filepath.Join(dir, "b"), tc.file, tc.b)
			if (a == b) != tc.same {
				t.Errorf("digests equal: %v, want %v\n%s\n%s", a == b, tc.same, tc.a, tc.b)
			}
		})
	}
}

func TestDropInMatchesATail(t *testing.T) {
	a := `{"checks": {"count": 1, "last": "2026-01-01T10:00:00Z"}}`
	b := `{"checks": {"count": 1, "last": "2026-01-02T10:00:00Z"}}`
	for _, tc := range []struct {
		rel  string
		same bool
	}{
		{"jobs/politics.json", true},
		{"eval/jobs/politics.json", true},
		{"runs/r/documents/_objects.json", false},
		{"jobs/sub/politics.json", false},
	} {
		dir := t.TempDir()
		sa := digestOf(t, filepath.Join(dir, "a"), tc.rel, a)
		sb := digestOf(t, filepath.Join(dir, "b"), tc.rel, b)
		if (sa == sb) != tc.same {
			t.Errorf("%s: digests equal: %v, want %v", tc.rel, sa == sb, tc.same)
		}
	}
}

func digestOf(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := File(p, name, testRules())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestDropKeysKeepsTheRest(t *testing.T) {
	in := "{\n  \"a\": [1, {\"seconds\": {\"x\": \"y\"}}],\n  \"seconds\": 3.5,\n  \"b\": \"seconds\"\n}\n"
	want := "{\n  \"a\": [1, {\"seconds\": \"<dropped>\"}],\n  \"seconds\": \"<dropped>\",\n  \"b\": \"seconds\"\n}\n"
	if got := string(dropKeys([]byte(in), keySet("seconds"), nil)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDirSortsByPath(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b.txt", "a/x.txt", "a-b.txt", "a/c/d.json"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lines, err := Dir(dir, testRules())
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, l := range lines {
		paths = append(paths, l.Path)
		if len(l.Sum) != 64 || !strings.HasSuffix(l.String(), "  "+l.Path) {
			t.Errorf("line %q", l)
		}
	}
	if got, want := strings.Join(paths, " "), "a-b.txt a/c/d.json a/x.txt b.txt"; got != want {
		t.Errorf("paths %s, want %s", got, want)
	}
}
