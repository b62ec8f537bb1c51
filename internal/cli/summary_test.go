package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
)

// The first line after the progress says what was not annotated and why,
// grouped by cause, the first few objects named; the exit code follows.
func TestSummaryFailures(t *testing.T) {
	refused := activities.Problem{Cause: "failed shard: llm: connection refused", Objects: []string{"a", "b", "c"}, Count: 7}
	rejected := activities.Problem{Cause: "rejected whole: not JSON", Objects: []string{"x.xml"}, Count: 1, Rejected: true}
	tests := []struct {
		name  string
		sum   activities.Summary
		first string // the first printed line; "" for none
		code  int
		hint  string
	}{
		{"all annotated", activities.Summary{Job: "j", RunID: "r", Docs: 3}, "", ExitOK, ""},
		{"failed shards", activities.Summary{Job: "j", RunID: "r", Pending: 7, Problems: []activities.Problem{refused}},
			"not annotated: 7 objects: failed shard: llm: connection refused (a, b, c and 4 more)", ExitFailures, "run the same command to retry"},
		{"rejected only", activities.Summary{Job: "j", UpToDate: true, Pending: 1, Problems: []activities.Problem{rejected}},
			"not annotated: 1 object: rejected whole: not JSON (x.xml)", ExitFailures, "fix them or the reader flags"},
		{"both", activities.Summary{Job: "j", RunID: "r", Pending: 8, Problems: []activities.Problem{refused, rejected}},
			"not annotated: 8 objects: failed shard: llm: connection refused (a, b, c and 4 more); rejected whole: not JSON (x.xml)", ExitFailures, "retry"},
		{"stopped at the ceiling", activities.Summary{Job: "j", RunID: "r", Stopped: "token ceiling reached"}, "", ExitFailures, "stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			printSummary(&out, tt.sum, 0)
			lines := strings.Split(strings.TrimLeft(out.String(), "\n"), "\n")
			if tt.first != "" && lines[0] != tt.first {
				t.Errorf("first line %q, want %q", lines[0], tt.first)
			}
			if tt.first == "" && strings.HasPrefix(lines[0], "not annotated") {
				t.Errorf("first line %q, want no failure line", lines[0])
			}
			err := outcome(tt.sum)
			code := ExitOK
			if err != nil {
				code = exitCode(err)
			}
			if code != tt.code || (err != nil && !strings.Contains(err.Error(), tt.hint)) {
				t.Errorf("outcome %v (exit %d), want exit %d with %q", err, code, tt.code, tt.hint)
			}
		})
	}
}
