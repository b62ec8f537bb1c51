package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// noise lists message prefixes that say nothing about a dev server's health.
var noise = []string{
	"HTTP API port has not been set",                // every start; we serve no HTTP API
	"unable to add metrics baggage to gRPC trailer", // sporadic; metrics are discarded anyway
	"TrailerToContextMetadataInterceptor",           // in-process calls carry no trailer context
}

// slogger adapts the server's logger to slog. Debug and info records are
// dropped: the server writes hundreds of them at start-up alone.
type slogger struct {
	l *slog.Logger
	// stopping is set when Stop begins. From then on warnings, and errors
	// about cancelled calls, are dropped: the system workers complain about
	// every closed connection and the frontend cuts off long polls.
	stopping *atomic.Bool
	tags     []tag.Tag // converted only when a record is written: With is on hot paths
}

var (
	_ log.Logger     = slogger{}
	_ log.WithLogger = slogger{}
)

func (s slogger) Debug(string, ...tag.Tag) {}
func (s slogger) Info(string, ...tag.Tag)  {}

func (s slogger) Warn(msg string, tags ...tag.Tag) {
	if s.stopping.Load() || isNoise(msg) {
		return
	}
	s.log(slog.LevelWarn, msg, tags)
}

func (s slogger) Error(msg string, tags ...tag.Tag)  { s.logError(msg, tags) }
func (s slogger) DPanic(msg string, tags ...tag.Tag) { s.logError(msg, tags) }

// Panic and Fatal must not return. Fatal panics instead of exiting the
// process, so that start-up failures (a port in use) reach launch's recover
// and come back from Start as errors. The panic value carries the message
// and tags, so they are not logged as well.
func (s slogger) Panic(msg string, tags ...tag.Tag) { s.die(msg, tags) }
func (s slogger) Fatal(msg string, tags ...tag.Tag) { s.die(msg, tags) }

func (s slogger) With(tags ...tag.Tag) log.Logger {
	s.tags = append(slices.Clip(s.tags), tags...)
	return s
}

func (s slogger) logError(msg string, tags []tag.Tag) {
	if isNoise(msg) {
		return
	}
	if s.stopping.Load() && (slices.ContainsFunc(s.tags, canceled) || slices.ContainsFunc(tags, canceled)) {
		return
	}
	if slices.ContainsFunc(tags, queueClosed) {
		return
	}
	s.log(slog.LevelError, msg, tags)
}

func (s slogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.LogAttrs(ctx, level, msg, s.attrs(tags)...)
}

func (s slogger) die(msg string, tags []tag.Tag) {
	var b strings.Builder
	b.WriteString(msg)
	for _, a := range s.attrs(tags) {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	panic(errors.New(b.String()))
}

func (s slogger) attrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(s.tags)+len(tags))
	for _, t := range s.tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	return attrs
}

func isNoise(msg string) bool {
	return slices.ContainsFunc(noise, func(n string) bool { return strings.HasPrefix(msg, n) })
}

// canceled reports whether t is an error tag for a cancelled call.
func canceled(t tag.Tag) bool {
	return t.Key() == "error" && strings.Contains(fmt.Sprint(t.Value()), context.Canceled.Error())
}

// queueClosed reports whether t is the error of a task handed to a task
// queue that matching has just unloaded, as when the in-process worker
// stops on Ctrl-C: history hands the task over again, nothing is lost.
func queueClosed(t tag.Tag) bool {
	return t.Key() == "error" && strings.Contains(fmt.Sprint(t.Value()), "task queue closed")
}
