package devserver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

func TestSlogger(t *testing.T) {
	var buf bytes.Buffer
	s := slogger{l: slog.New(slog.NewTextHandler(&buf, nil)), stopping: new(atomic.Bool)}
	l := log.With(s, tag.NewStringTag("service", "history"))

	l.Info("info is dropped")
	l.Warn("HTTP API port has not been set. Nexus...")
	l.Warn("kept warning", tag.NewInt("shard", 1))
	l.Error("kept error", tag.Error(errors.New("boom")))
	l.Error("service failures", tag.NewStringTag("operation", "AddWorkflowTask"), tag.Error(errors.New("task queue closed")))
	s.stopping.Store(true)
	l.Warn("warning while stopping")
	l.Error("cancelled while stopping", tag.Error(context.Canceled))
	l.Error("failure while stopping", tag.Error(errors.New("disk full")))

	got := buf.String()
	for _, want := range []string{
		`level=WARN msg="kept warning" service=history shard=1`,
		`level=ERROR msg="kept error" service=history error=boom`,
		`msg="failure while stopping"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"info is dropped", "HTTP API", "warning while stopping", "cancelled while stopping", "task queue closed"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("log has %q:\n%s", unwanted, got)
		}
	}

	defer func() {
		p := recover()
		err, ok := p.(error)
		if !ok || !strings.Contains(err.Error(), "cannot listen service=history port=7233") {
			t.Errorf("Fatal panicked with %v", p)
		}
	}()
	l.Fatal("cannot listen", tag.NewInt("port", 7233))
	t.Errorf("Fatal returned")
}
