package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/cli"
	"github.com/zeroner/zeroner/internal/devserver"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
)

// Two tiny BIO data sets, one in each column order.
const (
	politicsBIO = "Barack\tB-politician\nObama\tI-politician\nmet\tO\nAngela\tB-politician\nMerkel\tI-politician\nin\tO\nBerlin\tB-location\n.\tO\n\n" +
		"The\tO\nDemocratic\tB-politicalparty\nParty\tI-politicalparty\nof\tI-politicalparty\nJapan\tI-politicalparty\nlost\tO\n.\tO\n\n" +
		"Nothing\tO\nhappened\tO\n.\tO\n\n" +
		"He\tO\nread\tO\nthe\tO\nFinancial\tB-misc\nTimes\tI-misc\nin\tO\nZürich\tB-location\n.\tO\n"
	restaurantBIO = "O\tany\nB-Cuisine\titalian\nO\tplaces\nB-Location\tnearby\n\n" +
		"O\tis\nB-Restaurant_Name\tolive\nI-Restaurant_Name\tgarden\nB-Hours\topen\nI-Hours\tnow\n\n"
)

// starter eval --dev on the embedded server: the real job on each data
// set, then every output, with scores equal to the rules backend's run in
// process on the same sentences.
func TestEvalCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	data := map[string]string{"politics.txt": politicsBIO, "restaurant.txt": restaurantBIO}
	for name, text := range data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	schemas := map[string]string{
		"crossner-politics": filepath.Join("..", "schemas", "crossner-politics.yaml"),
		"mit-restaurant":    filepath.Join("..", "schemas", "mit-restaurant.yaml"),
	}
	out := filepath.Join(dir, "evals")
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, []string{"eval", "--dev", "--dev-db", filepath.Join(dir, "temporal.db"), "--out", out,
		"--data", filepath.Join(dir, "politics.txt"), "--schema", schemas["crossner-politics"], "--name", "crossner-politics",
		"--data", filepath.Join(dir, "restaurant.txt"), "--schema", schemas["mit-restaurant"], "--name", "mit-restaurant",
		"--shard-size", "2", "--commit", "test"},
		cli.Env{Stdout: &stdout, Stderr: &stderr, DevServer: devserver.StartFile})
	if code != 0 {
		t.Fatalf("eval: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"crossner-politics", "mit-restaurant", "average", "report: file://"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, f := range []string{"results.json", "report.md", "report.html",
		"crossner-politics/predictions.bio", "crossner-politics/predictions.jsonl", "crossner-politics/results.json",
		"mit-restaurant/predictions.bio", "mit-restaurant/predictions.jsonl", "mit-restaurant/results.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("output %s: %v", f, err)
		}
	}
	var rep eval.Report
	if err := json.Unmarshal(readFile(t, filepath.Join(out, "results.json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Backend != "rules" || rep.Commit != "test" || len(rep.Datasets) != 2 || len(rep.Averages) != 1 {
		t.Fatalf("results.json: backend %q, commit %q, %d data sets, %d averages", rep.Backend, rep.Commit, len(rep.Datasets), len(rep.Averages))
	}

	// The same sentences through the backend in process score the same.
	for i, name := range []string{"crossner-politics", "mit-restaurant"} {
		file := map[string]string{"crossner-politics": "politics.txt", "mit-restaurant": "restaurant.txt"}[name]
		want := scoreInProcess(t, name, filepath.Join(dir, file), schemas[name])
		got := rep.Datasets[i]
		if got.Docs != want.Docs || got.Strict != want.Strict || got.Span != want.Span || got.SAMNER != want.SAMNER {
			t.Errorf("%s: job scores %+v %+v, in process %+v %+v", name, got.Strict, got.Span, want.Strict, want.Span)
		}
		if got.Strict.Gold != map[string]int{"crossner-politics": 6, "mit-restaurant": 4}[name] {
			t.Errorf("%s: %d gold mentions", name, got.Strict.Gold)
		}
	}
}

// scoreInProcess reads a BIO file as the job does and scores the rules
// backend's mentions on it.
func scoreInProcess(t *testing.T, name, path, schemaPath string) eval.Results {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	uri := "file://" + abs
	var docs []eval.Doc
	var in []pipeline.Document
	err = corpus.ReadBIO(bytes.NewReader(readFile(t, path)), uri, corpus.Options{}, func(d corpus.Doc) error {
		gold := make([]eval.Span, len(d.Gold))
		for i, g := range d.Gold {
			gold[i] = eval.Span{Start: g.Start, End: g.End, Label: g.Label}
		}
		docs = append(docs, eval.Doc{ID: d.ID, Text: d.Text, Gold: gold})
		in = append(in, pipeline.Document{ID: d.ID, Text: d.Text, Source: uri})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, d := range docs {
		index[d.ID] = i
	}
	for _, m := range expected(t, "", readFile(t, schemaPath), in) {
		i := index[m.DocID]
		docs[i].Pred = append(docs[i].Pred, eval.Span{Start: int(m.Start), End: int(m.End), Label: m.Label})
	}
	r, err := eval.Score(name, docs, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// An eval whose job could not annotate some sentences writes no score and
// exits 3, naming the cause; with --allow-failures it scores them as
// unannotated and every table says how many failed.
func TestEvalRefusesScoreOverFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded Temporal server")
	}
	_, base := sim(t, llmsim.Options{Seed: 3, Faults: llmsim.Faults{Malformed: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	data := filepath.Join(dir, "politics.txt")
	if err := os.WriteFile(data, []byte(politicsBIO), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "evals")
	args := []string{"eval", "--dev", "--dev-db", filepath.Join(dir, "temporal.db"), "--out", out,
		"--data", data, "--schema", filepath.Join("..", "schemas", "crossner-politics.yaml"), "--name", "crossner-politics",
		"--llm-base-url", base, "--llm-model", "llmsim", "--llm-reasks", "1", "--tag", "t1", "--commit", "test"}
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, DevServer: devserver.StartFile}
	code := cli.Main(ctx, args, env)
	if code != cli.ExitFailures || !strings.Contains(stderr.String(), "4 of 4 sentences were not annotated") ||
		!strings.Contains(stderr.String(), "--allow-failures") {
		t.Fatalf("eval over failed sentences: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), "strict") {
		t.Fatalf("eval printed a score table over failed work:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "results.json")); !os.IsNotExist(err) {
		t.Fatalf("results.json written over failed work: %v", err)
	}

	stdout.Reset()
	stderr.Reset()
	code = cli.Main(ctx, append(args, "--allow-failures"), env)
	if code != cli.ExitFailures || !strings.Contains(stdout.String(), "WARNING: 4 sentences were not annotated") {
		t.Fatalf("eval --allow-failures: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var rep eval.Report
	if err := json.Unmarshal(readFile(t, filepath.Join(out, "results.json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Datasets) != 1 || rep.Datasets[0].Failed != 4 {
		t.Fatalf("results.json: %+v, want 4 failed sentences recorded", rep.Datasets)
	}
}
