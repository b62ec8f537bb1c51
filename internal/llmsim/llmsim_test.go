package llmsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeroner/zeroner/pipeline"
)

// A tiny gold file: CrossNER order, with a sentence that occurs twice with
// different annotations.
const goldBIO = `Geoffrey	B-researcher
Hinton	I-researcher
taught	O
at	O
Toronto	B-university
.	O

The	O
data	O
system	O
of	O
Google	B-organisation
runs	O
in	O
Canada	B-country
and	O
Canada	O
.	O

Paris	B-location
is	O
big	O
.	O

Filler	O
sentence	O
number	O
one	O
.	O

Paris	B-person
is	O
big	O
.	O
`

// MIT order: tag first.
const mitBIO = "O\tcheap\nB-Cuisine\tthai\nO\tfood\n"

func writeGold(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "gold.txt"), filepath.Join(dir, "mit.bio")
	if err := os.WriteFile(a, []byte(goldBIO), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(mitBIO), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{a, b}
}

func newTest(t *testing.T, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	if opt.Gold == nil {
		opt.Gold = writeGold(t)
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return s, ts
}

func TestGoldEntities(t *testing.T) {
	s, _ := newTest(t, Options{})
	label := func(items ...string) [][]string {
		var its []item
		for _, x := range items {
			its = append(its, newItem(x))
		}
		var out [][]string
		for k, es := range s.gold.entities(its) {
			var ls []string
			for _, e := range es {
				ls = append(ls, fmt.Sprintf("%s=%s", string([]rune(items[k])[e.start:e.end]), e.label))
			}
			out = append(out, ls)
		}
		return out
	}
	tests := []struct {
		name  string
		items []string
		want  [][]string
	}{
		{"whole", []string{"Geoffrey Hinton taught at Toronto ."}, [][]string{{"Geoffrey Hinton=researcher", "Toronto=university"}}},
		{"joined", []string{"Geoffrey Hinton taught at Toronto . The data system of Google runs in Canada and Canada ."},
			[][]string{{"Geoffrey Hinton=researcher", "Toronto=university", "Google=organisation", "Canada=country"}}},
		{"other white space", []string{"Geoffrey Hinton taught at\nToronto .\n\nThe data"}, [][]string{{"Geoffrey Hinton=researcher", "Toronto=university"}}},
		{"fragments", []string{"Hinton taught at Toronto . The data system of Google"},
			[][]string{{"Toronto=university", "Google=organisation"}}},
		{"unknown text", []string{"Nothing known here at all"}, [][]string{nil}},
		{"mit", []string{"cheap thai food"}, [][]string{{"thai=Cuisine"}}},
		// "Paris is big ." is gold twice: the neighbours tell which.
		{"duplicate after its neighbour", []string{"Filler sentence number one .", "Paris is big ."}, [][]string{nil, {"Paris=person"}}},
		{"duplicate before its neighbour", []string{"Paris is big .", "Filler sentence number one ."}, [][]string{{"Paris=location"}, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := label(tt.items...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKind(t *testing.T) {
	tests := []struct{ schema, system, want string }{
		{"zeroner_anchor", "", KindAnchor},
		{"zeroner_label_map", "", KindLabelMap},
		{"", "[zeroner:mediate]\nYou classify", KindMediate},
		{"answer", "[zeroner:calibrate]\n", KindCalibrate},
		{"", "You are a helpful assistant.", KindOther},
	}
	for _, tt := range tests {
		if got := kindOf(tt.schema, tt.system); got != tt.want {
			t.Errorf("kindOf(%q, %q) = %q, want %q", tt.schema, tt.system, got, tt.want)
		}
	}
}

func TestArchetypeRule(t *testing.T) {
	sc := &pipeline.Schema{Name: "x", Labels: []pipeline.Label{{Name: "researcher", Description: "d", Archetypes: []pipeline.Archetype{pipeline.Person, pipeline.Science}}}}
	s, _ := newTest(t, Options{Schemas: []*pipeline.Schema{sc}})
	for label, want := range map[string][]pipeline.Archetype{
		"researcher":         {pipeline.Person, pipeline.Science}, // pinned
		"politicalparty":     {pipeline.Organization},
		"musicgenre":         {pipeline.Misc},
		"astronomicalobject": {pipeline.Science},
		"Restaurant_Name":    {pipeline.Organization},
		"Dish":               {pipeline.Food},
		"academicjournal":    {pipeline.CreativeWork},
		"zzz":                {pipeline.Misc},
	} {
		if got := s.archetypes(label); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", label, got, want)
		}
	}
}

// chatBody is a chat completion request of a kind with a user payload.
func chatBody(kind string, payload any, extra map[string]any) []byte {
	p, _ := json.Marshal(payload)
	req := map[string]any{
		"model": "llmsim",
		"messages": []any{
			map[string]any{"role": "system", "content": "[zeroner:" + kind + "]\nLabels:\n- researcher: r\n- university: u\n- organisation: o\n- country: c\n- misc: m\n\nRules:"},
			map[string]any{"role": "user", "content": "Input, as JSON:\n" + string(p)},
		},
	}
	for k, v := range extra {
		req[k] = v
	}
	b, _ := json.Marshal(req)
	return b
}

type chatResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Logprobs *struct {
			Content []struct {
				Token   string  `json:"token"`
				Logprob float64 `json:"logprob"`
			} `json:"content"`
		} `json:"logprobs"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		TotalTokens         int `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

func post(t *testing.T, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func ask(t *testing.T, url string, body []byte) chatResponse {
	t.Helper()
	resp, b := post(t, url+"/v1/chat/completions", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var r chatResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

var passages = map[string]any{"passages": []any{
	map[string]any{"id": 1, "text": "Geoffrey Hinton taught at Toronto ."},
	map[string]any{"id": 2, "text": "The data system of Google runs in Canada and Canada ."},
}}

func TestChatAnswers(t *testing.T) {
	_, ts := newTest(t, Options{})
	mentions := map[string]any{"passages": []any{map[string]any{
		"text": "The data system of Google runs in Canada and Canada .",
		"mentions": []any{
			map[string]any{"id": 1, "text": "Google", "archetype": "organization", "candidates": []string{"organisation", "university", "misc"}},
			map[string]any{"id": 2, "text": "Canada", "occurrence": 1, "archetype": "location", "candidates": []string{"country", "misc"}},
			map[string]any{"id": 3, "text": "Canada", "occurrence": 2, "archetype": "location", "candidates": []string{"country", "misc"}},
		},
	}}}
	tests := []struct {
		kind    string
		payload any
		want    string
	}{
		// A string that occurs once has no occurrence; "Canada" occurs twice.
		{KindAnchor, passages, `{"passages":[{"id":1,"entities":[{"text":"Geoffrey Hinton","label":"researcher"},{"text":"Toronto","label":"university"}]},{"id":2,"entities":[{"text":"Google","label":"organisation"},{"text":"Canada","occurrence":1,"label":"country"}]}]}`},
		{KindExplorer, passages, `{"passages":[{"id":1,"mentions":["Geoffrey Hinton","Toronto"]},{"id":2,"mentions":["Google",{"text":"Canada","occurrence":1}]}]}`},
		{KindMediate, mentions, `{"mentions":[{"id":1,"text":"Google","archetype":"organization"},{"id":2,"text":"Canada","archetype":"location"},{"id":3,"text":"Canada","archetype":"misc"}]}`},
		{KindCalibrate, mentions, `{"mentions":[{"id":1,"text":"Google","label":"organisation"},{"id":2,"text":"Canada","label":"country"},{"id":3,"text":"Canada","label":"misc"}]}`},
		{KindLabelMap, map[string]any{"labels": []any{map[string]any{"name": "researcher"}, map[string]any{"name": "country"}}}, `{"labels":{"country":["location"],"researcher":["person"]}}`},
		{"nonsense", passages, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			r := ask(t, ts.URL, chatBody(tt.kind, tt.payload, nil))
			if got := r.Choices[0].Message.Content; got != tt.want {
				t.Errorf("content\n%s\nwant\n%s", got, tt.want)
			}
			if r.Object != "chat.completion" || r.Choices[0].Message.Role != "assistant" || r.Choices[0].FinishReason != "stop" {
				t.Errorf("response %+v", r)
			}
			u := r.Usage
			if u.PromptTokens == 0 || u.CompletionTokens != (len(tt.want)+3)/4 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage %+v", u)
			}
		})
	}
}

func TestSchemaNameAndReask(t *testing.T) {
	_, ts := newTest(t, Options{})
	// The kind from the schema name, the labels from the schema; a re-ask
	// appends the bad answer and a correction after the input.
	p, _ := json.Marshal(passages)
	schema := anchorSchema("person", "misc")
	body := fmt.Sprintf(`{"model":"m","messages":[{"role":"system","content":"Find names."},{"role":"user","content":%q},
		{"role":"assistant","content":"oops"},{"role":"user","content":"That answer is invalid. Again."}],
		"response_format":{"type":"json_schema","json_schema":{"name":"zeroner_anchor","schema":%s}}}`, "Input:\n"+string(p), schema)
	r := ask(t, ts.URL, []byte(body))
	want := `{"passages":[{"id":1,"entities":[{"text":"Geoffrey Hinton","label":"misc"},{"text":"Toronto","label":"misc"}]},{"id":2,"entities":[{"text":"Google","label":"misc"},{"text":"Canada","occurrence":1,"label":"misc"}]}]}`
	if got := r.Choices[0].Message.Content; got != want {
		t.Errorf("content %s\nwant %s", got, want)
	}
}

func TestLogProbs(t *testing.T) {
	_, ts := newTest(t, Options{Noise: Noise{Label: 1}})
	mentions := map[string]any{"passages": []any{map[string]any{
		"text":     "Geoffrey Hinton taught at Toronto .",
		"mentions": []any{map[string]any{"id": 1, "text": "Geoffrey Hinton", "candidates": []string{"person", "researcher", "misc"}}},
	}}}
	r := ask(t, ts.URL, chatBody(KindCalibrate, mentions, map[string]any{"logprobs": true, "top_logprobs": 1}))
	content := r.Choices[0].Message.Content
	var spelled strings.Builder
	low := ""
	for _, tk := range r.Choices[0].Logprobs.Content {
		spelled.WriteString(tk.Token)
		if tk.Logprob < -1 {
			low += tk.Token
		}
		if tk.Logprob > 0 {
			t.Errorf("log probability %v > 0", tk.Logprob)
		}
	}
	if spelled.String() != content {
		t.Errorf("tokens spell %q, content %q", spelled.String(), content)
	}
	var a struct{ Mentions []struct{ Label string } }
	if err := json.Unmarshal([]byte(content), &a); err != nil {
		t.Fatal(err)
	}
	// Label noise 1: never the gold label, and unsure of the one chosen.
	if l := a.Mentions[0].Label; l == "researcher" || low != l {
		t.Errorf("label %q, low-probability tokens %q", l, low)
	}
}

func TestNoise(t *testing.T) {
	discover := func(opt Options, kind string) string {
		_, ts := newTest(t, opt)
		return ask(t, ts.URL, chatBody(kind, passages, nil)).Choices[0].Message.Content
	}
	if got := discover(Options{Noise: Noise{AnchorMiss: 1}}, KindAnchor); got != `{"passages":[{"id":1,"entities":[]},{"id":2,"entities":[]}]}` {
		t.Errorf("anchor miss 1: %s", got)
	}
	got := discover(Options{Noise: Noise{ExplorerSpurious: 1}}, KindExplorer)
	for _, w := range []string{`"data"`, `"system"`, `"runs"`, `"taught"`} {
		if !strings.Contains(got, w) {
			t.Errorf("explorer spurious 1: no %s in %s", w, got)
		}
	}
	if strings.Contains(got, `"and"`) || strings.Contains(got, `"The"`) {
		t.Errorf("explorer spurious 1: a short or capitalised word in %s", got)
	}
	if got := discover(Options{Noise: Noise{ExplorerSpurious: 1}}, KindAnchor); strings.Contains(got, "data") {
		t.Errorf("the explorer's spurious rate reaches the anchor: %s", got)
	}
	got = discover(Options{Noise: Noise{Boundary: 1}}, KindExplorer)
	if strings.Contains(got, `"text":"Google"`) || strings.Contains(got, `"text":"Geoffrey Hinton"`) {
		t.Errorf("boundary 1: a gold boundary kept in %s", got)
	}
	// Archetype noise: never the gold archetype.
	_, ts := newTest(t, Options{Noise: Noise{Archetype: 1}, Seed: 5})
	mentions := map[string]any{"passages": []any{map[string]any{
		"text": "Geoffrey Hinton taught at Toronto .", "mentions": []any{map[string]any{"id": 1, "text": "Geoffrey Hinton"}, map[string]any{"id": 2, "text": "Toronto"}},
	}}}
	got = ask(t, ts.URL, chatBody(KindMediate, mentions, nil)).Choices[0].Message.Content
	if strings.Contains(got, "person") || strings.Contains(got, "organization") {
		t.Errorf("archetype noise 1: %s", got)
	}
}

func TestDeterminism(t *testing.T) {
	noise := Noise{AnchorMiss: 0.3, ExplorerSpurious: 0.5, Boundary: 0.3}
	answer := func(seed uint64) string {
		_, ts := newTest(t, Options{Noise: noise, Seed: seed})
		return ask(t, ts.URL, chatBody(KindExplorer, passages, nil)).Choices[0].Message.Content
	}
	a, b := answer(1), answer(1)
	if a != b {
		t.Errorf("same seed, different answers:\n%s\n%s", a, b)
	}
	differ := false
	for seed := uint64(2); seed < 10 && !differ; seed++ {
		differ = answer(seed) != a
	}
	if !differ {
		t.Error("the seed changes nothing")
	}
	// A passage answers the same whatever it is packed with.
	_, ts := newTest(t, Options{Noise: noise, Seed: 1})
	one := map[string]any{"passages": []any{map[string]any{"id": 1, "text": "The data system of Google runs in Canada and Canada ."}}}
	alone := ask(t, ts.URL, chatBody(KindExplorer, one, nil)).Choices[0].Message.Content
	var x, y struct {
		Passages []struct{ Mentions []any }
	}
	json.Unmarshal([]byte(alone), &x)
	json.Unmarshal([]byte(a), &y)
	if !reflect.DeepEqual(x.Passages[0].Mentions, y.Passages[1].Mentions) {
		t.Errorf("packing changes the answer: %v vs %v", x.Passages[0], y.Passages[1])
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		status int
		check  func(t *testing.T, resp *http.Response, body []byte)
	}{
		{"rate limit", Faults{RateLimit: 1}, 429, func(t *testing.T, resp *http.Response, _ []byte) {
			if resp.Header.Get("Retry-After") != "0.25" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}},
		{"server error", Faults{ServerError: 1}, 500, nil},
		{"timeout", Faults{Timeout: 1}, 504, nil},
		{"malformed", Faults{Malformed: 1}, 200, func(t *testing.T, _ *http.Response, body []byte) {
			var r chatResponse
			json.Unmarshal(body, &r)
			if json.Valid([]byte(r.Choices[0].Message.Content)) {
				t.Errorf("malformed answer is JSON: %s", r.Choices[0].Message.Content)
			}
		}},
		{"truncated", Faults{Truncated: 1}, 200, func(t *testing.T, _ *http.Response, body []byte) {
			var r chatResponse
			json.Unmarshal(body, &r)
			c := r.Choices[0].Message.Content
			if json.Valid([]byte(c)) || r.Choices[0].FinishReason != "length" || !strings.HasPrefix(c, `{"passages":[`) {
				t.Errorf("truncated answer %q, finish %q", c, r.Choices[0].FinishReason)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := newTest(t, Options{Faults: tt.faults, RetryAfter: 250 * time.Millisecond, Hang: 50 * time.Millisecond})
			resp, body := post(t, ts.URL+"/v1/chat/completions", chatBody(KindAnchor, passages, nil))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.check != nil {
				tt.check(t, resp, body)
			}
			if st := s.Stats(); len(st.Faults) != 1 {
				t.Errorf("faults %v", st.Faults)
			}
		})
	}
	// Faults are drawn per attempt: retries of one body get through, in
	// the same order on every server with the same seed.
	statuses := func() []int {
		_, ts := newTest(t, Options{Faults: Faults{RateLimit: 0.3, ServerError: 0.3}, Seed: 11})
		var out []int
		for range 12 {
			resp, _ := post(t, ts.URL+"/v1/chat/completions", chatBody(KindAnchor, passages, nil))
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b := statuses(), statuses()
	if !reflect.DeepEqual(a, b) || !slices.Contains(a, 200) || !slices.Contains(a, 429) || !slices.Contains(a, 500) {
		t.Errorf("statuses %v and %v", a, b)
	}
}

func TestTimeoutEndsWithClient(t *testing.T) {
	_, ts := newTest(t, Options{Faults: Faults{Timeout: 1}})
	c := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := c.Post(ts.URL+"/v1/chat/completions", "application/json", bytes.NewReader(chatBody(KindAnchor, passages, nil)))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestCapacity(t *testing.T) {
	for _, reject := range []bool{false, true} {
		t.Run(fmt.Sprintf("reject=%v", reject), func(t *testing.T) {
			s, ts := newTest(t, Options{MaxConcurrent: 2, Reject: reject, TTFT: 200 * time.Millisecond})
			var wg sync.WaitGroup
			codes := make([]int, 6)
			start := time.Now()
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, _ := post(t, ts.URL+"/v1/chat/completions", chatBody(KindAnchor, passages, map[string]any{"user": fmt.Sprint(i)}))
					codes[i] = resp.StatusCode
				}()
			}
			wg.Wait()
			st := s.Stats()
			if st.MaxInFlight != 2 {
				t.Errorf("max in flight %d, want 2", st.MaxInFlight)
			}
			n429 := 0
			for _, c := range codes {
				if c == 429 {
					n429++
				}
			}
			if reject {
				if n429 == 0 || int64(n429) != st.Rejected {
					t.Errorf("codes %v, rejected %d", codes, st.Rejected)
				}
				return
			}
			if n429 > 0 || time.Since(start) < 600*time.Millisecond {
				t.Errorf("codes %v in %v: six requests two at a time take three rounds", codes, time.Since(start))
			}
		})
	}
}

func TestCachedTokens(t *testing.T) {
	_, ts := newTest(t, Options{})
	first := ask(t, ts.URL, chatBody(KindAnchor, passages, nil))
	second := ask(t, ts.URL, chatBody(KindAnchor, map[string]any{"passages": []any{}}, nil))
	if first.Usage.PromptTokensDetails.CachedTokens != 0 || second.Usage.PromptTokensDetails.CachedTokens == 0 {
		t.Errorf("cached tokens %d then %d", first.Usage.PromptTokensDetails.CachedTokens, second.Usage.PromptTokensDetails.CachedTokens)
	}
}

func TestStream(t *testing.T) {
	_, ts := newTest(t, Options{})
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json",
		bytes.NewReader(chatBody(KindAnchor, passages, map[string]any{"stream": true, "stream_options": map[string]any{"include_usage": true}})))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var content strings.Builder
	var done, usage bool
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			continue
		}
		var ev struct {
			Choices []struct {
				Delta struct{ Content string }
			}
			Usage *struct {
				PromptTokens int `json:"prompt_tokens"`
			}
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		for _, c := range ev.Choices {
			content.WriteString(c.Delta.Content)
		}
		usage = usage || ev.Usage != nil && ev.Usage.PromptTokens > 0
	}
	if !done || !usage || !json.Valid([]byte(content.String())) {
		t.Errorf("done %v usage %v content %q", done, usage, content.String())
	}
}

func TestEmbeddings(t *testing.T) {
	_, ts := newTest(t, Options{EmbedDim: 32})
	embed := func(body string) [][]float64 {
		resp, b := post(t, ts.URL+"/v1/embeddings", []byte(body))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var r struct {
			Data []struct {
				Index     int
				Embedding []float64
			}
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
			}
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for i, d := range r.Data {
			if d.Index != i {
				t.Errorf("index %d at %d", d.Index, i)
			}
			out = append(out, d.Embedding)
		}
		return out
	}
	a := embed(`{"model":"e","input":"Geoffrey Hinton"}`)
	b := embed(`{"model":"e","input":["Geoffrey Hinton","Toronto"]}`)
	if len(a) != 1 || len(b) != 2 || len(a[0]) != 32 || !reflect.DeepEqual(a[0], b[0]) || reflect.DeepEqual(b[0], b[1]) {
		t.Fatalf("embeddings %v %v", a, b)
	}
	for _, v := range b {
		n := 0.0
		for _, x := range v {
			n += x * x
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("norm² %v", n)
		}
	}
	if d := embed(`{"input":"x","dimensions":8}`); len(d[0]) != 8 {
		t.Errorf("dimension %d", len(d[0]))
	}
	if resp, _ := post(t, ts.URL+"/v1/embeddings", []byte(`{"input":{}}`)); resp.StatusCode != 400 {
		t.Errorf("status %d for a bad input", resp.StatusCode)
	}
}

func TestModelsAndStats(t *testing.T) {
	s, ts := newTest(t, Options{Models: []string{"big", "small"}})
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Data []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if len(m.Data) != 2 || m.Data[0].ID != "big" {
		t.Errorf("models %+v", m)
	}
	ask(t, ts.URL, chatBody(KindAnchor, passages, nil))
	ask(t, ts.URL, chatBody(KindMediate, map[string]any{"passages": []any{}}, nil))
	if r, _ := post(t, ts.URL+"/v1/chat/completions", []byte(`not json`)); r.StatusCode != 400 {
		t.Errorf("status %d for a bad request", r.StatusCode)
	}
	resp, err = http.Get(ts.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Requests != 2 || st.ByKind[KindAnchor] != 1 || st.ByKind[KindMediate] != 1 || st.MaxInFlight != 1 || st.PromptTokens == 0 {
		t.Errorf("stats %+v", st)
	}
	if got := s.Stats(); !reflect.DeepEqual(got, st) {
		t.Errorf("Stats() %+v, /stats %+v", got, st)
	}
}

func TestOptions(t *testing.T) {
	for _, opt := range []Options{
		{Noise: Noise{Label: 2}},
		{Faults: Faults{RateLimit: 0.6, ServerError: 0.6}},
		{MaxConcurrent: -1},
		{Gold: []string{"/nonexistent/gold.txt"}},
	} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) accepted", opt)
		}
	}
}
