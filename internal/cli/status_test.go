package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities/runs"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/workflows"
)

// fakeClient is a Temporal client that knows one job: its status, its
// progress query's answer (or the query's error: no worker) and its result.
type fakeClient struct {
	client.Client
	status   enumspb.WorkflowExecutionStatus
	progress workflows.Progress
	queryErr error
	result   activities.Summary
	err      error // the workflow's error
}

func (c *fakeClient) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: c.status}}, nil
}

func (c *fakeClient) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	if c.queryErr != nil {
		return nil, c.queryErr
	}
	return encoded(c.progress), nil
}

func (c *fakeClient) GetWorkflow(context.Context, string, string) client.WorkflowRun {
	return fakeRun{c: c}
}

type fakeRun struct {
	client.WorkflowRun
	c *fakeClient
}

func (r fakeRun) Get(_ context.Context, v any) error {
	if r.c.err != nil {
		return r.c.err
	}
	if v != nil {
		return encoded(r.c.result).Get(v)
	}
	return nil
}
func (r fakeRun) GetWithOptions(ctx context.Context, v any, _ client.WorkflowRunGetOptions) error {
	return r.Get(ctx, v)
}

func encoded(v any) converter.EncodedValue {
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		panic(err)
	}
	return client.NewValue(p)
}

func TestJobProgress(t *testing.T) {
	noWorker := errors.New("context deadline exceeded")
	tests := []struct {
		name    string
		c       fakeClient
		want    string // formatted, or the phase alone if not counted
		reason  string
		wantErr string
		code    int // status's exit code
	}{
		{name: "running: the query", c: fakeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, progress: annotating},
			want: "annotate shards 10/40  documents 10000/40000  mentions 123456  run r"},
		{name: "running, no worker", c: fakeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, queryErr: noWorker},
			wantErr: "is a worker up?"},
		{name: "completed: the result, no worker needed", c: fakeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, queryErr: noWorker,
			result: activities.Summary{RunID: "r", Docs: 271, Mentions: 3722, Shards: 11}},
			want: "done     shards 11/11  documents 271/271  mentions 3722  run r"},
		{name: "completed with objects pending", c: fakeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED,
			result: activities.Summary{RunID: "r", Docs: 271, Shards: 11, FailedShards: []activities.ShardFailure{{Shard: 3, Reason: "refused"}},
				Pending: 2, Problems: []activities.Problem{{Cause: "failed shard: refused", Objects: []string{"a", "b"}, Count: 2}}}},
			want: "done     shards 10/11  documents 271/271  mentions 0  failed shards 1  run r", code: ExitFailures},
		{name: "failed, a worker answers", c: fakeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, progress: annotating,
			err: temporal.NewApplicationError("schema is not valid", "bad")},
			want: "failed   shards 10/40  documents 10000/40000  mentions 123456  run r", reason: "schema is not valid", code: ExitError},
		{name: "terminated, no worker", c: fakeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, queryErr: noWorker,
			err: errors.New("terminated by operator")},
			want: "terminated", reason: "terminated by operator", code: ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := jobProgress(context.Background(), &tt.c, "zeroner/job")
			if wantError(t, err, tt.wantErr) {
				return
			}
			got := st.p.Phase
			if st.counted {
				got = formatProgress(sample{t0, st.p}, nil, 0)
			}
			if got != tt.want || !strings.Contains(st.reason, tt.reason) || (tt.reason == "") != (st.reason == "") {
				t.Errorf("got %q (reason %q), want %q (reason %q)", got, st.reason, tt.want, tt.reason)
			}
			code := ExitOK
			if err := st.outcome("job"); err != nil {
				code = exitCode(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
		})
	}
}

func TestMetricsFlags(t *testing.T) {
	for _, cmd := range []string{"run", "worker"} {
		var out bytes.Buffer
		Main(context.Background(), []string{cmd, "--help"}, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		if !strings.Contains(out.String(), "-metrics-addr") || !strings.Contains(out.String(), "ZERONER_METRICS_ADDR") {
			t.Errorf("%s --help does not document --metrics-addr and ZERONER_METRICS_ADDR", cmd)
		}
	}
	var m metricsFlags
	stop, err := m.start(context.Background(), discard)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if m.sdk() != nil || m.recorder() != nil {
		t.Error("no address: want no handler and no recorder")
	}

	m = metricsFlags{addr: "127.0.0.1:0"}
	stop, err = m.start(context.Background(), discard)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if m.sdk() == nil || m.recorder() == nil {
		t.Fatal("serving: want a handler and a recorder")
	}
	m.recorder().Sharded(2, 10, 1)
	resp, err := http.Get("http://" + m.srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if !strings.Contains(b.String(), "zeroner_shards_total 2\n") {
		t.Errorf("scrape has no zeroner_shards_total 2:\n%s", b.String())
	}

	// A taken address is an error, said so.
	m2 := metricsFlags{addr: m.srv.Addr()}
	if _, err := m2.start(context.Background(), discard); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("address in use: err %v", err)
	}
}

var discard = slog.New(slog.DiscardHandler)

// With no server reachable, status answers from the job's dataset and its
// latest run's run.json, and exits 3 while objects are pending.
func TestStatusWithoutServer(t *testing.T) {
	dir := t.TempDir()
	out, err := blob.Normalize(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := blob.Join(out, "runs", "news-abc")
	store, err := blob.New(context.Background(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	write := func(uri string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Replace(context.Background(), uri, blob.WriteBytes(b)); err != nil {
			t.Fatal(err)
		}
	}
	report := runs.RunReport{Summary: activities.Summary{RunID: "news-abc", Job: "news", Docs: 271, Mentions: 3722,
		Outputs: activities.Outputs{Summary: blob.Join(run, "run.json")}}, Config: activities.Config{Output: out}, Objects: 3}
	write(blob.Join(run, "run.json"), report)
	state := runs.JobState{Job: "news", Runs: []runs.JobRun{{ID: "news-abc", URI: run, Objects: 3, Docs: 271}},
		Objects: map[string]runs.JobObject{"file:///c/a.jsonl": {}, "file:///c/b.jsonl": {}},
		Checks:  runs.Checks{Count: 2}}
	write(blob.Join(out, "jobs", "news.json"), state)

	for _, tt := range []struct {
		name    string
		pending map[string]runs.PendingObject
		code    int
		want    []string
	}{
		{"all annotated", nil, ExitOK, []string{"no Temporal server at 127.0.0.1:1", "job news: 1 runs, 2 objects annotated, 0 pending",
			"latest run news-abc", "documents 271, mentions 3722", "checks     2 since"}},
		{"one pending", map[string]runs.PendingObject{"file:///c/x.jsonl": {Reason: "failed shard: refused"}}, ExitFailures,
			[]string{"1 pending", "not annotated: 1 object: failed shard: refused (file:///c/x.jsonl)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state.Pending = tt.pending
			write(blob.Join(out, "jobs", "news.json"), state)
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), []string{"status", "--job", "news", "--out", dir, "--address", "127.0.0.1:1"},
				Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
