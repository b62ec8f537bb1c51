package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities/runs"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline/silver"
	"github.com/zeroner/zeroner/pipeline/text"
)

// testRun is a finished run's folder, written with io/table's writers.
type testRun struct {
	dir    string
	shards [][]table.Document
	ms     []table.Mention
	fails  []table.Reject // stage failures, by document
	failed []int          // shards that failed for good
}

const testSchema = `name: test
fallback: misc
labels:
  - name: person
    description: A person.
  - name: organisation
    description: An organisation.
  - name: city
    description: A city.
`

func (r testRun) write(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	uri, err := blob.Normalize(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	store := blob.NewFile()
	run := activities.Run{ID: "test-run", URI: uri}
	put := func(uri string, write func(w *bytes.Buffer) error) {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if err := store.Replace(ctx, uri, blob.WriteBytes(b.Bytes())); err != nil {
			t.Fatal(err)
		}
	}
	docs := 0
	for i, s := range r.shards {
		put(runs.Dir(run).Documents(i), func(b *bytes.Buffer) error { return writeTable(b, table.NewDocumentWriter, s) })
		docs += len(s)
	}
	put(runs.Dir(run).Mentions(0), func(b *bytes.Buffer) error { return writeTable(b, table.NewMentionWriter, r.ms) })
	if len(r.fails) > 0 {
		put(runs.Dir(run).Failures(activities.StageCalibrate, 0), func(b *bytes.Buffer) error { return writeTable(b, table.NewRejectWriter, r.fails) })
	}
	put(runs.Dir(run).Schema(), func(b *bytes.Buffer) error { _, err := b.WriteString(testSchema); return err })
	sum := activities.Summary{RunID: run.ID, Docs: int64(docs), Mentions: int64(len(r.ms)), Shards: len(r.shards)}
	for _, s := range r.failed {
		sum.FailedShards = append(sum.FailedShards, activities.ShardFailure{Shard: s, Reason: "test"})
	}
	put(runs.Dir(run).Summary(), func(b *bytes.Buffer) error { return json.NewEncoder(b).Encode(sum) })
}

func writeTable[T any](b *bytes.Buffer, newW func(w io.Writer) *table.Writer[T], rows []T) error {
	w := newW(b)
	if err := w.Write(rows); err != nil {
		return err
	}
	return w.Close()
}

// place adds a mention of s (its first occurrence at or after from) in doc.
func place(ms []table.Mention, doc table.Document, s, label string, score float64, ext ...string) []table.Mention {
	sp := text.Find(doc.Text, s)[0]
	return append(ms, table.Mention{RunID: "test-run", DocID: doc.DocID, Start: int64(sp.Start), End: int64(sp.End),
		Text: s, Archetype: "person", Label: label, Score: score, Extractors: ext})
}

// newTestRun is a run of 3 shards of 100 documents: shard 2 failed for
// good, documents 5 and 17 have a stage failure, every tenth document has a
// low-score mention, every seventh an organisation only the gazetteer
// found, and "special" a mention inside a token.
func newTestRun(t *testing.T) testRun {
	people := []string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Édouard Lucas"}
	orgs := []string{"IBM", "Bell Labs"}
	cities := []string{"London", "New York"}
	r := testRun{dir: t.TempDir(), failed: []int{2}}
	for s := range 3 {
		var docs []table.Document
		for k := range 100 {
			i := 100*s + k
			p1, p2 := people[i%4], people[(i+1)%4]
			d := table.Document{DocID: fmt.Sprintf("file:///corpus/c.jsonl#L%d", i+1), Source: "file:///corpus/c.jsonl",
				Text: fmt.Sprintf("%s worked at %s in %s. Later, %s met the \"team\", with %s.", p1, orgs[i%2], cities[i%2], p2, p1)}
			docs = append(docs, d)
			if s == 2 {
				continue // no mentions: the shard failed
			}
			r.ms = place(r.ms, d, p1, "person", 0.9, "anchor", "explorer")
			if i%7 == 0 {
				r.ms = place(r.ms, d, orgs[i%2], "organisation", 1, "gazetteer")
			} else {
				r.ms = place(r.ms, d, orgs[i%2], "organisation", 1, "anchor", "gazetteer")
			}
			r.ms = place(r.ms, d, cities[i%2], "city", 0.7, "explorer")
			score := 0.8
			if i%10 == 3 {
				score = 0.3
			}
			r.ms = place(r.ms, d, p2, "person", score, "anchor")
		}
		if s == 0 {
			d := table.Document{DocID: "special", Text: "Obama-era politics in the U.S. were new.\n\nIt rained."}
			docs = append(docs, d)
			r.ms = append(r.ms, table.Mention{RunID: "test-run", DocID: "special", Start: 0, End: 5, Text: "Obama", Label: "person", Score: 1})
			r.ms = place(r.ms, d, "U.S.", "misc", 1, "anchor")
		}
		r.shards = append(r.shards, docs)
	}
	r.fails = []table.Reject{{RunID: "test-run", Object: r.shards[0][5].DocID, Reason: "calibrate: timeout"},
		{RunID: "test-run", Object: r.shards[0][17].DocID, Reason: "calibrate: timeout"}}
	r.write(t)
	return r
}

func runExport(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if code := Main(context.Background(), append([]string{"export"}, args...), Env{Stdout: &out, Stderr: &out}); code != 0 {
		t.Fatalf("export %v: exit %d\n%s", args, code, out.String())
	}
	return out.String()
}

// bioSpans reads a BIO file with io/corpus and returns each sentence's
// spans as "text/label".
func bioSpans(t *testing.T, path string) (spans []string, sentences int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = corpus.ReadBIO(f, path, corpus.Options{BIOOrder: corpus.OrderTokenTag}, func(d corpus.Doc) error {
		sentences++
		rs := []rune(d.Text)
		for _, g := range d.Gold {
			spans = append(spans, string(rs[g.Start:g.End])+"/"+g.Label)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return spans, sentences
}

func TestExportBIORoundTrip(t *testing.T) {
	r := newTestRun(t)
	for _, tt := range []struct {
		name string
		args []string
		keep func(m table.Mention) bool
		docs func(id string) bool
	}{
		{"default", nil,
			func(m table.Mention) bool { return m.Score >= 0.5 },
			func(id string) bool { return id != r.fails[0].Object && id != r.fails[1].Object }},
		{"recall", []string{"--recall"},
			func(table.Mention) bool { return true },
			func(string) bool { return true }},
		{"seed-free, two votes", []string{"--seed-free", "--min-votes", "2", "--min-score", "0"},
			func(m table.Mention) bool {
				return len(m.Extractors) == 2 && !slices.Equal(m.Extractors, []string{"anchor", "gazetteer"})
			},
			func(id string) bool { return id != r.fails[0].Object && id != r.fails[1].Object }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			runExport(t, append([]string{"--run", r.dir, "--format", "bio", "--out", out, "--dev-share", "0.25"}, tt.args...)...)
			// The spans each split should hold, in document order: a
			// mention's tokens joined by spaces, as ReadBIO joins them.
			want := map[bool][]string{}
			sentences := map[bool]int{}
			byDoc := map[string][]table.Mention{}
			for _, m := range r.ms {
				byDoc[m.DocID] = append(byDoc[m.DocID], m)
			}
			for s, docs := range r.shards {
				if s == 2 {
					continue
				}
				for _, d := range docs {
					if !tt.docs(d.DocID) {
						continue
					}
					dev := silver.Dev(d.DocID, 0.25)
					sentences[dev] += len(text.Sentences(d.Text))
					for _, m := range byDoc[d.DocID] {
						if !tt.keep(m) {
							continue
						}
						var toks []string
						for _, tok := range text.Tokenize(m.Text) {
							toks = append(toks, tok.Text)
						}
						s := strings.Join(toks, " ")
						if m.DocID == "special" && m.Start == 0 {
							s = "Obama-era" // snapped to its token
						}
						want[dev] = append(want[dev], s+"/"+m.Label)
					}
				}
			}
			for dev, name := range map[bool]string{false: "train.bio", true: "dev.bio"} {
				got, n := bioSpans(t, filepath.Join(out, name))
				if !reflect.DeepEqual(got, want[dev]) {
					t.Errorf("%s: %d spans, want %d\n got %q\nwant %q", name, len(got), len(want[dev]), head(got), head(want[dev]))
				}
				if n != sentences[dev] {
					t.Errorf("%s: %d sentences, want %d", name, n, sentences[dev])
				}
			}
		})
	}
}

func head(s []string) []string { return s[:min(len(s), 8)] }

func TestExportSplitAndFormats(t *testing.T) {
	r := newTestRun(t)
	out := t.TempDir()
	log := runExport(t, "--run", r.dir, "--format", "all", "--out", out, "--dev-share", "0.2")
	for _, f := range []string{"train.bio", "dev.bio", "train.jsonl", "dev.jsonl", "train.parquet", "dev.parquet",
		"label_map.json", "entities.csv", "cooccurs.csv", "export.json"} {
		if !strings.Contains(log, f) {
			t.Errorf("output does not list %s:\n%s", f, log)
		}
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// The split: every document on one side, about the share in dev, and
	// the same files from a second export.
	ids := map[string]string{}
	for _, split := range []string{"train", "dev"} {
		f, err := os.Open(filepath.Join(out, split+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var d struct {
				ID    string
				Text  string
				Spans []struct {
					Start, End  int
					Label, Text string
				}
			}
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			if prev, ok := ids[d.ID]; ok {
				t.Errorf("document %s in %s and %s", d.ID, prev, split)
			}
			ids[d.ID] = split
			rs := []rune(d.Text)
			for _, s := range d.Spans {
				if string(rs[s.Start:s.End]) != s.Text {
					t.Errorf("%s: span %+v is %q in the text", d.ID, s, string(rs[s.Start:s.End]))
				}
			}
		}
		f.Close()
	}
	// 301 documents, 100 in the failed shard, 2 with failures.
	if len(ids) != 301-100-2 {
		t.Errorf("%d documents exported, want %d", len(ids), 301-100-2)
	}
	dev := 0
	for _, s := range ids {
		if s == "dev" {
			dev++
		}
	}
	if share := float64(dev) / float64(len(ids)); math.Abs(share-0.2) > 0.1 {
		t.Errorf("dev share %.2f, want about 0.2", share)
	}
	again := t.TempDir()
	runExport(t, "--run", r.dir, "--format", "bio,jsonl,parquet", "--out", again, "--dev-share", "0.2")
	for _, f := range []string{"train.bio", "dev.jsonl", "dev.parquet"} {
		a, _ := os.ReadFile(filepath.Join(out, f))
		b, _ := os.ReadFile(filepath.Join(again, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two exports", f)
		}
	}

	// Parquet: the Hugging Face layout, its tags those of the BIO file.
	var labelMap map[string]string
	data, err := os.ReadFile(filepath.Join(out, "label_map.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &labelMap); err != nil {
		t.Fatal(err)
	}
	if labelMap["0"] != "O" || labelMap["1"] != "B-person" || labelMap["2"] != "I-person" || len(labelMap) != 9 {
		t.Errorf("label map %v: want O, then B- and I- of person, organisation, city, misc", labelMap)
	}
	for _, split := range []string{"train", "dev"} {
		rows := readTagged(t, filepath.Join(out, split+".parquet"))
		var bio []string
		for _, row := range rows {
			for i, tok := range row.tokens {
				tag, ok := labelMap[fmt.Sprint(row.tags[i])]
				if !ok {
					t.Fatalf("tag id %d not in the label map", row.tags[i])
				}
				bio = append(bio, tok+"\t"+tag)
			}
			bio = append(bio, "")
			if !strings.Contains(row.id, "@") {
				t.Errorf("sentence id %q: want <doc id>@<n>", row.id)
			}
		}
		want, _ := os.ReadFile(filepath.Join(out, split+".bio"))
		if got := strings.Join(bio, "\n") + "\n"; got != string(want) {
			t.Errorf("%s.parquet and %s.bio differ", split, split)
		}
	}
}

type taggedRow struct {
	id     string
	tokens []string
	tags   []int32
}

// readTagged reads a tokens + ner_tags file as a Hugging Face loader
// would: by column name, checking the Arrow types.
func readTagged(t *testing.T, path string) []taggedRow {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	want := map[string]arrow.Type{"id": arrow.STRING, "tokens": arrow.STRING, "ner_tags": arrow.INT64}
	cols := map[string]int{}
	for i, f := range tbl.Schema().Fields() {
		cols[f.Name] = i
		typ := f.Type
		if l, ok := typ.(*arrow.ListType); ok && f.Name != "id" {
			typ = l.Elem()
		} else if f.Name != "id" {
			t.Errorf("column %s has type %s, want a list", f.Name, f.Type)
		}
		if w, ok := want[f.Name]; ok && typ.ID() != w {
			t.Errorf("column %s has type %s", f.Name, f.Type)
		}
	}
	for name := range want {
		if _, ok := cols[name]; !ok {
			t.Fatalf("no column %s in %v", name, tbl.Schema())
		}
	}
	var out []taggedRow
	ids, toks, tags := tbl.Column(cols["id"]).Data(), tbl.Column(cols["tokens"]).Data(), tbl.Column(cols["ner_tags"]).Data()
	for c := range ids.Chunks() {
		id := ids.Chunk(c).(*array.String)
		tl := toks.Chunk(c).(*array.List)
		gl := tags.Chunk(c).(*array.List)
		tv := tl.ListValues().(*array.String)
		gv := gl.ListValues().(*array.Int64)
		for i := range id.Len() {
			row := taggedRow{id: id.Value(i)}
			a, b := tl.ValueOffsets(i)
			for k := a; k < b; k++ {
				row.tokens = append(row.tokens, tv.Value(int(k)))
			}
			a, b = gl.ValueOffsets(i)
			for k := a; k < b; k++ {
				row.tags = append(row.tags, int32(gv.Value(int(k))))
			}
			if len(row.tags) != len(row.tokens) {
				t.Errorf("%s: %d tokens, %d tags", row.id, len(row.tokens), len(row.tags))
			}
			out = append(out, row)
		}
	}
	return out
}

// hfFeature is a Hugging Face datasets feature as its JSON holds it.
type hfFeature struct {
	Type    string     `json:"_type"`
	Dtype   string     `json:"dtype"`   // Value
	Names   []string   `json:"names"`   // ClassLabel
	Feature *hfFeature `json:"feature"` // Sequence
}

// hfDtypes are the Arrow types of datasets' Value dtypes.
var hfDtypes = map[string]arrow.Type{"string": arrow.STRING, "int32": arrow.INT32, "int64": arrow.INT64}

// check says why f does not describe a column of type t, or "".
func (f hfFeature) check(t arrow.DataType) string {
	switch f.Type {
	case "Value":
		if want, ok := hfDtypes[f.Dtype]; !ok || t.ID() != want {
			return "Value dtype " + f.Dtype
		}
	case "ClassLabel": // int64 in datasets
		if t.ID() != arrow.INT64 {
			return "ClassLabel"
		}
	case "Sequence":
		l, ok := t.(*arrow.ListType)
		if !ok || f.Feature == nil {
			return "Sequence of a non-list or without feature"
		}
		if !l.ElemField().Nullable {
			return "Sequence of non-nullable items"
		}
		return f.Feature.check(l.Elem())
	default:
		return "feature type " + f.Type
	}
	return ""
}

// hfFeatures reads the Hugging Face features of a Parquet file, as
// datasets.Features.from_arrow_schema does from pyarrow's schema, whose
// metadata is the file's key-value metadata, and checks that every column
// has a feature of its type.
func hfFeatures(t *testing.T, path string) map[string]hfFeature {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	v := pf.MetaData().KeyValueMetadata().FindValue(table.HFMetadataKey)
	if v == nil {
		t.Fatalf("%s: no %q metadata", path, table.HFMetadataKey)
	}
	var md struct {
		Info struct {
			Features map[string]hfFeature `json:"features"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(*v), &md); err != nil {
		t.Fatalf("%s: metadata %s: %v", path, *v, err)
	}
	feats := md.Info.Features
	if len(feats) != schema.NumFields() {
		t.Errorf("%s: %d features for %d columns: %s", path, len(feats), schema.NumFields(), *v)
	}
	for _, f := range schema.Fields() {
		feat, ok := feats[f.Name]
		switch {
		case !ok:
			t.Errorf("%s: column %s has no feature: %s", path, f.Name, *v)
		case !f.Nullable: // datasets' features are nullable
			t.Errorf("%s: column %s is not nullable", path, f.Name)
		default:
			if why := feat.check(f.Type); why != "" {
				t.Errorf("%s: column %s (%s) has feature %s", path, f.Name, f.Type, why)
			}
		}
	}
	return feats
}

// TestExportParquetHuggingFaceFeatures checks that datasets.load_dataset
// reads ner_tags as named tags: each Parquet file's features describe
// every column, ner_tags a Sequence of ClassLabel whose names are the tags
// of label_map.json by id, the tags of the BIO file.
func TestExportParquetHuggingFaceFeatures(t *testing.T) {
	r := newTestRun(t)
	out := t.TempDir()
	runExport(t, "--run", r.dir, "--format", "bio,parquet", "--out", out, "--dev-share", "0.3")
	var labelMap map[string]string
	data, err := os.ReadFile(filepath.Join(out, "label_map.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &labelMap); err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(labelMap))
	for i := range want {
		want[i] = labelMap[fmt.Sprint(i)]
	}
	for _, split := range []string{"train", "dev"} {
		feats := hfFeatures(t, filepath.Join(out, split+".parquet"))
		tags := feats["ner_tags"]
		if tags.Type != "Sequence" || tags.Feature == nil || tags.Feature.Type != "ClassLabel" {
			t.Fatalf("%s: ner_tags feature %+v: want a Sequence of ClassLabel", split, tags)
		}
		names := tags.Feature.Names
		if !slices.Equal(names, want) {
			t.Errorf("%s: ClassLabel names %q, want the label map's %q", split, names, want)
		}
		var bio []string
		for _, row := range readTagged(t, filepath.Join(out, split+".parquet")) {
			for i, tok := range row.tokens {
				if id := int(row.tags[i]); id < len(names) {
					bio = append(bio, tok+"\t"+names[id])
				} else {
					t.Fatalf("%s: tag id %d, %d names", row.id, id, len(names))
				}
			}
			bio = append(bio, "")
		}
		if len(bio) < 100 {
			t.Errorf("%s: %d lines", split, len(bio))
		}
		wantBIO, _ := os.ReadFile(filepath.Join(out, split+".bio"))
		if got := strings.Join(bio, "\n") + "\n"; got != string(wantBIO) {
			t.Errorf("%s.parquet's tags named by its features differ from %s.bio", split, split)
		}
	}
}

func TestExportAndReviewFlags(t *testing.T) {
	r := newTestRun(t)
	for cmd, want := range map[string]string{"export": "--recall", "review": "--sample"} {
		var out bytes.Buffer
		if code := Main(context.Background(), []string{cmd, "--help"}, Env{Stdout: &out, Stderr: &out}); code != 0 || !strings.Contains(out.String(), want) {
			t.Errorf("%s --help: exit %d, output lacks %s:\n%s", cmd, code, want, out.String())
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", "x"}, "--run is required"},
		{[]string{"--run", r.dir}, "--out is required"},
		{[]string{"--run", r.dir, "--out", "x", "--format", "csv"}, `--format "csv"`},
		{[]string{"--run", r.dir, "--out", "x", "--dev-share", "1.5"}, "--dev-share"},
		{[]string{"--run", r.dir, "--out", "x", "--recall", "--min-score", "0.2"}, "--recall keeps every mention"},
		{[]string{"--run", t.TempDir(), "--out", "x"}, "no run.json"},
		{[]string{"review"}, "give the run's folder"},
		{[]string{"review", "--sample", "0", r.dir}, "--sample 0"},
	} {
		var out bytes.Buffer
		args := append([]string{"export"}, tt.args...)
		if len(tt.args) > 0 && tt.args[0] == "review" {
			args = tt.args
		}
		code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &out})
		if code == 0 || !strings.Contains(out.String(), tt.want) {
			t.Errorf("%v: exit %d, output %q; want an error with %q", args, code, out.String(), tt.want)
		}
	}
}
