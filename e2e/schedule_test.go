package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zeroner/zeroner/internal/cli"
	"github.com/zeroner/zeroner/internal/devserver"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/workflows"
)

// A schedule created from the command line fires on the embedded server; its
// first run annotates the corpus, and its next run only the objects added
// since.
func TestScheduleAnnotatesOnlyNewObjects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := devserver.Start(ctx, devserver.Options{DBPath: filepath.Join(t.TempDir(), "t.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cl, err := client.DialContext(ctx, client.Options{HostPort: srv.Address(), Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	store, err := blob.New(ctx, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(cl, queue, worker.Options{})
	workflows.Register(w)
	registry.Register(w, wire.New(store, quiet, wire.Options{}))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	dir := t.TempDir()
	root, _ := blob.Normalize(dir)
	doc := func(id string) []byte {
		return jsonl([2]string{id, "Angela Merkel met Emmanuel Macron in Paris ."})
	}
	put(t, store, blob.Join(root, "corpus", "a.jsonl"), doc("a"))
	put(t, store, blob.Join(root, "corpus", "b.jsonl"), doc("b"))
	schema, _ := filepath.Abs(filepath.Join("..", "schemas", "crossner-politics.yaml"))

	starter := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		code := cli.Main(ctx, append([]string{"schedule"}, args...), cli.Env{Stdout: &out, Stderr: &out,
			Getenv: func(k string) string {
				return map[string]string{"TEMPORAL_ADDRESS": srv.Address(), "ZERONER_TASK_QUEUE": queue}[k]
			}})
		if code != 0 {
			t.Fatalf("starter schedule %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}
	starter("create", "--id", "nightly", "--every", "2s", "--job", "sched",
		"--corpus", filepath.Join(dir, "corpus"), "--schema", schema, "--out", filepath.Join(dir, "out"))

	state := func() runs.JobState {
		var st runs.JobState
		data, err := blob.ReadAll(ctx, store, blob.Join(root, "out", "jobs", "sched.json"))
		if err == nil {
			json.Unmarshal(data, &st)
		}
		return st
	}
	waitRuns := func(n int) runs.JobState {
		t.Helper()
		for {
			if st := state(); len(st.Runs) >= n {
				return st
			}
			if ctx.Err() != nil {
				t.Fatalf("the schedule did not complete %d runs in time", n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first := waitRuns(1)
	if r := first.Runs[0]; r.Objects != 2 || r.Docs != 2 {
		t.Fatalf("first scheduled run %+v: want 2 objects, 2 documents", r)
	}
	put(t, store, blob.Join(root, "corpus", "c.jsonl"), doc("c"))
	second := waitRuns(2)
	if r := second.Runs[1]; r.Objects != 1 || r.Docs != 1 || second.Objects[blob.Join(root, "corpus", "c.jsonl")].Run != r.ID {
		t.Fatalf("second scheduled run %+v: want only c.jsonl", r)
	}

	if out := starter("describe", "nightly"); !strings.Contains(out, "every      2s") || !strings.Contains(out, "zeroner/sched") ||
		!strings.Contains(out, "done: 2 documents") || !strings.Contains(out, "(run ") {
		t.Errorf("describe: want the spec and each recent run's id and outcome\n%s", out)
	}
	// status takes the job name that create printed, though the schedule's
	// runs carry the fire time in their workflow ids.
	var out bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &out, Getenv: func(k string) string {
		return map[string]string{"TEMPORAL_ADDRESS": srv.Address(), "ZERONER_TASK_QUEUE": queue}[k]
	}}
	if code := cli.Main(ctx, []string{"status", "--job", "sched"}, env); code != 0 || !strings.Contains(out.String(), "schedule nightly:") ||
		!strings.Contains(out.String(), "zeroner/sched-") {
		t.Errorf("status of a scheduled job: exit %d\n%s", code, out.String())
	}
	if out := starter("list"); !strings.Contains(out, "nightly") {
		t.Errorf("list:\n%s", out)
	}
	starter("pause", "nightly", "--note", "maintenance")
	if out := starter("describe", "nightly"); !strings.Contains(out, "paused     true maintenance") {
		t.Errorf("describe after pause:\n%s", out)
	}
	starter("trigger", "nightly")
	starter("unpause", "nightly")
	if out := starter("describe", "nightly"); !strings.Contains(out, "paused     false unpaused with starter schedule unpause") {
		t.Errorf("describe after unpause: want zeroner's own note\n%s", out)
	}
	starter("delete", "nightly")
	starter("create", "--id", "cron", "--cron", "0 2 * * *", "--job", "sched-cron",
		"--corpus", filepath.Join(dir, "corpus"), "--schema", schema, "--out", filepath.Join(dir, "out"))
	if out := starter("describe", "cron"); !strings.Contains(out, "cron       0 2 * * *") {
		t.Errorf("describe of a cron schedule: want its spec\n%s", out)
	}
	starter("delete", "cron")
	if _, err := cl.ScheduleClient().GetHandle(ctx, "nightly").Describe(ctx); err == nil {
		t.Error("the schedule still exists after delete")
	}
	// Temporal's words never reach the user.
	for _, args := range [][]string{{"describe", "nosuch"}, {"delete", "nightly"}, {"pause", "nosuch"}} {
		out.Reset()
		code := cli.Main(ctx, append([]string{"schedule"}, args...), env)
		if code == 0 || !strings.Contains(out.String(), "no schedule named") || strings.Contains(out.String(), "temporal-sys") ||
			strings.Contains(out.String(), "workflow") {
			t.Errorf("schedule %s: exit %d, want a plain sentence\n%s", strings.Join(args, " "), code, out.String())
		}
	}
}
