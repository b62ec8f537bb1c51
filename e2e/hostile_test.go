package e2e

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/workflows"
)

// A hostile corpus through the whole job with the rules backend: random
// bytes, invalid UTF-8, NUL bytes, deeply nested JSON, wrong field names,
// CRLF and BOM, mixed scripts, document ids that look like paths. The job
// completes, the good documents are annotated with every mention's text
// equal to its code points in the document, and nothing is written outside
// the output prefix.
func TestHostileCorpus(t *testing.T) {
	ctx := context.Background()
	store, root := localStore(t)
	dir := strings.TrimPrefix(root, "file://") // the folder, to walk
	corpus := blob.Join(root, "corpus") + "/"
	rng := rand.New(rand.NewSource(11))
	noise := make([]byte, 256<<10)
	rng.Read(noise)
	good := [][2]string{
		{"../../../escape", "Angela Merkel met Emmanuel Macron in Paris ."},
		{"/etc/passwd", "The Labour Party won in Wales and Scotland ."},
		{"mixed", "Barack Obama visited 東京 and met 安倍晋三 ; مرحبا محمد said Zoë Ström , 👩\u200d💻 of the Green Party 🎉 ."},
		{"marks", "Cafe\u0301 owner Jose\u0301 Mari\u0301a Aznar of the People's Party spoke in Madrid ."},
		{"nul", "Boris Johnson\u0000 spoke in London\u0000 ."},
		{"emoji", "👍🏽 Joe Biden 🇺🇸 and Kamala Harris 👩🏾\u200d⚖\ufe0f won Pennsylvania ."},
	}
	put(t, store, corpus+"a-good.jsonl", append([]byte("\xEF\xBB\xBF"),
		[]byte(strings.ReplaceAll(string(jsonl(good...)), "\n", "\r\n"))...))
	put(t, store, corpus+"b-hostile.jsonl", []byte(strings.Join([]string{
		`{"id":"w1","Text":"Wrong field Angela Merkel"}`,
		`{"id":"w2","body":"Wrong field Angela Merkel"}`,
		`{"id":"deep","text":"x","meta":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		`{"id":"obj","text":` + strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat("}", 300) + `}`,
		"{\"id\":\"raw-nul\",\"text\":\"a\x00b\"}",
		"{\"id\":\"bad-utf8\",\"text\":\"Caf\xe9 Paris\"}",
		`{"id":"ok","text":"Olaf Scholz spoke in Berlin ."}`,
	}, "\n")))
	put(t, store, corpus+"c-noise.jsonl", noise)
	put(t, store, corpus+"d-noise.txt", noise)
	put(t, store, corpus+"e-noise.parquet", noise)
	put(t, store, corpus+"f-noise.jsonl.gz", noise)
	schema := blob.Join(root, "politics.yaml")
	put(t, store, schema, schemaFile(t))
	out := blob.Join(root, "out")

	h := newHarness(t, store, nil)
	sum := h.run(t, workflows.CorpusState{Config: activities.Config{
		Job: "hostile", Corpus: corpus, Schema: schema, Output: out,
		Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 3, Window: 2,
	}})
	if sum.Docs < int64(len(good))+1 || sum.Rejects < 10 {
		t.Errorf("summary %+v: want at least the %d good documents and at least 10 rejects", sum, len(good)+1)
	}

	// The documents as the job stored them: offsets are checked against
	// these, so the check holds whatever the reader did to the text.
	texts := map[string][]rune{}
	objs, err := store.List(ctx, sum.Outputs.Documents)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.URI, ".parquet") {
			continue
		}
		r, err := store.OpenAt(ctx, o.URI)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := table.ReadDocuments(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s: %v", o.URI, err)
		}
		for _, d := range docs {
			texts[d.DocID] = []rune(d.Text)
		}
	}
	for _, d := range append(good, [2]string{"ok", "Olaf Scholz spoke in Berlin ."}) {
		if string(texts[d[0]]) != d[1] {
			t.Errorf("document %q stored as %q, want %q", d[0], string(texts[d[0]]), d[1])
		}
	}
	for _, id := range []string{"w1", "w2", "deep", "obj", "raw-nul", "bad-utf8"} {
		if _, ok := texts[id]; ok {
			t.Errorf("hostile line %q was annotated, want it rejected", id)
		}
	}

	ms := mentions(t, store, sum.Outputs.Mentions)
	withMentions := map[string]int{}
	for _, m := range ms {
		rs, ok := texts[m.DocID]
		if !ok {
			t.Fatalf("mention %+v of an unknown document", m)
		}
		if m.Start < 0 || m.End <= m.Start || m.End > int64(len(rs)) {
			t.Fatalf("mention %+v out of the %d code points of %q", m, len(rs), m.DocID)
		}
		if got := string(rs[m.Start:m.End]); got != m.Text {
			t.Errorf("mention %q at [%d,%d) of %q is %q in the text", m.Text, m.Start, m.End, m.DocID, got)
		}
		withMentions[m.DocID]++
	}
	for _, d := range good {
		if withMentions[d[0]] == 0 {
			t.Errorf("document %q has no mentions", d[0])
		}
	}

	// Nothing outside <out> but the inputs: document ids never name files.
	outDir := filepath.Join(dir, "out") + string(filepath.Separator)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasPrefix(p, outDir) && !strings.HasPrefix(p, filepath.Join(dir, "corpus")) && p != filepath.Join(dir, "politics.yaml") {
			t.Errorf("file written outside the output prefix: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "..", "escape")); err == nil {
		t.Error("a document id climbed out of the output prefix")
	}
}
