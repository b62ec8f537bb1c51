package prom

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/zeroner/zeroner/pipeline"
)

func TestRecorder(t *testing.T) {
	tests := []struct {
		name   string
		record func(r *Registry)
		want   map[string]float64
		absent []string
	}{
		{
			name:   "sharded",
			record: func(r *Registry) { r.Sharded(3, 250, 4); r.Sharded(1, 10, 0) },
			want: map[string]float64{
				"zeroner_shards_total":                   4,
				`zeroner_documents_total{stage="shard"}`: 260,
				"zeroner_rejects_total":                  4,
			},
		},
		{
			name: "stages with usage",
			record: func(r *Registry) {
				u := pipeline.Usage{Requests: 3, CacheHits: 1, PromptTokens: 900, CompletionTokens: 120, CachedTokens: 512}
				r.Stage("discover", 10, 40, 1, u)
				r.Stage("discover", 5, 2, 0, u)
				r.Stage("mediate", 15, 42, 0, pipeline.Usage{Requests: 1, PromptTokens: 100, CompletionTokens: 10})
			},
			want: map[string]float64{
				`zeroner_documents_total{stage="discover"}`:             15,
				`zeroner_mentions_total{stage="discover"}`:              42,
				`zeroner_stage_failures_total{stage="discover"}`:        1,
				`zeroner_llm_requests_total{stage="discover"}`:          6,
				`zeroner_llm_cache_hits_total{stage="discover"}`:        2,
				`zeroner_llm_prompt_tokens_total{stage="discover"}`:     1800,
				`zeroner_llm_completion_tokens_total{stage="discover"}`: 240,
				`zeroner_llm_cached_tokens_total{stage="discover"}`:     1024,
				`zeroner_llm_requests_total{stage="mediate"}`:           1,
				`zeroner_llm_cache_hits_total{stage="mediate"}`:         0,
			},
		},
		{
			name:   "rules stages have no llm series",
			record: func(r *Registry) { r.Stage("calibrate", 7, 3, 0, pipeline.Usage{}) },
			want:   map[string]float64{`zeroner_documents_total{stage="calibrate"}`: 7},
			absent: []string{`zeroner_llm_requests_total{stage="calibrate"}`},
		},
		{
			name:   "errors",
			record: func(r *Registry) { r.StageError("mediate"); r.StageError("mediate"); r.StageError("shard") },
			want: map[string]float64{
				`zeroner_stage_errors_total{stage="mediate"}`: 2,
				`zeroner_stage_errors_total{stage="shard"}`:   1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New()
			tt.record(r)
			got := scrape(t, serve(t, r))
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present, want it absent", k)
				}
			}
			if _, ok := got["go_goroutines"]; !ok {
				t.Error("no go_goroutines: runtime collector missing")
			}
		})
	}
}

func TestNilRegistryRecordsNothing(t *testing.T) {
	var r *Registry
	r.Sharded(1, 1, 1)
	r.Stage("discover", 1, 1, 1, pipeline.Usage{Requests: 1})
	r.StageError("discover")
	if r.SDK() != nil {
		t.Error("nil registry: want a nil SDK handler")
	}
}

func TestSDKHandler(t *testing.T) {
	r := New()
	h := r.SDK().WithTags(map[string]string{"namespace": "default", "task-queue": "q"})
	h.Counter("temporal_poller_start").Inc(2)
	h.WithTags(map[string]string{"task-queue": "other"}).Counter("temporal_poller_start").Inc(1)
	// The same name with other tags: a scrape must still be valid.
	r.SDK().Counter("temporal_poller_start").Inc(5)
	h.Gauge("temporal_num_pollers").Update(4)
	h.Gauge("temporal_num_pollers").Update(2.5)
	tm := h.Timer("temporal_activity_execution_latency")
	tm.Record(30 * time.Millisecond)
	tm.Record(2 * time.Second)
	tm.Record(time.Hour) // above every bucket: counted in +Inf only
	// A name taken by a counter cannot become a gauge; it records nothing.
	h.Gauge("temporal_poller_start_total").Update(99)

	got := scrape(t, serve(t, r))
	want := map[string]float64{
		`temporal_poller_start_total{namespace="default",task_queue="q"}`:                                  2,
		`temporal_poller_start_total{namespace="default",task_queue="other"}`:                              1,
		`temporal_poller_start_total`:                                                                      5,
		`temporal_num_pollers{namespace="default",task_queue="q"}`:                                         2.5,
		`temporal_activity_execution_latency_seconds_count{namespace="default",task_queue="q"}`:            3,
		`temporal_activity_execution_latency_seconds_bucket{namespace="default",task_queue="q",le="0.05"}`: 1,
		`temporal_activity_execution_latency_seconds_bucket{namespace="default",task_queue="q",le="5"}`:    2,
		`temporal_activity_execution_latency_seconds_bucket{namespace="default",task_queue="q",le="1800"}`: 2,
		`temporal_activity_execution_latency_seconds_bucket{namespace="default",task_queue="q",le="+Inf"}`: 3,
		`temporal_activity_execution_latency_seconds_sum{namespace="default",task_queue="q"}`:              3602.03,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// TestSDKClientMetrics dials a fake Temporal frontend with the registry's
// handler: the SDK counts the request it sends on connecting.
func TestSDKClientMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	workflowservice.RegisterWorkflowServiceServer(gs, frontend{})
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	r := New()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.DialContext(ctx, client.Options{HostPort: ln.Addr().String(), MetricsHandler: r.SDK()})
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()

	got := scrape(t, serve(t, r))
	// The SDK's tags on a client's request.
	const tags = `{activity_type="none",client_name="temporal_go",namespace="_unknown_",operation="GetSystemInfo",` +
		`task_queue="none",worker_type="none",workflow_type="none"}`
	for k, v := range map[string]float64{
		"temporal_request_total" + tags:                 1,
		"temporal_request_latency_seconds_count" + tags: 1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got["temporal_request_failure_total"+tags]; ok {
		t.Error("a failure counted for a request that succeeded")
	}
}

// frontend answers the one call a client makes when it connects.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
}

func (frontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	return &workflowservice.GetSystemInfoResponse{}, nil
}

// serve serves r on a free port for the test and returns the metrics URL.
func serve(t *testing.T, r *Registry) string {
	t.Helper()
	s, err := r.Serve(context.Background(), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return "http://" + s.Addr() + "/metrics"
}

// scrape returns the samples at url by series ("name{labels}").
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	got := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
