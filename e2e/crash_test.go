package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
	corpus, err := filepath.Abs(filepath.Join("..", "examples", "politics"))
	if err != nil {
		t.Fatal(err)
	}
	schema, _ := filepath.Abs(filepath.Join("..", "schemas", "crossner-politics.yaml"))
	args := func(out string) []string {
		return []string{"run", "--dev", "--job", "crash", "--corpus", corpus, "--schema", schema,
			"--out", out, "--shard-size", "5", "--window", "2"}
	}

	ref := t.TempDir()
	if out, err := starter(ctx, ref, args("out")...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}

	dir := t.TempDir()
	var log bytes.Buffer
	cmd := starter(ctx, dir, args("out")...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until some shards are annotated, then kill -9.
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
	if len(killedAt) >= 55 {
		t.Fatalf("the run finished before it was killed (%d shards); nothing was tested", len(killedAt))
	}
	t.Logf("killed with %d of 55 shards annotated", len(killedAt))

	if out, err := starter(ctx, dir, args("out")...).CombinedOutput(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}

	want := runMentions(t, ref)
	got := runMentions(t, dir)
	if len(want) == 0 {
		t.Fatal("uninterrupted run has no mentions")
	}
	diffMentions(t, got, want)
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
