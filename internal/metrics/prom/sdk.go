package prom

import (
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// timerBuckets are the histogram buckets of the SDK's timers, in seconds:
// from a poll's milliseconds to a stage's minutes over an LLM.
var timerBuckets = []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 1800}

type kind int

const (
	counterKind kind = iota
	gaugeKind
	timerKind
)

// sdkMetrics holds the Temporal SDK's metrics. The SDK names a metric and
// adds tags as it goes (namespace, task queue, activity type, ...), and the
// same name may come with different tags, so the series are kept by name
// and tags and exported at scrape time rather than declared up front.
type sdkMetrics struct {
	mu     sync.Mutex
	series map[string]*series // by name and tags
	kinds  map[string]kind    // by name: a name is one kind of metric
}

func newSDKMetrics() *sdkMetrics {
	return &sdkMetrics{series: make(map[string]*series), kinds: make(map[string]kind)}
}

// series is one metric with one set of tags.
type series struct {
	kind   kind
	name   string
	labels prometheus.Labels

	bits atomic.Uint64 // counter: a count; gauge: float64 bits

	mu      sync.Mutex // timer
	count   uint64
	sum     float64
	buckets []uint64 // per bucket, not cumulative
}

// get returns the series of name and tags, or nil when name is already
// another kind of metric (it is then dropped: a scrape must stay valid).
func (m *sdkMetrics) get(k kind, name string, tags map[string]string) *series {
	name = promName(name, k)
	keys := make([]string, 0, len(tags))
	for t := range tags {
		keys = append(keys, t)
	}
	sort.Strings(keys)
	var id strings.Builder
	id.WriteString(name)
	labels := make(prometheus.Labels, len(tags))
	for _, t := range keys {
		n := sanitize(t)
		labels[n] = tags[t]
		id.WriteString("\xff" + n + "\xfe" + tags[t])
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if have, ok := m.kinds[name]; ok && have != k {
		return nil
	}
	m.kinds[name] = k
	s, ok := m.series[id.String()]
	if !ok {
		s = &series{kind: k, name: name, labels: labels}
		if k == timerKind {
			s.buckets = make([]uint64, len(timerBuckets))
		}
		m.series[id.String()] = s
	}
	return s
}

// promName follows the naming of Prometheus and of the SDK's own tally
// reporter: counters end in _total, timers are histograms in _seconds.
func promName(name string, k kind) string {
	name = sanitize(name)
	switch {
	case k == counterKind && !strings.HasSuffix(name, "_total"):
		name += "_total"
	case k == timerKind && !strings.HasSuffix(name, "_seconds"):
		name += "_seconds"
	}
	return name
}

// sanitize makes s a valid metric or label name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

func (s *series) Inc(d int64) {
	if s != nil && d > 0 {
		s.bits.Add(uint64(d))
	}
}

func (s *series) Update(v float64) {
	if s != nil {
		s.bits.Store(math.Float64bits(v))
	}
}

func (s *series) Record(d time.Duration) {
	if s == nil {
		return
	}
	v := d.Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.sum += v
	for i, b := range timerBuckets {
		if v <= b {
			s.buckets[i]++
			break
		}
	}
}

// metric returns s as a constant metric for a scrape.
func (s *series) metric() (prometheus.Metric, error) {
	names := make([]string, 0, len(s.labels))
	for n := range s.labels {
		names = append(names, n)
	}
	sort.Strings(names)
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = s.labels[n]
	}
	desc := prometheus.NewDesc(s.name, "Temporal SDK metric "+s.name+".", names, nil)
	switch s.kind {
	case counterKind:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, float64(s.bits.Load()), values...)
	case gaugeKind:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, math.Float64frombits(s.bits.Load()), values...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cum := make(map[float64]uint64, len(timerBuckets))
	var n uint64
	for i, b := range timerBuckets {
		n += s.buckets[i]
		cum[b] = n
	}
	return prometheus.NewConstHistogram(desc, s.count, s.sum, cum, values...)
}

// Describe sends nothing: the SDK's metrics are not known in advance, which
// makes this an unchecked collector.
func (m *sdkMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series.
func (m *sdkMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	all := make([]*series, 0, len(m.series))
	for _, s := range m.series {
		all = append(all, s)
	}
	m.mu.Unlock()
	for _, s := range all {
		pm, err := s.metric()
		if err != nil {
			pm = prometheus.NewInvalidMetric(prometheus.NewDesc(s.name, "invalid", nil, nil), err)
		}
		ch <- pm
	}
}

// sdkHandler is the SDK's view of sdkMetrics: a set of tags.
type sdkHandler struct {
	m    *sdkMetrics
	tags map[string]string
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return sdkHandler{m: h.m, tags: merged}
}

// The instruments are the series themselves; a nil series (a name of
// another kind) records nothing.

func (h sdkHandler) Counter(name string) client.MetricsCounter {
	return h.m.get(counterKind, name, h.tags)
}

func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	return h.m.get(gaugeKind, name, h.tags)
}

func (h sdkHandler) Timer(name string) client.MetricsTimer {
	return h.m.get(timerKind, name, h.tags)
}
