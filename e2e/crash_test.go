package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
)

// starter runs the test binary as `starter args...` (see TestMain).
func starter(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

// kill -9 of `starter run --dev` while shards are being annotated, then the
// same command again: the job completes, and its mentions table is the same
// as an uninterrupted run's, row for row, with no duplicates.
func TestKillDevRunAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var log bytes.Buffer
	cmd := starter(ctx, dir, jobArgs(t, "--dev")...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killAfterShards(ctx, t, dir, cmd, &log)
	if out, err := starter(ctx, dir, jobArgs(t, "--dev")...).CombinedOutput(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	sameAsUninterrupted(t, dir)
}

const crashShards = 55 // the sample corpus's 271 documents in shards of 5

// jobArgs are the starter's arguments for the crash tests' job, plus extra.
func jobArgs(t *testing.T, extra ...string) []string {
	t.Helper()
	corpus, err := filepath.Abs(filepath.Join("..", "examples", "politics"))
	if err != nil {
		t.Fatal(err)
	}
	schema, _ := filepath.Abs(filepath.Join("..", "schemas", "crossner-politics.yaml"))
	return append([]string{"run", "--job", "crash", "--corpus", corpus, "--schema", schema,
		"--out", "out", "--shard-size", "5", "--window", "2"}, extra...)
}

// killAfterShards kill -9s cmd once a few shards of the job under dir are
// annotated, and fails if the job had already finished.
func killAfterShards(ctx context.Context, t *testing.T, dir string, cmd *exec.Cmd, log *bytes.Buffer) {
	t.Helper()
	pattern := filepath.Join(dir, "out", "runs", "*", "stages", "calibrate", "shard-*.parquet")
	for {
		done, _ := filepath.Glob(pattern)
		if len(done) >= 5 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no shards annotated in time:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killedAt, _ := filepath.Glob(pattern)
	if len(killedAt) >= crashShards {
		t.Fatalf("the job finished before the kill (%d shards); nothing was tested", len(killedAt))
	}
	t.Logf("killed with %d of %d shards annotated", len(killedAt), crashShards)
}

var reference struct {
	once     sync.Once
	mentions []table.Mention
	err      error
}

// sameAsUninterrupted checks that the job under dir wrote the same mentions
// table as an uninterrupted run of the same job (run once per test binary),
// with no duplicates.
func sameAsUninterrupted(t *testing.T, dir string) {
	t.Helper()
	reference.once.Do(func() {
		ref, err := os.MkdirTemp("", "zeroner-ref-")
		if err != nil {
			reference.err = err
			return
		}
		defer os.RemoveAll(ref)
		out, err := starter(context.Background(), ref, jobArgs(t, "--dev")...).CombinedOutput()
		if err != nil {
			reference.err = fmt.Errorf("uninterrupted run: %v\n%s", err, out)
			return
		}
		reference.mentions = runMentions(t, ref)
	})
	if reference.err != nil {
		t.Fatal(reference.err)
	}
	if len(reference.mentions) == 0 {
		t.Fatal("uninterrupted run has no mentions")
	}
	got := runMentions(t, dir)
	diffMentions(t, got, reference.mentions)
	seen := map[[3]any]bool{}
	for _, m := range got {
		k := [3]any{m.DocID, m.Start, m.End}
		if seen[k] {
			t.Errorf("duplicate mention %+v", m)
		}
		seen[k] = true
	}
}

// runMentions reads the mentions table of the single run under dir/out.
func runMentions(t *testing.T, dir string) []table.Mention {
	t.Helper()
	runs, _ := filepath.Glob(filepath.Join(dir, "out", "runs", "*"))
	if len(runs) != 1 {
		t.Fatalf("want one run under %s, got %v", dir, runs)
	}
	if _, err := os.Stat(filepath.Join(runs[0], "run.json")); err != nil {
		t.Fatalf("run not finished: %v", err)
	}
	store, err := blob.New(context.Background(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := blob.Normalize(filepath.Join(runs[0], "mentions") + "/")
	return mentions(t, store, uri)
}

// kill -9 of `starter run --dev` with the SAM-NER backend mid-run, then the
// same command again: answers received before the kill come from the
// response cache, so the model is asked again at most what was in flight.
func TestKillLLMRunReasksOnlyUnanswered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t), TTFT: 20 * time.Millisecond})
	data := dataset.Path(t, "crossner", "politics", "dev.txt")
	schema, _ := filepath.Abs(filepath.Join("..", "schemas", "crossner-politics.yaml"))
	const concurrency = 8
	args := []string{"run", "--dev", "--job", "llm-crash", "--corpus", data, "--format", "bio", "--schema", schema,
		"--out", "out", "--shard-size", "20", "--window", "2", "--llm-base-url", url, "--llm-model", "llmsim",
		"--llm-concurrency", fmt.Sprint(concurrency)}

	ref := t.TempDir()
	if out, err := starter(ctx, ref, args...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	full := srv.Stats().Requests

	dir := t.TempDir()
	var log bytes.Buffer
	cmd := starter(ctx, dir, args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pattern := filepath.Join(dir, "out", "runs", "*", "stages", "calibrate", "shard-*.parquet")
	for {
		if done, _ := filepath.Glob(pattern); len(done) >= 4 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no shards annotated in time:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	before := srv.Stats().Requests - full
	if out, err := starter(ctx, dir, args...).CombinedOutput(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	after := srv.Stats().Requests - full - before
	t.Logf("uninterrupted: %d requests; killed run: %d before the kill, %d after", full, before, after)
	if before >= full || after == 0 {
		t.Fatalf("the kill did not land mid-run (%d of %d requests before it)", before, full)
	}
	// Each of the two processes holds one LLM client: at most its
	// concurrency was in flight, unanswered, at the kill.
	if before+after > full+concurrency {
		t.Errorf("killed and resumed runs asked %d requests, uninterrupted %d: more than the %d in flight were re-asked",
			before+after, full, concurrency)
	}
	if got, want := runMentions(t, dir), runMentions(t, ref); len(got) == 0 {
		t.Error("resumed run has no mentions")
	} else {
		diffMentions(t, got, want)
	}
}
