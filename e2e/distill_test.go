package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/corpus"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/student"
	"github.com/zeroner/zeroner/workflows"
)

// Distill annotates one shard in four with the backend (here the rules
// backend, standing in for an LLM), trains each student on them, tags the
// other shards with it, and reports agreement on held-out shards. The
// perceptron must agree with the teacher more than the map; its artefact,
// read back, must tag a shard as the run did.
func TestDistill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	store, root := localStore(t)
	data, _ := blob.Normalize(dataset.Path(t, "crossner", "politics", "dev.txt"))
	put(t, store, blob.Join(root, "s.yaml"), schemaFile(t))
	h := newHarness(t, store, nil)
	agreement := map[string]float64{}
	for _, tt := range []struct {
		student, extractor string
	}{
		{activities.StudentPerceptron, student.Extractor},
		{activities.StudentMap, "sae"},
		{"", "sae"}, // an input from before there was a choice: the map
	} {
		name := tt.student
		if name == "" {
			name = "unnamed"
		}
		t.Run(name, func(t *testing.T) {
			cfg := activities.Config{Job: "distill-" + name, Corpus: data, Schema: blob.Join(root, "s.yaml"), Output: blob.Join(root, "out"),
				Backend: activities.BackendSpec{Name: "rules"}, Reader: activities.Reader{Format: corpus.FormatBIO}, ShardSize: 20, Window: 4}
			wr, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "distill-" + name, TaskQueue: queue},
				workflows.Distill, workflows.DistillInput{Config: cfg, Every: 4, HoldoutEvery: 3, Student: tt.student})
			if err != nil {
				t.Fatal(err)
			}
			var sum workflows.DistillSummary
			if err := wr.Get(ctx, &sum); err != nil {
				t.Fatal(err)
			}
			// 541 sentences in 28 shards (the last of one): one in 4 sampled
			// from a start below 4 (7), the 3rd and 6th of them held out.
			s := activities.Sample{Shards: 28, Every: 4, Start: sum.Start, HoldoutEvery: 3}
			if sum.Docs != 541 || sum.Every != 4 || sum.Start >= 4 || sum.Sampled != 7 || sum.Tagged != 21 {
				t.Fatalf("summary %+v: want 541 documents, 7 sampled shards and 21 tagged", sum)
			}
			var trainDocs, heldDocs int
			for shard := range 28 {
				docs := 20
				if shard == 27 {
					docs = 1
				}
				switch {
				case s.Holdout(shard):
					heldDocs += docs
				case s.Sampled(shard):
					trainDocs += docs
				}
			}
			e := sum.Estimate
			want := activities.Sample{Student: tt.student}.StudentName()
			if e.Student != want || e.Docs != trainDocs || (want == activities.StudentMap) != (e.Entries > 0) || (want == activities.StudentPerceptron) != (e.Weights > 0 && e.Bytes > 0) {
				t.Errorf("estimate %+v: want the %s student trained on the %d documents of the 5 sampled shards not held out", e, want, trainDocs)
			}
			ag := sum.Agreement
			if ag.Docs != heldDocs || ag.StrictF1 <= 0 || ag.StrictF1 > 100 || ag.SpanF1 < ag.StrictF1 {
				t.Errorf("agreement %+v: want %d held-out documents and 0 < strict F1 <= span F1 <= 100", ag, heldDocs)
			}
			if ci := ag.StrictCI; ci == nil || ci.Lo > ag.StrictF1 || ci.Hi < ag.StrictF1 || ci.Hi-ci.Lo <= 0 {
				t.Errorf("agreement's strict interval %+v: want one around %.1f", ci, ag.StrictF1)
			}
			agreement[name] = ag.StrictF1
			run := activities.Run{ID: sum.RunID, URI: blob.Join(cfg.Output, "runs", sum.RunID)}
			var saved activities.Agreement
			if err := (runs.Store{Store: store}).ReadJSON(ctx, runs.Dir(run).Agreement(want), &saved); err != nil || !reflect.DeepEqual(saved, ag) {
				t.Errorf("saved agreement %+v (%v), want %+v", saved, err, ag)
			}
			by := map[string]int{}
			for _, m := range mentions(t, store, sum.Outputs.Mentions) {
				by[fmt.Sprint(m.Extractors)]++
				if !slices.Equal(m.Extractors, []string{"rules"}) && !slices.Equal(m.Extractors, []string{tt.extractor}) {
					t.Fatalf("mention %+v: want it from the rules backend or the %s tagger", m, tt.extractor)
				}
			}
			if by["[rules]"] == 0 || by["["+tt.extractor+"]"] == 0 {
				t.Errorf("mentions by extractor %v: want both the backend's and the student's", by)
			}
			if want == activities.StudentPerceptron {
				tagged := 0
				for s.Sampled(tagged) {
					tagged++
				}
				sameTags(ctx, t, store, run, tagged)
			}
			t.Logf("estimate %+v, agreement %+v (strict interval %+v), mentions by extractor %v", e, ag, *ag.StrictCI, by)
		})
	}
	if agreement["perceptron"] <= agreement["map"] {
		t.Errorf("strict F1 with the teacher: perceptron %.1f, map %.1f; want the perceptron ahead", agreement["perceptron"], agreement["map"])
	}
}

// --sample-docs: at least 100 of the 541 documents, in shards of 20: 6
// shards, one in 5, 2 of them held out.
func TestDistillSampleDocs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, root := localStore(t)
	data, _ := blob.Normalize(dataset.Path(t, "crossner", "politics", "dev.txt"))
	put(t, store, blob.Join(root, "s.yaml"), schemaFile(t))
	h := newHarness(t, store, nil)
	cfg := activities.Config{Job: "distill-docs", Corpus: data, Schema: blob.Join(root, "s.yaml"), Output: blob.Join(root, "out"),
		Backend: activities.BackendSpec{Name: "rules"}, Reader: activities.Reader{Format: corpus.FormatBIO}, ShardSize: 20, Window: 4}
	wr, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "distill-docs", TaskQueue: queue}, workflows.Distill,
		workflows.DistillInput{Config: cfg, Every: 4, SampleDocs: 100, HoldoutEvery: 3, Student: activities.StudentPerceptron})
	if err != nil {
		t.Fatal(err)
	}
	var sum workflows.DistillSummary
	if err := wr.Get(ctx, &sum); err != nil {
		t.Fatal(err)
	}
	// The start comes from the run id: from shard 2, the sixth sampled
	// shard is the last, of 1 document (541 = 27 x 20 + 1).
	size := func(shard int) int { return min(20, 541-20*shard) }
	held := size(sum.Start+10) + size(sum.Start+25) // the third and sixth sampled shards
	if sum.Every != 5 || sum.Start > 2 || sum.Sampled != 6 || sum.Tagged != 22 || sum.Estimate.Docs != 80 || sum.Agreement.Docs != held {
		t.Errorf("summary %+v, estimate %+v, agreement %+v: want one shard in 5 from a start of 2 at most, 6 sampled, 22 tagged, 80 documents to train on and %d held out",
			sum.Summary, sum.Estimate, sum.Agreement, held)
	}
}

// sameTags reads a run's student artefact back (Unmarshal) and checks that
// it tags a shard the run tagged exactly as the run did.
func sameTags(ctx context.Context, t *testing.T, store blob.Store, run activities.Run, shard int) {
	t.Helper()
	s := runs.Store{Store: store}
	data, err := blob.ReadAll(ctx, store, runs.Dir(run).StudentModel())
	if err != nil {
		t.Fatal(err)
	}
	m, err := student.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Documents(ctx, runs.Dir(run).Documents(shard))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pipeline.Annotate(ctx, student.NewBackend(m, nil), runs.ToDocuments(rows))
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Mentions(ctx, runs.Dir(run).Stage(activities.StageCalibrate, shard))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Mentions) != len(want) || len(want) == 0 {
		t.Fatalf("shard %d: the artefact tags %d mentions, the run %d", shard, len(got.Mentions), len(want))
	}
	for i, g := range got.Mentions {
		w := want[i]
		if g.DocID != w.DocID || g.Start != int(w.Start) || g.End != int(w.End) || g.Label != w.Label || g.Score != w.Score {
			t.Fatalf("shard %d mention %d: the artefact tags %+v, the run %+v", shard, i, g, w)
		}
	}
}

// kill -9 of `starter distill --dev` once the student is trained, and once
// while the teacher annotates the sample, then the same command again: the
// job completes with the same mentions table as an uninterrupted run, and
// the same student artefact and agreement, byte for byte.
func TestKillDistillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ref := t.TempDir()
	if out, err := starter(ctx, ref, distillArgs(t)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted distill: %v\n%s", err, out)
	}
	for _, point := range []string{"sample", "student"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			var log bytes.Buffer
			cmd := starter(ctx, dir, distillArgs(t)...)
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killAt(ctx, t, dir, cmd, &log, point)
			if out, err := starter(ctx, dir, distillArgs(t)...).CombinedOutput(); err != nil {
				t.Fatalf("resumed distill: %v\n%s", err, out)
			}
			diffMentions(t, runMentions(t, dir), runMentions(t, ref))
			for _, f := range []string{"student/model.bin", "student/agreement.json"} {
				if got, want := runFile(t, dir, f), runFile(t, ref, f); !bytes.Equal(got, want) {
					t.Errorf("%s differs from the uninterrupted run's (%d and %d bytes)", f, len(got), len(want))
				}
			}
		})
	}
}

// distillArgs are the starter's arguments for the kill test's distill job:
// the sample corpus's 271 documents in 55 shards of 5, 14 sampled, 3 of
// them held out.
func distillArgs(t *testing.T) []string {
	t.Helper()
	args := jobArgs(t, "--dev", "--sample", "0.25")
	args[0] = "distill"
	return args
}

// killAt kill -9s cmd at a point of the distill job under dir: "sample"
// once a few sampled shards are annotated, "student" once the student's
// artefact is written. It fails if the job had finished first.
func killAt(ctx context.Context, t *testing.T, dir string, cmd *exec.Cmd, log *bytes.Buffer, point string) {
	t.Helper()
	ready := func() bool {
		if point == "student" {
			m, _ := filepath.Glob(filepath.Join(dir, "out", "runs", "*", "student", "model.bin"))
			return len(m) > 0
		}
		done, _ := filepath.Glob(filepath.Join(dir, "out", "runs", "*", "stages", "calibrate", "shard-*.parquet"))
		return len(done) >= 3
	}
	for !ready() {
		if ctx.Err() != nil {
			t.Fatalf("the job did not reach %s in time:\n%s", point, log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if fin, _ := filepath.Glob(filepath.Join(dir, "out", "runs", "*", "run.json")); len(fin) > 0 {
		t.Fatalf("the job finished before the kill at %s; nothing was tested", point)
	}
	shards, _ := filepath.Glob(filepath.Join(dir, "out", "runs", "*", "stages", "calibrate", "shard-*.parquet"))
	t.Logf("killed at %s with %d of 55 shards annotated or tagged", point, len(shards))
}

// runFile reads a file of the single run under dir/out.
func runFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	rs, _ := filepath.Glob(filepath.Join(dir, "out", "runs", "*"))
	if len(rs) != 1 {
		t.Fatalf("want one run under %s, got %v", dir, rs)
	}
	b, err := os.ReadFile(filepath.Join(rs[0], filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
