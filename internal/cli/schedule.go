package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zeroner/zeroner/workflows"
)

const scheduleHelp = `Usage:
  schedule create --id ID (--every DURATION | --cron SPEC) [run flags]
  schedule list
  schedule describe ID
  schedule pause ID [--note TEXT]
  schedule unpause ID [--note TEXT]
  schedule trigger ID
  schedule delete ID

Annotates a corpus prefix on a Temporal Schedule: every interval or cron
spec, a run of the job starts and annotates the objects new or changed since
its last completed run. create takes every flag of run (--corpus, --schema,
--out, --llm-*, ...) except --dev: a schedule needs a server that keeps
running (a Temporal cluster, or "starter server") and workers. A run still
going when the next is due makes that one be skipped.`

func scheduleCmd(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(env.Stderr, scheduleHelp)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return flag.ErrHelp
		}
		return usageError(errors.New("schedule needs a subcommand: create, list, describe, pause, unpause, trigger or delete"))
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "create":
		return scheduleCreate(ctx, args, env)
	case "list", "describe", "pause", "unpause", "trigger", "delete":
	default:
		return usageError(fmt.Errorf("unknown schedule subcommand %q: want create, list, describe, pause, unpause, trigger or delete", sub))
	}
	fs := newFlagSet("schedule "+sub, scheduleHelp, env)
	var (
		conn connFlags
		logs logFlags
		note string
	)
	conn.register(fs, env)
	logs.register(fs, env)
	fs.StringVar(&note, "note", "", "a note recorded with pause or unpause")
	pos, err := parseAnyOrder(fs, args)
	if err != nil {
		return err
	}
	cl, _, err := dial(ctx, conn, logs, env.Stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	sc := cl.ScheduleClient()
	if sub == "list" {
		return scheduleList(ctx, sc, env.Stdout)
	}
	if len(pos) != 1 {
		return usageError(fmt.Errorf("schedule %s needs one schedule ID", sub))
	}
	id := pos[0]
	h := sc.GetHandle(ctx, id)
	if note == "" {
		note = fmt.Sprintf("%sd with starter schedule %s", sub, sub)
	}
	switch sub {
	case "describe":
		return scheduleDescribe(ctx, cl, h, env.Stdout)
	case "pause":
		err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	case "unpause":
		err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	case "trigger":
		err = h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP})
	case "delete":
		err = h.Delete(ctx)
	default:
		return usageError(fmt.Errorf("unknown schedule subcommand %q: want create, list, describe, pause, unpause, trigger or delete", sub))
	}
	if err != nil {
		return scheduleError(sub, id, err)
	}
	done := map[string]string{"pause": "paused", "unpause": "unpaused", "trigger": "triggered", "delete": "deleted"}
	fmt.Fprintf(env.Stdout, "schedule %s %s\n", id, done[sub])
	return nil
}

// parseAnyOrder parses flags that may come before or after the positional
// arguments ("pause ID --note x"), which flag.Parse alone stops at.
func parseAnyOrder(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func scheduleCreate(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("schedule create", scheduleHelp, env)
	var (
		f     runFlags
		id    string
		every time.Duration
		crons listFlag
	)
	f.register(fs, env)
	fs.StringVar(&id, "id", "", "schedule `ID` (default: the job name)")
	fs.DurationVar(&every, "every", 0, "run every `interval`, e.g. 24h")
	fs.Var(&crons, "cron", "run at the times of a cron `spec`, e.g. \"0 2 * * *\" (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.dev {
		return usageError(errors.New("--dev: a schedule needs a server that keeps running; start one with \"starter server\""))
	}
	if every <= 0 && len(crons) == 0 {
		return usageError(errors.New("give --every or --cron"))
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	if id == "" {
		id = cfg.Job
	}
	cl, _, err := dial(ctx, f.conn, f.logs, env.Stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	spec := client.ScheduleSpec{CronExpressions: crons}
	if every > 0 {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: every}}
	}
	_, err = cl.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    spec,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			// Temporal appends the fire time to this ID.
			ID:        workflows.WorkflowID(cfg.Job),
			Workflow:  workflows.AnnotateCorpus,
			Args:      []interface{}{workflows.CorpusState{Config: cfg}},
			TaskQueue: f.conn.taskQueue,
		},
	})
	if err != nil {
		return scheduleError("create", id, err)
	}
	fmt.Fprintf(env.Stdout, "schedule %s created: job %s, corpus %s\n", id, cfg.Job, cfg.Corpus)
	return nil
}

func scheduleList(ctx context.Context, sc client.ScheduleClient, w io.Writer) error {
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return fmt.Errorf("list schedules: %w", err)
	}
	fmt.Fprintf(w, "%-30s %-7s %-25s %s\n", "ID", "PAUSED", "NEXT RUN", "LAST RUN")
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return fmt.Errorf("list schedules: %w", err)
		}
		fmt.Fprintf(w, "%-30s %-7t %-25s %s\n", e.ID, e.Paused, firstTime(e.NextActionTimes), lastWorkflow(e.RecentActions))
	}
	return nil
}

// scheduleError says in plain words what went wrong with a schedule: the
// server's not-found error names its internal workflow.
func scheduleError(sub, id string, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return fmt.Errorf("no schedule named %q (starter schedule list shows them)", id)
	}
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("a schedule named %q exists already", id)
	}
	return fmt.Errorf("schedule %s %s: %s", sub, id, rootCause(err))
}

func scheduleDescribe(ctx context.Context, cl client.Client, h client.ScheduleHandle, w io.Writer) error {
	d, err := h.Describe(ctx)
	if err != nil {
		return scheduleError("describe", h.GetID(), err)
	}
	s := d.Schedule
	fmt.Fprintf(w, "schedule %s\n", h.GetID())
	if s.Spec != nil {
		for _, iv := range s.Spec.Intervals {
			fmt.Fprintf(w, "  every      %s\n", iv.Every)
		}
		for _, c := range s.Spec.CronExpressions {
			fmt.Fprintf(w, "  cron       %s\n", c)
		}
		// The server keeps a cron spec as calendar ranges.
		for _, c := range s.Spec.Calendars {
			fmt.Fprintf(w, "  cron       %s\n", calendarCron(c))
		}
	}
	if s.State != nil {
		fmt.Fprintf(w, "  paused     %t %s\n", s.State.Paused, s.State.Note)
	}
	if a, ok := s.Action.(*client.ScheduleWorkflowAction); ok {
		fmt.Fprintf(w, "  workflow   %s on task queue %s\n", a.ID, a.TaskQueue)
	}
	fmt.Fprintf(w, "  runs       %d started, %d skipped (overlap)\n", d.Info.NumActions, d.Info.NumActionsSkippedOverlap)
	fmt.Fprintf(w, "  next run   %s\n", firstTime(d.Info.NextActionTimes))
	for _, r := range d.Info.RecentActions {
		if res := r.StartWorkflowResult; res != nil {
			fmt.Fprintf(w, "  ran        %s  %s (run %s): %s\n", r.ActualTime.UTC().Format(time.RFC3339), res.WorkflowID,
				res.FirstExecutionRunID, runOutcome(ctx, cl, res.WorkflowID, res.FirstExecutionRunID))
		}
	}
	return nil
}

func firstTime(ts []time.Time) string {
	if len(ts) == 0 {
		return "-"
	}
	return ts[0].UTC().Format(time.RFC3339)
}

func lastWorkflow(rs []client.ScheduleActionResult) string {
	for i := len(rs) - 1; i >= 0; i-- {
		if r := rs[i].StartWorkflowResult; r != nil {
			return r.WorkflowID
		}
	}
	return "-"
}

// calendarCron writes a calendar spec as the cron fields it came from:
// minute, hour, day of month, month, day of week.
func calendarCron(c client.ScheduleCalendarSpec) string {
	field := func(rs []client.ScheduleRange, lo, hi int) string {
		if len(rs) == 0 || (len(rs) == 1 && rs[0].Start <= lo && rs[0].End >= hi && rs[0].Step <= 1) {
			return "*"
		}
		parts := make([]string, len(rs))
		for i, r := range rs {
			p := strconv.Itoa(r.Start)
			if r.End > r.Start {
				p += "-" + strconv.Itoa(r.End)
			}
			if r.Step > 1 {
				p += "/" + strconv.Itoa(r.Step)
			}
			parts[i] = p
		}
		return strings.Join(parts, ",")
	}
	out := strings.Join([]string{field(c.Minute, 0, 59), field(c.Hour, 0, 23), field(c.DayOfMonth, 1, 31),
		field(c.Month, 1, 12), field(c.DayOfWeek, 0, 6)}, " ")
	if c.Comment != "" {
		out += "  # " + c.Comment
	}
	return out
}
