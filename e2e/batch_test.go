package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zeroner/zeroner/activities/runs"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/workflows"
)

// runJSON reads the parts of a run's run.json that the batch tests check.
func batchRunJSON(t *testing.T, s blob.Store, sum activities.Summary) (ledger runs.Ledger, batch map[string]runs.BatchSummary) {
	t.Helper()
	data, err := blob.ReadAll(context.Background(), s, sum.Outputs.Summary)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Ledger runs.Ledger                  `json:"ledger"`
		Batch  map[string]runs.BatchSummary `json:"batch"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v.Ledger, v.Batch
}

// Every stage in Batch API mode against the test server, with batches that
// fail in part and batches that expire: the job's mentions are the online
// mode's, no request goes online, every token is a batch token, and run.json
// says how many rounds each stage needed.
func TestLLMBatchAPIEqualsOnline(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t), Seed: 11,
		BatchDelay: 100 * time.Millisecond, BatchItemFail: 0.05, BatchExpire: 0.25})
	store, root := localStore(t)
	h := newHarness(t, store, nil)

	cfg, _, _ := llmJob(t, root, "music", url, activities.LLMConfig{})
	online := h.run(t, workflows.CorpusState{Config: cfg})
	onlineRequests := srv.Stats().Requests

	cfg.Job, cfg.Output = "llm-music-batch", blob.Join(root, "batch")
	cfg.Backend.Cache = blob.Join(cfg.Output, "cache", "llm")
	cfg.Backend.Batch = activities.BatchConfig{Mode: activities.BatchAPI, PollSeconds: 0.05, MaxPollSeconds: 0.2, MaxRounds: 8}
	batch := h.run(t, workflows.CorpusState{Config: cfg})

	st := srv.Stats()
	if n := st.Requests - onlineRequests; n != 0 {
		t.Errorf("batch mode sent %d online requests", n)
	}
	t.Logf("batches: %+v", st.Batch)
	if st.Batch.Expired == 0 || st.Batch.ItemsFailed == 0 || st.Batch.Completed == 0 {
		t.Errorf("the test did not exercise expiry and failed items: %+v", st.Batch)
	}
	if batch.Failures != 0 {
		t.Errorf("batch run: %d failures", batch.Failures)
	}
	got, want := predicted(t, store, batch), predicted(t, store, online)
	if len(want) == 0 {
		t.Fatal("online run found nothing")
	}
	compare(t, "batch vs online", got, want, nil)

	ledger, rounds := batchRunJSON(t, store, batch)
	total := ledger.Stages[activities.StageDiscover]
	total.Add(ledger.Stages[activities.StageMediate])
	total.Add(ledger.Stages[activities.StageCalibrate])
	if total.Requests != 0 || total.BatchRequests == 0 || total.BatchTokens != total.PromptTokens+total.CompletionTokens {
		t.Errorf("ledger: %+v; want only batch requests, all tokens batch tokens", total)
	}
	resubmitted := false
	for _, stage := range []string{activities.StageDiscover, activities.StageMediate, activities.StageCalibrate} {
		r, ok := rounds[stage]
		if !ok || r.MaxRounds == 0 || r.Answered == 0 {
			t.Errorf("run.json batch[%s] = %+v", stage, r)
		}
		if r.Requests > r.Answered {
			resubmitted = true
		}
	}
	if !resubmitted {
		t.Errorf("no stage re-submitted anything: %+v", rounds)
	}
	t.Logf("rounds: %+v", rounds)

	// A later online run of the same job reuses the batch answers.
	cfg.Backend.Batch = activities.BatchConfig{}
	cfg.Full = true
	before := srv.Stats().Requests
	again := h.run(t, workflows.CorpusState{Config: cfg})
	if n := srv.Stats().Requests - before; n != 0 || again.Mentions != batch.Mentions {
		t.Errorf("online re-run after batch: %d requests, %d mentions (batch %d)", n, again.Mentions, batch.Mentions)
	}
}

// A round that waits for hundreds of poll intervals leaves a short shard
// history: the wait is one activity, not a timer and a poll per interval
// (which, with short polls over a day's wait, would reach Temporal's
// history limit and end the shard).
func TestLongBatchWaitKeepsHistoryShort(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t), BatchDelay: 5 * time.Second})
	store, root := localStore(t)
	h := newHarness(t, store, nil)
	cfg, _, _ := llmJob(t, root, "music", url, activities.LLMConfig{})
	cfg.Backend.Batch = activities.BatchConfig{Mode: activities.BatchAPI, PollSeconds: 0.005, MaxPollSeconds: 0.005, MaxRounds: 4}
	sum := h.run(t, workflows.CorpusState{Config: cfg})
	if sum.Mentions == 0 || sum.Failures != 0 {
		t.Fatalf("batch run: %d mentions, %d failures", sum.Mentions, sum.Failures)
	}
	if st := srv.Stats(); st.Batch.Completed < 3 {
		t.Fatalf("%d batches completed, want one per stage at least", st.Batch.Completed)
	}
	ctx := context.Background()
	for s := range sum.Shards {
		id := fmt.Sprintf("%s/shard-%05d", sum.RunID, s)
		d, err := h.client.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		// Each stage's 5 s wait is 1,000 poll intervals: polled from the
		// workflow (a timer, a poll and their workflow tasks, about 11
		// events a poll at the server's pace of about one a second), that
		// is over 300 events; waited in one activity, about 140 in all.
		n := d.GetWorkflowExecutionInfo().GetHistoryLength()
		if n > 200 {
			t.Errorf("shard workflow %s: %d history events", id, n)
		}
	}
}

// answerFile answers a request file as an outside batch system would, by
// asking the test server's chat endpoint for each line; with half, it
// answers only the first half of the lines.
func answerFile(t *testing.T, baseURL string, requests []byte, half bool) []byte {
	t.Helper()
	lines, err := llm.DecodeBatch(requests)
	if err != nil {
		t.Fatal(err)
	}
	if half {
		lines = lines[:len(lines)/2]
	}
	var out bytes.Buffer
	for i, l := range lines {
		body, err := json.Marshal(l.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(baseURL+"/chat/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("answer %s: %d %s %v", l.CustomID, resp.StatusCode, answer, err)
		}
		line, _ := json.Marshal(llm.BatchResult{ID: fmt.Sprintf("req-%d", i), CustomID: l.CustomID,
			Response: &llm.BatchResponse{StatusCode: 200, Body: answer}})
		out.Write(append(line, '\n'))
	}
	return out.Bytes()
}

// File-exchange mode: the job writes each round's requests.jsonl under the
// exchange prefix; the test, playing an outside batch system, writes
// responses.jsonl beside it (the first one partial) and sends the resume
// signal, as `starter batch resume` does. The polls are an hour apart, so
// only the signal moves the job on. The job completes with the online
// mode's mentions.
func TestLLMBatchFileExchange(t *testing.T) {
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t)})
	store, root := localStore(t)
	h := newHarness(t, store, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cfg, _, _ := llmJob(t, root, "science", url, activities.LLMConfig{})
	online := h.run(t, workflows.CorpusState{Config: cfg})

	exchange := blob.Join(root, "exchange")
	cfg.Job, cfg.Output = "llm-science-files", blob.Join(root, "files")
	cfg.Backend.Cache = blob.Join(cfg.Output, "cache", "llm")
	cfg.Backend.Batch = activities.BatchConfig{Mode: activities.BatchFiles, Dir: exchange, PollSeconds: 3600, MaxRounds: 6}
	wr, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(cfg.Job), TaskQueue: queue},
		workflows.AnnotateCorpus, workflows.CorpusState{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var sum activities.Summary
	go func() { done <- wr.Get(ctx, &sum) }()

	answered := map[string]bool{}
	partial := 0
	for loop := true; loop; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("job: %v", err)
			}
			loop = false
			continue
		case <-time.After(50 * time.Millisecond):
		}
		objs, err := store.List(ctx, exchange+"/")
		if err != nil {
			t.Fatal(err)
		}
		wrote := false
		for _, o := range objs {
			if !strings.HasSuffix(o.URI, "/requests.jsonl") || answered[o.URI] {
				continue
			}
			answered[o.URI] = true
			data, err := blob.ReadAll(ctx, store, o.URI)
			if err != nil {
				t.Fatal(err)
			}
			half := partial == 0 && strings.Contains(o.URI, "/round-0/")
			if half {
				partial++
			}
			resp := strings.TrimSuffix(o.URI, "requests.jsonl") + "responses.jsonl"
			put(t, store, resp, answerFile(t, url, data, half))
			wrote = true
		}
		if wrote {
			if err := h.client.SignalWorkflow(ctx, workflows.WorkflowID(cfg.Job), "", workflows.SignalResume, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if partial == 0 {
		t.Fatal("no partial responses file was written")
	}
	got, want := predicted(t, store, sum), predicted(t, store, online)
	if len(want) == 0 {
		t.Fatal("online run found nothing")
	}
	compare(t, "files vs online", got, want, nil)
	_, rounds := batchRunJSON(t, store, sum)
	if rounds[activities.StageDiscover].MaxRounds < 2 {
		t.Errorf("the partial answer did not lead to a second round: %+v", rounds)
	}
	t.Logf("%d request files answered; rounds %+v; %d online requests in all", len(answered), rounds, srv.Stats().Requests)
}

// kill -9 of `starter run --dev` (server and worker) while its shards wait
// for batches, then the same command again: the job completes with the
// gold mentions, and no round's batch was submitted twice.
func TestKillWhileWaitingForBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, url := sim(t, llmsim.Options{Gold: devFiles(t), BatchDelay: 1500 * time.Millisecond})
	data := dataset.Path(t, "crossner", "politics", "dev.txt")
	schema, _ := filepath.Abs(filepath.Join("..", "schemas", "crossner-politics.yaml"))
	args := []string{"run", "--dev", "--job", "batch-crash", "--corpus", data, "--format", "bio", "--schema", schema,
		"--out", "out", "--shard-size", "100", "--window", "3", "--llm-base-url", url, "--llm-model", "llmsim",
		"--batch", "api", "--batch-poll", "200ms", "--batch-max-poll", "500ms"}
	dir := t.TempDir()
	var log bytes.Buffer
	cmd := starter(ctx, dir, args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for srv.Stats().Batch.Created < 3 {
		if ctx.Err() != nil {
			t.Fatalf("no batches submitted in time:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	before := srv.Stats().Batch
	if out, err := starter(ctx, dir, args...).CombinedOutput(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	after := srv.Stats().Batch
	t.Logf("batches at the kill: %+v; at the end: %+v", before, after)
	if before.Completed+before.Expired+before.Failed >= before.Created {
		t.Fatalf("the kill did not land while batches were in progress: %+v", before)
	}

	// Every batch carries its round's tag: a re-submission would repeat one.
	type listed struct {
		ID       string            `json:"id"`
		Metadata map[string]string `json:"metadata"`
	}
	var all []listed
	for after := ""; ; {
		resp, err := http.Get(url + "/batches?limit=100&after=" + after)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Data    []listed `json:"data"`
			HasMore bool     `json:"has_more"`
			LastID  string   `json:"last_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("list batches: %d %v", resp.StatusCode, err)
		}
		all = append(all, page.Data...)
		if !page.HasMore {
			break
		}
		after = page.LastID
	}
	if int64(len(all)) != after.Created {
		t.Fatalf("listed %d batches, created %d", len(all), after.Created)
	}
	tags := map[string]string{}
	for _, b := range all {
		tag := b.Metadata["zeroner_batch"]
		if tag == "" {
			t.Errorf("batch %s has no tag", b.ID)
		}
		if prev, dup := tags[tag]; dup {
			t.Errorf("round %s submitted twice: %s and %s", tag, prev, b.ID)
		}
		tags[tag] = b.ID
	}
	if after.Created <= before.Created {
		t.Errorf("no batch after the restart (%d before, %d after): the job did not go on", before.Created, after.Created)
	}
	gold, _ := goldSpans(t, "", data)
	got := map[string]bool{}
	for _, m := range runMentions(t, dir) {
		got[fmt.Sprintf("%s %d %d %s", m.DocID, m.Start, m.End, m.Label)] = true
	}
	if len(got) == 0 {
		t.Fatal("no mentions")
	}
	// Gold keys carry the document ids the BIO reader gives for the
	// file's URI; compare the counts and a sample instead of the ids' prefix.
	if len(got) != len(gold) {
		t.Errorf("%d mentions, gold has %d", len(got), len(gold))
	}
}
