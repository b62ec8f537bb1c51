package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// session is the Temporal client of a command that starts or follows jobs,
// with what it knows of how they run: whether this process runs the server
// and a worker (--dev), and where workers are expected otherwise. connect
// returns one, so that startJob and waitJob can say what a user waits for
// without every caller passing it along.
type session struct {
	client.Client
	dev     bool
	address string
	queue   string
}

// sessionOf is what cl knows of its session: nothing (a zero session) for
// a client that connect did not make.
func sessionOf(cl client.Client) session {
	if s, ok := cl.(*session); ok {
		return *s
	}
	return session{}
}

// watchClient is what watchJob asks Temporal.
type watchClient interface {
	DescribeTaskQueue(ctx context.Context, queue string, typ enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error)
	DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Watch timings: how long a job may wait for a worker before the watcher
// says so (looking every second, it says so within 10 s), and how often it
// looks after that. A live worker's last poll can be as old as a long poll
// lasts (about a minute), so older ones count as gone.
const (
	noWorkerAfter = 9 * time.Second
	watchPeriod   = 2 * time.Second
	pollerAlive   = 90 * time.Second
)

// watcher says what a job waits for that its progress line does not
// show: no worker polling its task queue, and each retry of an activity of
// the job or of its shard workflows, with the failure that caused it.
type watcher struct {
	cl    watchClient
	id    string  // the job's workflow id
	sess  session // queue "" (or dev): no worker check
	w     io.Writer
	term  bool // w is a terminal with a progress bar on it
	now   func() time.Time
	after time.Duration // noWorkerAfter
	seen  map[string]bool
	since time.Time // since when the queue has had no worker; zero: it has one
	said  bool      // the no-worker line is out
}

// watchJob runs a watcher on the job id until stop is called.
func watchJob(ctx context.Context, cl watchClient, id string, sess session, w io.Writer) (stop func()) {
	wt := &watcher{cl: cl, id: id, sess: sess, w: w, term: isTerminal(w), now: time.Now, after: noWorkerAfter}
	wt.since = wt.now() // the job has just been started or attached
	return wt.run(ctx, watchPeriod)
}

func (wt *watcher) run(ctx context.Context, period time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Look often at first, so that a missing worker is told within
		// noWorkerAfter, then every period.
		t := time.NewTicker(min(period, time.Second))
		defer t.Stop()
		for start := wt.now(); ; {
			wt.check(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if wt.now().Sub(start) > wt.after+2*time.Second {
				t.Reset(period)
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// check looks once: at the task queue, then at the job's pending
// activities and those of its shard workflows.
func (wt *watcher) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if wt.sess.queue != "" && !wt.sess.dev {
		wt.checkWorkers(ctx)
	}
	wt.checkRetries(ctx)
}

// checkWorkers says, once the queue has been without a worker for
// wt.after, that nothing will happen until one polls it; and says so again
// when one does.
func (wt *watcher) checkWorkers(ctx context.Context) {
	polled := true
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := wt.cl.DescribeTaskQueue(ctx, wt.sess.queue, typ)
		if err != nil {
			return // the server may be restarting: look again later
		}
		if !livePoller(resp, wt.now()) {
			polled = false
		}
	}
	switch {
	case polled:
		if wt.said {
			wt.say("a worker is polling task queue %s now", wt.sess.queue)
		}
		wt.since, wt.said = time.Time{}, false
	case wt.since.IsZero():
		wt.since = wt.now()
	}
	if !polled && !wt.said && wt.now().Sub(wt.since) >= wt.after {
		wt.say("no worker is polling task queue %s at %s: start one with `starter worker` (or use --dev); the job waits for one",
			wt.sess.queue, wt.sess.address)
		wt.said = true
	}
}

// livePoller reports whether a poller of resp polled recently enough to be
// alive.
func livePoller(resp *workflowservice.DescribeTaskQueueResponse, now time.Time) bool {
	for _, p := range resp.GetPollers() {
		if t := p.GetLastAccessTime(); t == nil || now.Sub(t.AsTime()) < pollerAlive {
			return true
		}
	}
	return false
}

// checkRetries says each new attempt of a pending activity that follows a
// failure, once.
func (wt *watcher) checkRetries(ctx context.Context) {
	d, err := wt.cl.DescribeWorkflowExecution(ctx, wt.id, "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return
	}
	wt.retries(wt.id, "", d.GetPendingActivities())
	for _, c := range d.GetPendingChildren() {
		cd, err := wt.cl.DescribeWorkflowExecution(ctx, c.GetWorkflowId(), c.GetRunId())
		if err != nil {
			continue
		}
		wt.retries(c.GetWorkflowId(), shardOf(c.GetWorkflowId()), cd.GetPendingActivities())
	}
}

func (wt *watcher) retries(wf, shard string, pas []*workflowpb.PendingActivityInfo) {
	for _, pa := range pas {
		n := pa.GetAttempt()
		if n < 2 || pa.GetLastFailure() == nil {
			continue
		}
		key := fmt.Sprintf("%s\x00%s\x00%d", wf, pa.GetActivityId(), n)
		if wt.seen[key] {
			continue
		}
		if wt.seen == nil {
			wt.seen = make(map[string]bool)
		}
		wt.seen[key] = true
		what := strings.ToLower(pa.GetActivityType().GetName())
		if shard != "" {
			what += " of shard " + shard
		}
		of := ""
		if m := pa.GetMaximumAttempts(); m > 0 {
			of = fmt.Sprintf(" of %d", m)
		}
		wt.say("retrying %s (attempt %d%s) after: %s", what, n, of, failureText(pa.GetLastFailure()))
	}
}

// shardOf is the shard number in a shard workflow's id (<run>/shard-00042),
// or "" if id is not one.
func shardOf(id string) string {
	_, s, ok := strings.Cut(id[strings.LastIndexByte(id, '/')+1:], "shard-")
	if !ok {
		return ""
	}
	if s = strings.TrimLeft(s, "0"); s == "" {
		s = "0"
	}
	return s
}

// failureText is a failure's message on one line: the first message that
// says something, as timeouts say little and wrappers repeat their cause.
func failureText(f *failurepb.Failure) string {
	msg := f.GetMessage()
	if ti := f.GetTimeoutFailureInfo(); ti != nil {
		msg = strings.ToLower(strings.TrimPrefix(ti.GetTimeoutType().String(), "TIMEOUT_TYPE_")) + " timeout (the worker may have stopped)"
	}
	if msg == "" && f.GetCause() != nil {
		return failureText(f.GetCause())
	}
	return strings.Join(strings.Fields(msg), " ")
}

// say writes a line on w; on a terminal it first clears the progress bar,
// which the next redraw puts back below the line.
func (wt *watcher) say(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if wt.term {
		line = "\r\033[K" + line
	}
	fmt.Fprintln(wt.w, line)
}
