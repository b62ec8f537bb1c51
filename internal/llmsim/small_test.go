package llmsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// longInput is a mediation or calibration input of n mentions "m1" ...
// with ids 1 ... n, none of them gold.
func longInput(n int) map[string]any {
	var ms []any
	for k := 1; k <= n; k++ {
		ms = append(ms, map[string]any{"id": k, "text": fmt.Sprintf("m%d", k), "archetype": "person"})
	}
	return map[string]any{"passages": []any{map[string]any{"text": "Nothing known here at all", "mentions": ms}}}
}

// manyPassages are eight passages, some of them gold.
var manyPassages = func() map[string]any {
	texts := []string{"Geoffrey Hinton taught at Toronto .", "The data system of Google runs in Canada and Canada .",
		"Paris is big .", "Filler sentence number one .", "cheap thai food", "Nothing known here at all",
		"Another line of plain words", "Toronto and Google"}
	var ps []any
	for k, x := range texts {
		ps = append(ps, map[string]any{"id": k + 1, "text": x})
	}
	return map[string]any{"passages": ps}
}()

func TestIndent(t *testing.T) {
	for _, kind := range []string{KindAnchor, KindExplorer, KindMediate, KindCalibrate, KindLabelMap} {
		t.Run(kind, func(t *testing.T) {
			in := passages
			switch kind {
			case KindMediate, KindCalibrate:
				in = narrowed
			case KindLabelMap:
				in = map[string]any{"labels": []any{map[string]any{"name": "researcher"}}}
			}
			_, plain := newTest(t, Options{})
			_, indented := newTest(t, Options{Small: SmallModel{Indent: true}})
			a := ask(t, plain.URL, chatBody(kind, in, nil))
			b := ask(t, indented.URL, chatBody(kind, in, nil))
			var want bytes.Buffer
			if err := json.Indent(&want, []byte(a.Choices[0].Message.Content), "", "  "); err != nil {
				t.Fatal(err)
			}
			if got := b.Choices[0].Message.Content; got != want.String() {
				t.Errorf("indented\n%s\nwant\n%s", got, want.String())
			}
			if b.Usage.CompletionTokens <= a.Usage.CompletionTokens {
				t.Errorf("completion tokens %d indented, %d not", b.Usage.CompletionTokens, a.Usage.CompletionTokens)
			}
		})
	}
}

func TestIndentLogProbs(t *testing.T) {
	// The unsure label's tokens are still the ones with low log
	// probabilities when the answer is indented.
	_, ts := newTest(t, Options{Noise: Noise{Label: 1}, Small: SmallModel{Indent: true}})
	r := ask(t, ts.URL, chatBody(KindCalibrate, narrowed, map[string]any{"logprobs": true}))
	low := map[string]bool{}
	for _, tk := range r.Choices[0].Logprobs.Content {
		if tk.Logprob < -1 {
			low[tk.Token] = true
		}
	}
	for _, m := range mentionsOf(t, r.Choices[0].Message.Content) {
		if !low[m.Label] {
			t.Errorf("label %q has no low log probability (low: %v)", m.Label, low)
		}
	}
}

func TestMaxTokens(t *testing.T) {
	tests := []struct {
		name       string
		small      SmallModel
		extra      map[string]any
		wantFinish string
		wantTokens int // 0: the full answer's
	}{
		{"not honoured", SmallModel{}, map[string]any{"max_tokens": 10}, "stop", 0},
		{"max_tokens", SmallModel{MaxTokens: true}, map[string]any{"max_tokens": 10}, "length", 10},
		{"max_completion_tokens first", SmallModel{MaxTokens: true}, map[string]any{"max_tokens": 1000, "max_completion_tokens": 7}, "length", 7},
		{"enough tokens", SmallModel{MaxTokens: true}, map[string]any{"max_tokens": 1000}, "stop", 0},
		{"none asked", SmallModel{MaxTokens: true}, nil, "stop", 0},
		{"indented", SmallModel{MaxTokens: true, Indent: true}, map[string]any{"max_tokens": 30}, "length", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := newTest(t, Options{Small: tt.small})
			full := ask(t, ts.URL, chatBody(KindAnchor, passages, nil)).Choices[0].Message.Content
			r := ask(t, ts.URL, chatBody(KindAnchor, passages, tt.extra))
			got := r.Choices[0].Message.Content
			if r.Choices[0].FinishReason != tt.wantFinish {
				t.Errorf("finish reason %q, want %q", r.Choices[0].FinishReason, tt.wantFinish)
			}
			cuts := int64(0)
			if tt.wantTokens == 0 {
				if got != full {
					t.Errorf("content %s, want the full answer %s", got, full)
				}
			} else {
				cuts = 1
				if !strings.HasPrefix(full, got) || len(got) != 4*tt.wantTokens || r.Usage.CompletionTokens != tt.wantTokens {
					t.Errorf("content %q (%d tokens), want the first %d bytes of %s", got, r.Usage.CompletionTokens, 4*tt.wantTokens, full)
				}
			}
			if n := s.Stats().SmallModel[SmallMaxTokens]; n != cuts {
				t.Errorf("%d answers cut, want %d", n, cuts)
			}
		})
	}
}

func TestSchemaOrder(t *testing.T) {
	labelMap := map[string]any{"labels": []any{map[string]any{"name": "researcher"}, map[string]any{"name": "country"}}}
	alphaAnchor := func() string {
		label := enumSchema("country", "organisation", "researcher", "university")
		entity := `{"anyOf":[` + objSchema("label", label, "text", strSchema) + "," +
			objSchema("label", label, "occurrence", intSchema, "text", strSchema) + `]}`
		return objSchema("passages", arraySchema(objSchema("entities", arraySchema(entity), "id", intSchema)))
	}()
	alphaMediate := objSchema("mentions", arraySchema(objSchema("archetype", enumSchema(archetypeNames...), "id", intSchema, "text", strSchema)))
	wireMediate := objSchema("mentions", arraySchema(objSchema("id", intSchema, "text", strSchema, "archetype", enumSchema(archetypeNames...))))
	alphaCalibrate := objSchema("mentions", arraySchema(objSchema("id", intSchema, "label", enumSchema("country", "misc", "organisation", "university"), "text", strSchema)))
	const (
		defaultMediate = `{"mentions":[{"id":1,"text":"Google","archetype":"organization"},{"id":2,"text":"Canada","archetype":"location"},{"id":3,"text":"Canada","archetype":"misc"}]}`
		defaultAnchor  = `{"passages":[{"id":1,"entities":[{"text":"Geoffrey Hinton","label":"researcher"},{"text":"Toronto","label":"university"}]},{"id":2,"entities":[{"text":"Google","label":"organisation"},{"text":"Canada","occurrence":1,"label":"country"}]}]}`
	)
	tests := []struct {
		name   string
		kind   string
		in     any
		schema string
		order  bool
		want   string
	}{
		{"mediate, alphabetical", KindMediate, narrowed, alphaMediate, true,
			`{"mentions":[{"archetype":"organization","id":1,"text":"Google"},{"archetype":"location","id":2,"text":"Canada"},{"archetype":"misc","id":3,"text":"Canada"}]}`},
		{"mediate, id first", KindMediate, narrowed, wireMediate, true, defaultMediate},
		{"mediate, alphabetical, not followed", KindMediate, narrowed, alphaMediate, false, defaultMediate},
		{"calibrate, alphabetical", KindCalibrate, narrowed, alphaCalibrate, true,
			`{"mentions":[{"id":1,"label":"organisation","text":"Google"},{"id":2,"label":"country","text":"Canada"},{"id":3,"label":"misc","text":"Canada"}]}`},
		{"anchor, alphabetical", KindAnchor, passages, alphaAnchor, true,
			`{"passages":[{"entities":[{"label":"researcher","text":"Geoffrey Hinton"},{"label":"university","text":"Toronto"}],"id":1},{"entities":[{"label":"organisation","text":"Google"},{"label":"country","occurrence":1,"text":"Canada"}],"id":2}]}`},
		{"anchor, id first", KindAnchor, passages, anchorSchema("country", "organisation", "researcher", "university"), true, defaultAnchor},
		{"anchor, no schema", KindAnchor, passages, "", true, defaultAnchor},
		{"label map, schema order", KindLabelMap, labelMap, objSchema("labels", objSchema("researcher", arraySchema(strSchema), "country", arraySchema(strSchema))), true,
			`{"labels":{"researcher":["person"],"country":["location"]}}`},
		{"label map, alphabetical by default", KindLabelMap, labelMap, objSchema("labels", objSchema("researcher", arraySchema(strSchema), "country", arraySchema(strSchema))), false,
			`{"labels":{"country":["location"],"researcher":["person"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTest(t, Options{Small: SmallModel{SchemaOrder: tt.order}})
			var extra map[string]any
			if tt.schema != "" {
				extra = withSchema(tt.kind, tt.schema, nil)
			}
			if got := ask(t, ts.URL, chatBody(tt.kind, tt.in, extra)).Choices[0].Message.Content; got != tt.want {
				t.Errorf("content\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestOffLabel(t *testing.T) {
	requestLabels := []string{"organisation", "university", "country", "misc"}
	tests := []struct {
		name   string
		rate   float64
		in     any
		schema string
		// allowed returns the labels mention k may take.
		allowed func(k int) []string
		// off checks a label that is not allowed.
		off func(k int, label string) bool
	}{
		{"narrowed", 1, narrowed, calibrateSchema(requestLabels...), narrowedCandidates,
			func(_ int, l string) bool { return slices.Contains(requestLabels, l) }},
		{"narrowed, no schema: a gold label", 1, narrowed, "", narrowedCandidates,
			func(_ int, l string) bool { return slices.Contains(goldLabels, l) }},
		{"whole schema: the archetype", 1, wholeSchema, calibrateSchema(requestLabels...),
			func(int) []string { return requestLabels },
			func(k int, l string) bool { return l == []string{"organization", "location", "location"}[k] }},
		{"off", 0, narrowed, calibrateSchema(requestLabels...), narrowedCandidates, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := newTest(t, Options{Small: SmallModel{OffLabel: tt.rate}})
			var extra map[string]any
			if tt.schema != "" {
				extra = withSchema(KindCalibrate, tt.schema, nil)
			}
			content := ask(t, ts.URL, chatBody(KindCalibrate, tt.in, extra)).Choices[0].Message.Content
			got := mentionsOf(t, content)
			if len(got) != 3 {
				t.Fatalf("answer %s", content)
			}
			for k, m := range got {
				allowed := slices.Contains(tt.allowed(k), m.Label)
				if tt.off == nil && !allowed || tt.off != nil && (allowed || !tt.off(k, m.Label)) {
					t.Errorf("mention %d: label %q (allowed %q)", k+1, m.Label, tt.allowed(k))
				}
			}
			if n, want := s.Stats().SmallModel[SmallOffLabel], int64(len(got))*int64(tt.rate); n != want {
				t.Errorf("%d off labels counted, want %d", n, want)
			}
		})
	}
}

// goldLabels are the labels of the test's gold data.
var goldLabels = []string{"Cuisine", "country", "location", "organisation", "person", "researcher", "university"}

func narrowedCandidates(k int) []string {
	if k == 0 {
		return []string{"organisation", "university", "misc"}
	}
	return []string{"country", "misc"}
}

func TestRepeatID(t *testing.T) {
	tests := []struct {
		kind string
		in   any
	}{
		{KindMediate, narrowed},
		{KindCalibrate, narrowed},
		{KindCalibrate, wholeSchema},
		{KindAnchor, passages},
		{KindExplorer, passages},
	}
	for _, tt := range tests {
		for _, rate := range []float64{0, 1} {
			t.Run(fmt.Sprintf("%s/%v", tt.kind, rate), func(t *testing.T) {
				s, ts := newTest(t, Options{Small: SmallModel{RepeatID: rate}})
				content := ask(t, ts.URL, chatBody(tt.kind, tt.in, nil)).Choices[0].Message.Content
				// Each item as its id and the decision the test compares.
				type decision struct {
					id   int
					what string
				}
				var items []decision
				switch tt.kind {
				case KindMediate, KindCalibrate:
					for _, m := range mentionsOf(t, content) {
						items = append(items, decision{m.ID, m.Text + "=" + m.Archetype + m.Label})
					}
				default:
					for _, p := range passagesOf(t, content) {
						b, _ := json.Marshal(append(p.Entities, p.Mentions...))
						items = append(items, decision{p.ID, string(b)})
					}
				}
				n := 3
				if tt.kind == KindAnchor || tt.kind == KindExplorer {
					n = 2
				}
				if rate == 0 {
					for k, x := range items {
						if x.id != k+1 {
							t.Errorf("item %d has id %d: %s", k, x.id, content)
						}
					}
					if len(items) != n || s.Stats().SmallModel[SmallRepeatID] != 0 {
						t.Errorf("%d items, stats %v: %s", len(items), s.Stats().SmallModel, content)
					}
					return
				}
				if len(items) != 2*n || s.Stats().SmallModel[SmallRepeatID] != int64(n) {
					t.Fatalf("%d items, stats %v: %s", len(items), s.Stats().SmallModel, content)
				}
				for k := 0; k < len(items); k += 2 {
					a, b := items[k], items[k+1]
					if a.id != k/2+1 || b.id != a.id || a.what == b.what {
						t.Errorf("items %d and %d: %+v and %+v", k, k+1, a, b)
					}
				}
			})
		}
	}
}

func TestLoseCount(t *testing.T) {
	tests := []struct {
		kind      string
		n         int
		loseCount int
		lost      bool
	}{
		{KindMediate, 25, 20, true},
		{KindCalibrate, 25, 20, true},
		{KindCalibrate, 60, 20, true},
		{KindCalibrate, 20, 20, false},
		{KindMediate, 25, 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d items/over %d", tt.kind, tt.n, tt.loseCount), func(t *testing.T) {
			s, ts := newTest(t, Options{Small: SmallModel{LoseCount: tt.loseCount}})
			content := ask(t, ts.URL, chatBody(tt.kind, longInput(tt.n), nil)).Choices[0].Message.Content
			got := mentionsOf(t, content)
			from := -1 // the first item written with another id
			for k, m := range got {
				if m.Text != fmt.Sprintf("m%d", k+1) {
					t.Fatalf("item %d is %+v: the texts are not in order", k, m)
				}
				switch {
				case m.ID == k+1 && from < 0:
				case m.ID == k+2:
					if from < 0 {
						from = k
					}
				default:
					t.Fatalf("item %d is %+v (drift from %d)", k, m, from)
				}
			}
			lost := from >= 0 || len(got) == tt.n-1
			if len(got) < tt.n-1 || lost != tt.lost || tt.lost && from >= 0 && from < tt.n/2 {
				t.Errorf("%d of %d items, drift from %d: %s", len(got), tt.n, from, content)
			}
			if n := s.Stats().SmallModel[SmallLoseCount]; n != map[bool]int64{true: 1}[tt.lost] {
				t.Errorf("%d lists counted", n)
			}
		})
	}
}

func TestEmptyMention(t *testing.T) {
	for _, kind := range []string{KindAnchor, KindExplorer} {
		for _, rate := range []float64{0, 1} {
			t.Run(fmt.Sprintf("%s/%v", kind, rate), func(t *testing.T) {
				s, ts := newTest(t, Options{Small: SmallModel{EmptyMention: rate}})
				content := ask(t, ts.URL, chatBody(kind, manyPassages, nil)).Choices[0].Message.Content
				kinds := map[string]int{}
				for _, p := range passagesOf(t, content) {
					for _, raw := range append(p.Entities, p.Mentions...) {
						var m struct {
							Text       string
							Occurrence *int
						}
						if json.Unmarshal(raw, &m) != nil {
							json.Unmarshal(raw, &m.Text) // a plain string
						}
						switch {
						case m.Text == "":
							kinds[SmallEmptyMention]++
						case m.Occurrence != nil && *m.Occurrence == 0:
							kinds[SmallOccurrenceZero]++
						}
					}
				}
				st := s.Stats().SmallModel
				if rate == 0 {
					if len(kinds) > 0 || len(st) > 0 {
						t.Errorf("invalid mentions %v, stats %v: %s", kinds, st, content)
					}
					return
				}
				n := len(manyPassages["passages"].([]any))
				if kinds[SmallEmptyMention] == 0 || kinds[SmallOccurrenceZero] == 0 || kinds[SmallEmptyMention]+kinds[SmallOccurrenceZero] != n ||
					st[SmallEmptyMention] != int64(kinds[SmallEmptyMention]) || st[SmallOccurrenceZero] != int64(kinds[SmallOccurrenceZero]) {
					t.Errorf("invalid mentions %v in %d passages, stats %v: %s", kinds, n, st, content)
				}
			})
		}
	}
}

// TestSmallModelSeeding: a request is answered the same every time, but a
// follow-up that asks again for some of its items, or a re-ask, draws its
// faults anew.
func TestSmallModelSeeding(t *testing.T) {
	_, ts := newTest(t, Options{Small: SmallModel{OffLabel: 0.5}})
	off := func(body []byte) map[string]bool {
		out := map[string]bool{}
		for _, m := range mentionsOf(t, ask(t, ts.URL, body).Choices[0].Message.Content) {
			out[m.Text] = m.Label != "misc"
		}
		return out
	}
	first := off(chatBody(KindCalibrate, longInput(30), nil))
	if again := off(chatBody(KindCalibrate, longInput(30), nil)); !reflect.DeepEqual(first, again) {
		t.Errorf("the same request answered differently: %v, %v", first, again)
	}
	follow := longInput(30)
	ps := follow["passages"].([]any)[0].(map[string]any)
	ps["mentions"] = ps["mentions"].([]any)[1:]
	followUp := off(chatBody(KindCalibrate, follow, nil))
	delete(first, "m1")
	if reflect.DeepEqual(first, followUp) {
		t.Errorf("a follow-up has the same faults: %v", followUp)
	}
	var req map[string]any
	json.Unmarshal(chatBody(KindCalibrate, longInput(30), nil), &req)
	req["messages"] = append(req["messages"].([]any),
		map[string]any{"role": "assistant", "content": "{}"}, map[string]any{"role": "user", "content": "Answer every mention."})
	body, _ := json.Marshal(req)
	if reask := off(body); reflect.DeepEqual(off(chatBody(KindCalibrate, longInput(30), nil)), reask) {
		t.Errorf("a re-ask has the same faults: %v", reask)
	}
}

func TestSmallModelPreset(t *testing.T) {
	p := SmallModelPreset()
	if !p.Indent || !p.MaxTokens || !p.SchemaOrder || p.OffLabel == 0 || p.RepeatID == 0 || p.LoseCount == 0 || p.EmptyMention == 0 {
		t.Errorf("preset %+v leaves a behaviour off", p)
	}
	s, ts := newTest(t, Options{Small: p})
	r := ask(t, ts.URL, chatBody(KindMediate, longInput(40), nil))
	if c := r.Choices[0].Message.Content; !strings.HasPrefix(c, "{\n  \"mentions\": [\n") {
		t.Errorf("answer not indented: %s", c)
	}
	if st := s.Stats().SmallModel; st[SmallLoseCount] != 1 {
		t.Errorf("stats %v", st)
	}
	for _, sm := range []SmallModel{{OffLabel: -0.1}, {RepeatID: 2}, {EmptyMention: 1.5}, {LoseCount: -1}} {
		if _, err := New(Options{Small: sm}); err == nil {
			t.Errorf("New accepts %+v", sm)
		}
	}
}

func TestBatchMaxTokens(t *testing.T) {
	// A batch request is cut at its max_tokens as an online one is.
	s, _ := newTest(t, Options{Small: SmallModel{MaxTokens: true}})
	status, body, u := s.answerChat(chatBody(KindAnchor, passages, map[string]any{"max_tokens": 5}), 0)
	b, _ := json.Marshal(body)
	var r chatResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if status != 200 || r.Choices[0].FinishReason != "length" || u.completion != 5 || r.Choices[0].Message.Content != `{"passages":[{"id":1,`[:20] {
		t.Errorf("status %d, usage %+v, answer %s", status, u, b)
	}
}
