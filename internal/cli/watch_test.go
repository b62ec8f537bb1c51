package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeTemporal is a Temporal server as watchJob and cancelJob see it: a
// task queue's pollers and some workflows, which cancel closes.
type fakeTemporal struct {
	mu        sync.Mutex
	pollers   []*taskqueuepb.PollerInfo
	workflows map[string]*workflowservice.DescribeWorkflowExecutionResponse
	cancels   []string
	// onCancel, if set, is what a cancellation does; by default the job
	// and its children close as canceled.
	onCancel func(f *fakeTemporal, id string)
}

func (f *fakeTemporal) DescribeTaskQueue(_ context.Context, queue string, _ enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &workflowservice.DescribeTaskQueueResponse{Pollers: f.pollers}, nil
}

func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.workflows[id]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	return d, nil
}

func (f *fakeTemporal) CancelWorkflow(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.workflows[id]; !ok {
		return serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	f.cancels = append(f.cancels, id)
	if f.onCancel != nil {
		f.onCancel(f, id)
		return nil
	}
	for _, c := range f.workflows[id].PendingChildren {
		f.workflows[c.WorkflowId].WorkflowExecutionInfo.Status = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	}
	f.workflows[id].WorkflowExecutionInfo.Status = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	f.workflows[id].WorkflowExecutionInfo.CloseTime = timestamppb.Now()
	return nil
}

func (f *fakeTemporal) set(edit func(f *fakeTemporal)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f)
}

// running describes a running workflow with these pending activities and
// children.
func running(id string, acts []*workflowpb.PendingActivityInfo, children ...string) *workflowservice.DescribeWorkflowExecutionResponse {
	d := &workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-" + id},
			Status:    enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			StartTime: timestamppb.New(time.Now().Add(-time.Minute)),
		},
		PendingActivities: acts,
	}
	for _, c := range children {
		d.PendingChildren = append(d.PendingChildren, &workflowpb.PendingChildExecutionInfo{WorkflowId: c, RunId: "run-" + c})
	}
	return d
}

func attempt(typ string, n int32, msg string) *workflowpb.PendingActivityInfo {
	pa := &workflowpb.PendingActivityInfo{ActivityId: "5", ActivityType: &commonpb.ActivityType{Name: typ}, Attempt: n, MaximumAttempts: 5}
	if n > 1 {
		pa.LastFailure = &failurepb.Failure{Message: msg}
	}
	return pa
}

// A job on a task queue that no worker polls: one line says so, naming the
// queue and the address, within the time allowed; when a worker comes, a
// line says that too.
func TestWatchSaysNoWorker(t *testing.T) {
	ft := &fakeTemporal{workflows: map[string]*workflowservice.DescribeWorkflowExecutionResponse{"zeroner/j": running("zeroner/j", nil)}}
	var out syncBuffer
	wt := &watcher{cl: ft, id: "zeroner/j", sess: session{address: "10.1.2.3:7233", queue: "zq"}, w: &out, now: time.Now, after: 300 * time.Millisecond}
	began := time.Now()
	wt.since = began
	stop := wt.run(context.Background(), 50*time.Millisecond)
	defer stop()
	want := "no worker is polling task queue zq at 10.1.2.3:7233: start one with `starter worker` (or use --dev)"
	waitFor(t, &out, want)
	if d := time.Since(began); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("the line came after %s, want after 300ms and soon after", d)
	}
	ft.set(func(f *fakeTemporal) {
		f.pollers = []*taskqueuepb.PollerInfo{{Identity: "w1", LastAccessTime: timestamppb.Now()}}
	})
	waitFor(t, &out, "a worker is polling task queue zq now")
	if n := strings.Count(out.String(), "no worker"); n != 1 {
		t.Errorf("said %d times that no worker polls, want once:\n%s", n, out.String())
	}
}

// A worker that polls, or a poll long ago (a dead worker), or --dev.
func TestWatchWorkerStates(t *testing.T) {
	for _, tt := range []struct {
		name    string
		sess    session
		pollers []*taskqueuepb.PollerInfo
		says    bool
	}{
		{"live worker", session{queue: "zq"}, []*taskqueuepb.PollerInfo{{LastAccessTime: timestamppb.New(time.Now().Add(-30 * time.Second))}}, false},
		{"dead worker", session{queue: "zq"}, []*taskqueuepb.PollerInfo{{LastAccessTime: timestamppb.New(time.Now().Add(-5 * time.Minute))}}, true},
		{"dev runs its own worker", session{queue: "zq", dev: true}, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTemporal{pollers: tt.pollers}
			var out syncBuffer
			wt := &watcher{cl: ft, id: "zeroner/j", sess: tt.sess, w: &out, now: time.Now, after: 0}
			wt.check(context.Background())
			if got := strings.Contains(out.String(), "no worker is polling"); got != tt.says {
				t.Errorf("said %q; want the no-worker line: %v", out.String(), tt.says)
			}
		})
	}
}

// Each retry of an activity of the job or of one of its shard workflows is
// said once, with its attempt and the failure before it.
func TestWatchSaysRetries(t *testing.T) {
	child := "zeroner-run-1/shard-00042"
	ft := &fakeTemporal{workflows: map[string]*workflowservice.DescribeWorkflowExecutionResponse{
		"zeroner/j": running("zeroner/j", []*workflowpb.PendingActivityInfo{attempt("Plan", 1, "")}, child),
		child:       running(child, []*workflowpb.PendingActivityInfo{attempt("Discover", 1, "")}),
	}}
	var out syncBuffer
	wt := &watcher{cl: ft, id: "zeroner/j", w: &out, now: time.Now}
	ctx := context.Background()
	wt.check(ctx)
	if out.String() != "" {
		t.Fatalf("first attempts said %q", out.String())
	}
	msg := "llm m at http://127.0.0.1:9/v1: unavailable: gave up after 7 attempts: dial tcp 127.0.0.1:9: connect: connection refused"
	ft.set(func(f *fakeTemporal) { f.workflows[child].PendingActivities[0] = attempt("Discover", 2, msg) })
	wt.check(ctx)
	wt.check(ctx) // the same attempt: said once
	ft.set(func(f *fakeTemporal) {
		f.workflows[child].PendingActivities[0] = attempt("Discover", 3, "second\nfailure")
		f.workflows["zeroner/j"].PendingActivities[0] = &workflowpb.PendingActivityInfo{ActivityId: "1",
			ActivityType: &commonpb.ActivityType{Name: "Plan"}, Attempt: 2,
			LastFailure: &failurepb.Failure{Message: "activity Heartbeat timeout",
				FailureInfo: &failurepb.Failure_TimeoutFailureInfo{TimeoutFailureInfo: &failurepb.TimeoutFailureInfo{TimeoutType: enumspb.TIMEOUT_TYPE_HEARTBEAT}}}}
	})
	wt.check(ctx)
	want := "retrying discover of shard 42 (attempt 2 of 5) after: " + msg + "\n" +
		"retrying plan (attempt 2) after: heartbeat timeout (the worker may have stopped)\n" +
		"retrying discover of shard 42 (attempt 3 of 5) after: second failure\n"
	if out.String() != want {
		t.Errorf("said\n%s\nwant\n%s", out.String(), want)
	}
}

// cancel ends a running job and its shard workflows, waits until it has
// closed, and says so; a job that is not running is a plain sentence.
func TestCancelJob(t *testing.T) {
	child := "zeroner-run-1/shard-00003"
	ft := &fakeTemporal{workflows: map[string]*workflowservice.DescribeWorkflowExecutionResponse{
		"zeroner/j": running("zeroner/j", nil, child),
		child:       running(child, nil),
	}}
	var out syncBuffer
	if err := cancelJob(context.Background(), ft, session{dev: true}, "j", &out); err != nil {
		t.Fatalf("cancel: %v\n%s", err, out.String())
	}
	if len(ft.cancels) != 1 || ft.cancels[0] != "zeroner/j" {
		t.Errorf("cancellations %v, want one of zeroner/j", ft.cancels)
	}
	for _, want := range []string{"cancelling job j (workflow zeroner/j, 1 shard workflow(s) in flight)", "job j was canceled at ",
		"1 of its 1 shard workflow(s) in flight stopped with it"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// Now closed, and a job that never was.
	for job, want := range map[string]string{"j": "job j is not running: it was canceled at ", "nope": "job nope is not running"} {
		err := cancelJob(context.Background(), ft, session{}, job, &out)
		if err == nil || !strings.HasPrefix(err.Error(), want) || exitCode(err) != ExitError {
			t.Errorf("cancel %s: %v (exit %d), want %q, exit 1", job, err, exitCode(err), want)
		}
	}
}

// A job that finishes before its cancellation takes effect is not said to
// be cancelled.
func TestCancelJobThatCompletes(t *testing.T) {
	ft := &fakeTemporal{workflows: map[string]*workflowservice.DescribeWorkflowExecutionResponse{"zeroner/j": running("zeroner/j", nil)},
		onCancel: func(f *fakeTemporal, id string) {
			f.workflows[id].WorkflowExecutionInfo.Status = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
		}}
	var out syncBuffer
	err := cancelJob(context.Background(), ft, session{}, "j", &out)
	if err == nil || !strings.Contains(out.String(), "job j completed") {
		t.Errorf("cancel: %v\n%s; want an error and 'job j completed'", err, out.String())
	}
}

// The cancel command's flags: --job is required.
func TestCancelCommandUsage(t *testing.T) {
	_, stderr, code := runMain(t, "cancel")
	if code != ExitUsage || !strings.Contains(stderr, "--job is required") {
		t.Errorf("cancel without --job: exit %d, %q", code, stderr)
	}
	stdout, _, code := runMain(t, "--help")
	if code != 0 || !strings.Contains(stdout, "starter cancel --job NAME") {
		t.Errorf("usage does not list cancel:\n%s", stdout)
	}
}

func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An unreachable --gcs-endpoint is named at once.
func TestUnreachableGCSEndpointIsNamed(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	dead := hs.URL
	hs.Close()
	began := time.Now()
	_, stderr, code := runMain(t, "run", "--corpus", "gs://b/c/", "--schema", "gs://b/s.yaml", "--out", "gs://b/out", "--gcs-endpoint", dead)
	took := time.Since(began)
	want := "Cloud Storage endpoint " + dead + " cannot be reached"
	if code != ExitError || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, %q; want exit 1 and %q", code, stderr, want)
	}
	t.Logf("said in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr))
	if took > 30*time.Second {
		t.Errorf("took %s to say so", took)
	}
}
