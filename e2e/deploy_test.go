package e2e

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/registry"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
)

// The deployment DEPLOY.md describes, on one machine: the Temporal server
// in its own process, three `worker` processes on one task queue over one
// output folder, and `starter run` against them. One worker is killed with
// -9 while it holds an activity, after it has finished some. The job
// completes on the other two: its mentions table is the same, row for row,
// as an uninterrupted single-process run's, and its summary counts them; the
// workflow histories show activities on more than one worker, the killed
// worker's activity retried by another, and every activity type the job ran
// registered on every worker.
func TestThreeWorkersOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	dir := t.TempDir()
	addr := startServer(ctx, t, dir)

	// Every process has a Temporal API key, sent in clear to the local
	// server, which ignores it: it must show in no log, output or history.
	const key = "tk-zeroner-deploy-0123456789"
	keyEnv := []string{"TEMPORAL_API_KEY=" + key, "TEMPORAL_TLS=false"}
	ids := []string{"worker-1", "worker-2", "worker-3"}
	workers := make([]*exec.Cmd, len(ids))
	logs := make([]lockedBuffer, len(ids))
	for i, id := range ids {
		workers[i] = starter(ctx, dir, "worker", "--address", addr, "--activities", "1", "--identity", id, "--log-level", "debug")
		workers[i].Env = append(workers[i].Env, keyEnv...)
		workers[i].Stdout, workers[i].Stderr = &logs[i], &logs[i]
		if err := workers[i].Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { workers[i].Process.Signal(syscall.SIGTERM); workers[i].Wait() })
	}
	cl, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// A window of 6 keeps all three workers busy; it is not part of the
	// run's identity, so the reference run's table is comparable.
	run := starter(ctx, dir, jobArgs(t, "--address", addr, "--window", "6")...)
	run.Env = append(run.Env, keyEnv...)
	var out lockedBuffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	root := firstRun(ctx, t, &out)
	tree := &jobTree{cl: cl, root: root, secret: key, seen: map[execution]*history{}}
	victim := ids[0]
	done := tree.waitForWork(ctx, t, victim, 3)
	if err := workers[0].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	workers[0].Wait()
	// The server sees a dead worker's activity as started until its
	// heartbeat times out: whether it held one at the kill.
	held := tree.holds(ctx, victim)
	t.Logf("%s: killed %s after it finished %d activities, holding one: %v", time.Since(began).Round(time.Millisecond), victim, done, held)
	if err := run.Wait(); err != nil {
		t.Fatalf("run: %v\n%s\nthe other workers' last logs:\n%s\n%s", err, out.String(), tail(logs[1].String()), tail(logs[2].String()))
	}

	t.Logf("%s: the job ended", time.Since(began).Round(time.Millisecond))
	sameAsUninterrupted(t, dir)
	t.Logf("%s: compared with the uninterrupted run", time.Since(began).Round(time.Millisecond))
	rows := len(runMentions(t, dir))
	m := regexp.MustCompile(`(?m)^  mentions +(\d+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no mentions count in the summary:\n%s", out.String())
	}
	if n, _ := strconv.Atoi(m[1]); n != rows {
		t.Errorf("the summary counts %d mentions, the table has %d", n, rows)
	}

	acts := tree.activities(ctx, t)
	checkActivities(t, acts, ids, victim, held)
	for i := range logs {
		if !strings.Contains(logs[i].String(), "level=DEBUG") {
			t.Errorf("%s logged nothing at debug level: the check of its logs proves nothing", ids[i])
		}
		if strings.Contains(logs[i].String(), key) {
			t.Errorf("the logs of %s hold the API key", ids[i])
		}
	}
	if strings.Contains(out.String(), key) {
		t.Error("the output of starter run holds the API key")
	}
}

// tail is the end of a worker's debug log, enough to see why it stopped.
func tail(s string) string {
	return s[max(0, len(s)-4000):]
}

// startServer starts `starter server` on any free port under dir and
// returns its address; the test's end stops it.
func startServer(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	srv := starter(ctx, dir, "server", "--db", "temporal.db", "--port", "0")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	return strings.Fields(strings.TrimPrefix(line, "Temporal server on "))[0]
}

// firstRun is the job's workflow execution as `starter run` prints it.
func firstRun(ctx context.Context, t *testing.T, out *lockedBuffer) execution {
	t.Helper()
	re := regexp.MustCompile(`workflow (\S+), run (\S+)\n`)
	for ctx.Err() == nil {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return execution{m[1], m[2]}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the job's workflow was not started:\n%s", out.String())
	return execution{}
}

// checkActivities checks the activities the histories record: on more than
// one worker and only on the job's workers, finalize's and the graph's among them,
// the activity the killed worker held (if it held one) retried on another,
// and each type registered on every worker.
func checkActivities(t *testing.T, acts []activityRun, ids []string, victim string, held bool) {
	t.Helper()
	byWorker := map[string]int{}
	types := map[string]int{}
	retried := 0
	for _, a := range acts {
		byWorker[a.identity]++
		types[a.typ]++
		if a.attempt > 1 && a.identity != victim {
			retried++
		}
	}
	t.Logf("%d activities by worker %v, by type %v; %d retried on another worker", len(acts), byWorker, types, retried)
	for w := range byWorker {
		if !slices.Contains(ids, w) {
			t.Errorf("an activity ran on %q, not one of the job's workers %v", w, ids)
		}
	}
	if len(byWorker) < 2 {
		t.Errorf("activities ran on %d worker(s), want more than one", len(byWorker))
	}
	if byWorker[victim] == 0 {
		t.Errorf("no activity finished on %s before it was killed", victim)
	}
	if held && retried == 0 {
		t.Errorf("the activity %s held at the kill was not retried on another worker", victim)
	}
	for _, typ := range []string{activities.ShardActivity, activities.PlanFinalizeActivity, activities.FinalizePartActivity,
		activities.FinalizeActivity, activities.MergeGraphActivity} {
		if types[typ] == 0 {
			t.Errorf("no %s activity in the histories", typ)
		}
	}
	// Every worker registers through registry.Register; what it registers
	// is every exported method of the values it is given.
	registered := registeredActivities(t)
	names := activities.Names()
	for typ := range types {
		if !registered[typ] {
			t.Errorf("activity type %s ran, but registry.Register does not register it on the workers", typ)
		}
		if !slices.Contains(names, typ) {
			t.Errorf("activity type %s ran, but activities.Names does not list it", typ)
		}
	}
}

// registeredActivities are the names registry.Register gives the activities
// it registers on a worker.
func registeredActivities(t *testing.T) map[string]bool {
	t.Helper()
	store, err := blob.New(context.Background(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := methodNames{}
	registry.Register(r, wire.New(store, slog.New(slog.DiscardHandler), wire.Options{}))
	if len(r) == 0 {
		t.Fatal("registry.Register registered nothing")
	}
	return r
}

// methodNames records the exported methods of each value registered, as
// the SDK names the activities of a struct.
type methodNames map[string]bool

func (m methodNames) RegisterActivity(a any) {
	typ := reflect.TypeOf(a)
	for i := range typ.NumMethod() {
		m[typ.Method(i).Name] = true
	}
}

// execution is one run of a workflow.
type execution struct{ id, run string }

// activityRun is one activity as a history records it when it has ended:
// its type, and the worker and attempt of its last try.
type activityRun struct {
	typ, identity string
	attempt       int32
}

// history is what the test takes from one execution's history.
type history struct {
	closed     bool
	next       []execution // its children, and the run it continued as
	activities []activityRun
}

// jobTree reads the histories of a job's workflow, of the runs it
// continued as, and of its children's, caching those that have closed.
type jobTree struct {
	cl     client.Client
	root   execution
	secret string // no event may hold it
	seen   map[execution]*history
}

// walk reads every execution of the tree and returns them.
func (j *jobTree) walk(ctx context.Context) ([]execution, error) {
	todo, all := []execution{j.root}, []execution{}
	for len(todo) > 0 {
		e := todo[0]
		todo = todo[1:]
		all = append(all, e)
		h := j.seen[e]
		if h == nil || !h.closed {
			var err error
			if h, err = readHistory(ctx, j.cl, e, j.secret); err != nil {
				return nil, fmt.Errorf("history of %s: %w", e.id, err)
			}
			j.seen[e] = h
		}
		todo = append(todo, h.next...)
	}
	return all, nil
}

// waitForWork waits until worker has finished at least n activities and
// holds one now, and returns how many it finished.
func (j *jobTree) waitForWork(ctx context.Context, t *testing.T, worker string, n int) int {
	t.Helper()
	for ctx.Err() == nil {
		all, err := j.walk(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, e := range all {
			for _, a := range j.seen[e].activities {
				if a.identity == worker {
					done++
				}
			}
		}
		if done >= n && j.holds(ctx, worker) {
			return done
		}
		if j.seen[j.root] != nil && allClosed(j.seen, all) {
			t.Fatal("the job ended before the worker could be killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not finish %d activities in time", worker, n)
	return 0
}

// activities are every activity the job's histories record as ended.
func (j *jobTree) activities(ctx context.Context, t *testing.T) []activityRun {
	t.Helper()
	all, err := j.walk(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !allClosed(j.seen, all) {
		t.Fatal("the job finished with workflows still open")
	}
	if len(all) < 1+crashShards {
		t.Errorf("%d workflow executions, want the job's and one a shard (%d)", len(all), crashShards)
	}
	var out []activityRun
	for _, e := range all {
		out = append(out, j.seen[e].activities...)
	}
	return out
}

func allClosed(seen map[execution]*history, all []execution) bool {
	for _, e := range all {
		if !seen[e].closed {
			return false
		}
	}
	return true
}

// holds says whether the server sees worker running one of the open
// executions' activities, as of the last walk.
func (j *jobTree) holds(ctx context.Context, worker string) bool {
	for e, h := range j.seen {
		if h.closed {
			continue
		}
		d, err := j.cl.DescribeWorkflowExecution(ctx, e.id, e.run)
		if err != nil {
			continue
		}
		for _, p := range d.GetPendingActivities() {
			if p.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED && p.GetLastWorkerIdentity() == worker {
				return true
			}
		}
	}
	return false
}

// readHistory reads e's history; an event that holds secret is an error.
func readHistory(ctx context.Context, cl client.Client, e execution, secret string) (*history, error) {
	h := &history{}
	types := map[int64]string{} // scheduled event id: activity type
	iter := cl.GetWorkflowHistory(ctx, e.id, e.run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, err
		}
		if secret != "" && strings.Contains(ev.String(), secret) {
			return nil, fmt.Errorf("event %d holds the API key", ev.GetEventId())
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			h.activities = append(h.activities, activityRun{typ: types[a.GetScheduledEventId()], identity: a.GetIdentity(), attempt: a.GetAttempt()})
		}
		if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
			h.next = append(h.next, execution{a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId()})
		}
		if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
			h.next = append(h.next, execution{e.id, a.GetNewExecutionRunId()})
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			h.closed = true
		}
	}
	return h, nil
}
