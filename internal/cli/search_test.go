package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities/index"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/search"
	"github.com/zeroner/zeroner/internal/wire"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
)

// tinyIndex writes a finished run of a few sentences and builds its index
// (local encoder, a small head) by calling the index activities in order,
// as the workflow does. It returns the output prefix, the run and the index.
func tinyIndex(t *testing.T) (string, activities.Run, string) {
	t.Helper()
	ctx := context.Background()
	out := t.TempDir()
	root, err := blob.Normalize(out)
	if err != nil {
		t.Fatal(err)
	}
	store := blob.NewFile()
	run := activities.Run{ID: "tiny-1", URI: blob.Join(root, "runs", "tiny-1")}
	type m struct{ text, label string }
	sentences := []struct {
		text string
		ms   []m
	}{
		{"The Falcons beat the Rovers in the league match.", []m{{"Falcons", "team"}, {"Rovers", "team"}}},
		{"Ada Lovelace said the report was late.", []m{{"Ada Lovelace", "person"}}},
		{"She moved from Lyon to Porto last year.", []m{{"Lyon", "city"}, {"Porto", "city"}}},
		{"The Harriers lost to the Wanderers in the cup.", []m{{"Harriers", "team"}, {"Wanderers", "team"}}},
		{"Grace Hopper flew to Leeds to watch the Dynamo.", []m{{"Grace Hopper", "person"}, {"Leeds", "city"}, {"Dynamo", "team"}}},
		{"Alan Turing moved to Bremen.", []m{{"Alan Turing", "person"}, {"Bremen", "city"}}},
	}
	var docs []table.Document
	var ms []table.Mention
	for i, s := range sentences {
		id := "s" + string(rune('0'+i))
		docs = append(docs, table.Document{DocID: id, Text: s.text})
		for _, x := range s.ms {
			start := strings.Index(s.text, x.text) // ASCII: bytes are code points
			ms = append(ms, table.Mention{RunID: run.ID, DocID: id, Start: int64(start), End: int64(start + len(x.text)),
				Text: x.text, Label: x.label, Score: 1})
		}
	}
	write := func(uri string, f func(io.Writer) error) {
		if err := store.Create(ctx, uri, f); err != nil {
			t.Fatal(err)
		}
	}
	write(runs.Dir(run).Documents(0), func(w io.Writer) error {
		tw := table.NewDocumentWriter(w)
		if err := tw.Write(docs); err != nil {
			return err
		}
		return tw.Close()
	})
	write(runs.Dir(run).Mentions(0), func(w io.Writer) error {
		tw := table.NewMentionWriter(w)
		if err := tw.Write(ms); err != nil {
			return err
		}
		return tw.Close()
	})
	schema := "name: tiny\nlabels:\n  - name: team\n    description: A sports team.\n  - name: city\n    description: A city.\n  - name: person\n    description: A person.\n"
	write(runs.Dir(run).Schema(), blob.WriteBytes([]byte(schema)))
	write(runs.Dir(run).Summary(), blob.WriteBytes([]byte("{}")))

	a := index.New(wire.New(store, nil, wire.Options{}))
	dir := runs.DefaultIndexURI(run)
	cfg := activities.IndexConfig{Run: run, Index: dir, Encoder: activities.EncoderSpec{Kind: "local", Dim: 128},
		Head: activities.HeadSpec{Hidden: 32, Out: 32, Seed: 3}, Approx: activities.ApproxSpec{Min: -1}, ShardRows: 5}
	p, err := a.PlanIndex(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for shard := range p.Shards {
		if _, err := a.EncodeIndexShard(ctx, activities.IndexShardTask{Index: dir, Shard: shard}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.TrainIndexHead(ctx, dir); err != nil {
		t.Fatal(err)
	}
	for shard := range p.Shards {
		if _, err := a.ProjectIndexShard(ctx, activities.IndexShardTask{Index: dir, Shard: shard}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.FinalizeIndex(ctx, activities.FinalizeIndexInput{Index: dir}); err != nil {
		t.Fatal(err)
	}
	return out, run, dir
}

func runMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &o, Stderr: &e, Getenv: func(string) string { return "" }})
	return o.String(), e.String(), code
}

func TestSearchCommand(t *testing.T) {
	out, run, index := tinyIndex(t)

	// Flags after the description, as users type them.
	stdout, stderr, code := runMain(t, "search", "A sports team.", "--index", index, "-k", "2", "--color", "never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"A sports team.": 2 documents`) || !strings.Contains(stdout, "  1. ") || !strings.Contains(stdout, "  2. ") {
		t.Fatalf("stdout:\n%s", stdout)
	}
	// The mentions found are highlighted, and only team mentions rank.
	if !strings.Contains(stdout, "[[") || strings.Contains(stdout, "\x1b[1m") {
		t.Errorf("want [[...]] highlights and no ANSI off a terminal:\n%s", stdout)
	}
	if strings.Contains(stdout, "  3. ") {
		t.Errorf("-k 2 printed a third document:\n%s", stdout)
	}

	// JSON, one object per description, the run found by id.
	stdout, stderr, code = runMain(t, "search", "--run", run.ID, "--runs", out, "--json", "-k", "3", "A sports team.", "A city.")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res []search.SearchResult
	dec := json.NewDecoder(strings.NewReader(stdout))
	for dec.More() {
		var r search.SearchResult
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	if len(res) != 2 || res[0].Query != "A sports team." || res[1].Query != "A city." {
		t.Fatalf("results %+v", res)
	}
	for i, want := range []string{"team", "city"} {
		r := res[i]
		if len(r.Docs) != 3 {
			t.Fatalf("%q: %d documents, want 3", r.Query, len(r.Docs))
		}
		if !slices.ContainsFunc(r.Docs[0].Mentions, func(m search.MentionHit) bool { return m.Label == want }) {
			t.Errorf("%q: best document %+v has no %s mention", r.Query, r.Docs[0], want)
		}
	}

	// Exact search is forced the same way; ANSI bold on demand.
	stdout, _, code = runMain(t, "search", "--index", index, "--exact", "--color", "always", "A city.")
	if code != 0 || !strings.Contains(stdout, "\x1b[1m") {
		t.Errorf("--color always: exit %d, no ANSI bold:\n%s", code, stdout)
	}
}

func TestSearchCommandErrors(t *testing.T) {
	_, _, index := tinyIndex(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no description", []string{"--index", index}, "give a description"},
		{"no index", []string{"sports team"}, "--index is required"},
		{"bad k", []string{"--index", index, "-k", "0", "x"}, "-k 0"},
		{"index and run", []string{"--index", index, "--run", "r", "x"}, "not both"},
		{"missing index", []string{"--index", filepath.Join(t.TempDir(), "none"), "x"}, "no index at"},
		{"batch and descriptions", []string{"--index", index, "--batch", "f.txt", "x"}, "not both"},
		{"bad color", []string{"--index", index, "--color", "pink", "x"}, "--color"},
		{"empty description", []string{"--index", index, " "}, "empty description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runMain(t, append([]string{"search"}, tt.args...)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want an error with %q", code, stderr, tt.want)
			}
		})
	}
}

func TestHighlight(t *testing.T) {
	text := "Zürich and Genève beat Lyon."
	ms := []search.MentionHit{{Start: 11, End: 17, Text: "Genève"}, {Start: 0, End: 6, Text: "Zürich"}, {Start: 2, End: 8}}
	tests := []struct {
		name    string
		context int
		bold    bool
		want    string
	}{
		{"whole text, overlaps marked once", 0, false, "[[Zürich]] and [[Genève]] beat Lyon."},
		{"window around the best mention", 4, false, "…and [[Genève]] bea…"},
		{"bold", 0, true, "\x1b[1mZürich\x1b[0m and \x1b[1mGenève\x1b[0m beat Lyon."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := highlight(text, ms, tt.context, tt.bold); got != tt.want {
				t.Errorf("highlight = %q, want %q", got, tt.want)
			}
		})
	}
	if got := highlight("a\nb", nil, 0, false); got != "a b" {
		t.Errorf("line breaks: %q", got)
	}
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantK   int
	}{
		{[]string{"sports team", "-k", "5"}, []string{"sports team"}, 5},
		{[]string{"-k", "3", "a", "b"}, []string{"a", "b"}, 3},
		{[]string{"a", "-k", "4", "b"}, []string{"a", "b"}, 4},
		{[]string{"-k", "2", "--", "-k"}, []string{"-k"}, 2},
		{nil, nil, 10},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		k := fs.Int("k", 10, "")
		pos, err := parseInterleaved(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.wantPos) || *k != tt.wantK {
			t.Errorf("parseInterleaved(%q) = %q, k %d, %v; want %q, k %d", tt.args, pos, *k, err, tt.wantPos, tt.wantK)
		}
	}
}

func TestSearchBatchNeedsTemporal(t *testing.T) {
	_, _, index := tinyIndex(t)
	file := filepath.Join(t.TempDir(), "types.txt")
	if err := os.WriteFile(file, []byte("# none\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runMain(t, "search", "--index", index, "--batch", file); code == 0 || !strings.Contains(stderr, "no descriptions") {
		t.Errorf("empty batch: exit %d, %q", code, stderr)
	}
	if err := os.WriteFile(file, []byte("sports team\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// --dev without a server in this build: the batch is written, the
	// workflow cannot start.
	_, stderr, code := runMain(t, "search", "--index", index, "--batch", file, "--dev")
	if code == 0 || !strings.Contains(stderr, "--dev is not available") {
		t.Errorf("batch --dev without a dev server: exit %d, %q", code, stderr)
	}
	objs, err := blob.NewFile().List(context.Background(), index+"/batches/")
	if err != nil || len(objs) != 1 || !strings.HasSuffix(objs[0].URI, "/queries.txt") {
		t.Errorf("batch folder: %v, %v; want its queries.txt", objs, err)
	}
}

func TestSearchWeakMatch(t *testing.T) {
	_, _, index := tinyIndex(t)

	// --min-score above every score: no documents, the line that says so,
	// and exit 0: finding nothing is an answer.
	stdout, stderr, code := runMain(t, "search", "A sports team.", "--index", index, "--min-score", "1", "--color", "never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"floor 1.00", `"A sports team.": 0 documents`, `no mention fits "A sports team." well (best score 0.`, "below the floor 1.00)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--min-score 1: no %q in\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "  1. ") || strings.Contains(stdout, "nearest documents follow") {
		t.Errorf("--min-score 1 printed documents:\n%s", stdout)
	}

	// The same in JSON: the best score, the floor, weak and no documents.
	stdout, _, code = runMain(t, "search", "--index", index, "--json", "--min-score", "1", "A sports team.")
	var r struct {
		Docs  []json.RawMessage `json:"docs"`
		Best  *float64          `json:"best_score"`
		Floor *float64          `json:"floor"`
		Weak  bool              `json:"weak"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if r.Docs == nil || len(r.Docs) != 0 || r.Best == nil || *r.Best <= 0 || r.Floor == nil || *r.Floor != 1 || !r.Weak {
		t.Errorf("--json --min-score 1: %s; want docs [], a best score, floor 1, weak", stdout)
	}

	// --min-score -1 leaves everything in.
	stdout, _, _ = runMain(t, "search", "--index", index, "-k", "2", "--min-score", "-1", "--color", "never", "A city.")
	if !strings.Contains(stdout, `"A city.": 2 documents`) || strings.Contains(stdout, "no mention fits") {
		t.Errorf("--min-score -1:\n%s", stdout)
	}

	// Without --min-score, the default floor of the local encoder with a
	// head: a description nothing in the index is gets its nearest
	// documents, marked as such.
	stdout, _, code = runMain(t, "search", "--index", index, "-k", "2", "--color", "never", "a recipe for lemon cake")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"floor 0.80", `"a recipe for lemon cake": 2 documents`,
		`no mention fits "a recipe for lemon cake" well (best score 0.`, "below the floor 0.80): the nearest documents follow, not matches (--min-score 0.80 leaves them out)", "  1. "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("default floor: no %q in\n%s", want, stdout)
		}
	}

	for _, bad := range []string{"2", "-1.5", "x", "NaN"} {
		_, stderr, code := runMain(t, "search", "--index", index, "--min-score", bad, "A city.")
		if code == 0 || !strings.Contains(stderr, "min-score") || !strings.Contains(stderr, "want a score from -1 to 1") {
			t.Errorf("--min-score %s: exit %d, %q; want an error", bad, code, stderr)
		}
	}
}

func TestWeakLine(t *testing.T) {
	floor := float32(0.8)
	doc := []search.DocResult{{Rank: 1, DocID: "d", Score: 0.5}}
	tests := []struct {
		name string
		r    search.SearchResult
		want string
	}{
		{"fits", search.SearchResult{Query: "q", Docs: doc, Best: 0.9, Floor: &floor}, ""},
		{"no floor", search.SearchResult{Query: "q", Docs: doc, Best: 0.1}, ""},
		{"weak, nearest kept", search.SearchResult{Query: "q", Docs: doc, Best: 0.5, Floor: &floor, Weak: true},
			`no mention fits "q" well (best score 0.500, below the floor 0.80): the nearest documents follow, not matches (--min-score 0.80 leaves them out)`},
		{"weak, none left", search.SearchResult{Query: "q", Docs: []search.DocResult{}, Best: 0.5, Floor: &floor, Weak: true},
			`no mention fits "q" well (best score 0.500, below the floor 0.80)`},
	}
	for _, tt := range tests {
		if got := weakLine(tt.r); got != tt.want {
			t.Errorf("%s: weakLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}
