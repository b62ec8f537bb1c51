package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/internal/llmsim"
	"github.com/zeroner/zeroner/workflows"
)

// The test server behaving like a 7-8B model (indented JSON cut at
// max_tokens, keys in schema order, labels outside the choices, repeated
// ids, ids that drift in long lists, empty mentions): the job still
// annotates every sentence of the politics dev split, with no failed
// chunk, and its F1 against the test server's gold stays within 3 points
// of the clean run. Answers are capped at 700 tokens so that packed
// answers are cut and split. Without follow-ups the same faults fail
// chunks, as before answers were checked item by item.
func TestLLMSmallModelFaults(t *testing.T) {
	const domain = "politics"
	store, root := localStore(t)
	h := newHarness(t, store, nil)
	f1 := func(name string, small llmsim.SmallModel, llm activities.LLMConfig) (float64, activities.Summary, llmsim.Stats) {
		srv, url := sim(t, llmsim.Options{Gold: devFiles(t), Small: small, Seed: 11})
		cfg, uri, path := llmJob(t, root, domain, url, llm)
		cfg.Job = "small-" + name
		cfg.Output = root + "/out-" + name
		cfg.Backend.Cache = cfg.Output + "/cache/llm"
		sum := h.run(t, workflows.CorpusState{Config: cfg})
		gold, ids := goldSpans(t, uri, path)
		if sum.Docs != int64(len(ids)) {
			t.Fatalf("%s: %d documents, want %d", name, sum.Docs, len(ids))
		}
		got := predicted(t, store, sum)
		tp := 0
		for k := range got {
			if gold[k] {
				tp++
			}
		}
		return 2 * float64(tp) / float64(len(got)+len(gold)), sum, srv.Stats()
	}
	capped := activities.LLMConfig{MaxTokens: 700}
	clean, cleanSum, _ := f1("clean", llmsim.SmallModel{}, capped)
	if cleanSum.Failures != 0 {
		t.Fatalf("clean run: %d failures", cleanSum.Failures)
	}
	small, sum, st := f1("small", llmsim.SmallModelPreset(), capped)
	t.Logf("F1 clean %.4f, small model %.4f; %d requests; faults %v", clean, small, st.Requests, st.SmallModel)
	if sum.Failures != 0 {
		t.Errorf("small-model faults: %d failed documents, want none", sum.Failures)
		n := 0
		for doc, why := range failureReasons(t, store, sum) {
			if n++; n <= 5 {
				t.Logf("%s: %s", doc, why)
			}
		}
	}
	if small < clean-0.03 {
		t.Errorf("small-model faults: F1 %.4f, more than 3 points under the clean run's %.4f", small, clean)
	}
	for _, kind := range []string{llmsim.SmallOffLabel, llmsim.SmallRepeatID, llmsim.SmallLoseCount, llmsim.SmallMaxTokens} {
		if st.SmallModel[kind] == 0 {
			t.Errorf("no %s fault was injected: %v", kind, st.SmallModel)
		}
	}
	noFollow, without, _ := f1("no-follow-ups", llmsim.SmallModelPreset(), activities.LLMConfig{MaxTokens: 700, FollowUps: -1})
	t.Logf("without follow-ups: F1 %.4f, %d failed documents of %d", noFollow, without.Failures, without.Docs)
	if without.Failures == 0 {
		t.Errorf("without follow-ups the small-model faults failed nothing: the test shows nothing")
	}
}

// Every request body's JSON schema lists each item's "id" first, and the
// items of the passages and mentions lists have one: constrained decoders
// write keys in schema order, and a model should write which item it is
// answering before its decision. Read from the bodies the job sent.
func TestRequestSchemasIDFirst(t *testing.T) {
	srv, err := llmsim.New(llmsim.Options{Gold: devFiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies [][]byte
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/chat/completions" {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); hs.Close() })
	store, root := localStore(t)
	h := newHarness(t, store, nil)
	cfg, _, _ := llmJob(t, root, "music", hs.URL+"/v1", activities.LLMConfig{})
	h.run(t, workflows.CorpusState{Config: cfg})

	kinds := map[string]int{}
	for _, b := range bodies {
		var req struct {
			ResponseFormat struct {
				JSONSchema struct {
					Name   string          `json:"name"`
					Schema json.RawMessage `json:"schema"`
				} `json:"json_schema"`
			} `json:"response_format"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		name, schema := req.ResponseFormat.JSONSchema.Name, req.ResponseFormat.JSONSchema.Schema
		kinds[name]++
		withID := 0
		for _, keys := range propertyOrders(t, schema) {
			if i := slices.Index(keys, "id"); i > 0 {
				t.Errorf("%s: properties %v: id is not first", name, keys)
			} else if i == 0 {
				withID++
			}
		}
		if name != "zeroner_label_map" && withID == 0 {
			t.Errorf("%s: no item schema with an id: %s", name, schema)
		}
	}
	for _, k := range []string{"zeroner_anchor", "zeroner_explorer", "zeroner_mediate", "zeroner_calibrate"} {
		if kinds[k] == 0 {
			t.Errorf("no %s request among %d bodies (%v)", k, len(bodies), kinds)
		}
	}
}

// propertyOrders lists the keys of every "properties" object of a JSON
// schema, in the order the schema writes them.
func propertyOrders(t *testing.T, schema []byte) [][]string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(schema))
	var out [][]string
	var walk func(key string) // reads one value; key is the key it is under
	walk = func(key string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("schema %s: %v", schema, err)
		}
		switch tok {
		case json.Delim('{'):
			var keys []string
			for dec.More() {
				k, _ := dec.Token()
				keys = append(keys, k.(string))
				walk(k.(string))
			}
			dec.Token() // }
			if key == "properties" {
				out = append(out, keys)
			}
		case json.Delim('['):
			for dec.More() {
				walk("")
			}
			dec.Token() // ]
		}
	}
	walk("")
	return out
}
