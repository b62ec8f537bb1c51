package sam

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
)

// mentionsOf lists a result's mentions as "doc:text label".
func mentionsOf(r pipeline.Result) []string {
	var out []string
	for _, m := range r.Mentions {
		out = append(out, fmt.Sprintf("%s:%s %s", m.DocID, m.Text, m.Label))
	}
	return out
}

// TestSplitOnCutOff: a request whose answer the token limit cuts is asked
// again in halves, down to one sentence; the annotations equal those of a
// model with room enough, and only what one sentence cannot fit fails.
func TestSplitOnCutOff(t *testing.T) {
	var docs []pipeline.Document
	for i := range 6 {
		docs = append(docs, pipeline.Document{ID: fmt.Sprintf("d%d", i),
			Text: "Geoffrey Hinton lives in Canada. He left Google. Zoë Kravitz visited Toronto."})
	}
	// One long document: its passages are chunks of several sentences.
	docs = append(docs, pipeline.Document{ID: "long", Text: strings.Repeat("Geoffrey Hinton lives in Canada. ", 40)})

	plain := newTest(t, newFake(testLex, testArch), Options{})
	_, _, want := run(t, plain, docs)

	// A model that cuts off any answer about more than one sentence (or
	// more than two mentions).
	f := newFake(testLex, testArch)
	f.hook = func(kind string, p pipeline.Prompt, _ int) (string, error, bool) {
		var in struct {
			Passages []struct {
				Text     string
				Mentions []json.RawMessage
			}
		}
		line := p.User[strings.LastIndex(p.User, "\n")+1:]
		if json.Unmarshal([]byte(line), &in) != nil {
			return "", nil, false
		}
		sentences, mentions := 0, 0
		for _, ps := range in.Passages {
			sentences += strings.Count(ps.Text, ". ") + 1
			mentions += len(ps.Mentions)
		}
		if (kind == KindAnchor || kind == KindExplorer) && sentences > 1 || mentions > 2 {
			return "", fmt.Errorf("%w: max_tokens %d", pipeline.ErrCutOff, p.MaxTokens), true
		}
		return "", nil, false
	}
	b := newTest(t, f, Options{ChunkTokens: 100})
	d, m, c := run(t, b, docs)
	for _, r := range []pipeline.Result{d, m, c} {
		if len(r.Failures) > 0 {
			t.Fatalf("failures %+v", r.Failures)
		}
	}
	if got, w := mentionsOf(c), mentionsOf(want); !reflect.DeepEqual(got, w) {
		t.Errorf("mentions with splits\n%v\nwant\n%v", got, w)
	}
	if s := b.Stats(); s.Splits == 0 {
		t.Errorf("no split: %+v", s)
	}

	// One sentence that does not fit fails, and only its document.
	f = newFake(testLex, testArch)
	f.hook = func(kind string, p pipeline.Prompt, _ int) (string, error, bool) {
		if kind == KindAnchor && strings.Contains(p.User, "Kravitz") {
			return "", pipeline.ErrCutOff, true
		}
		return "", nil, false
	}
	b = newTest(t, f, Options{})
	d, err := b.Discover(context.Background(), []pipeline.Document{
		{ID: "ok", Text: "Geoffrey Hinton lives in Canada."},
		{ID: "long", Text: "Zoë Kravitz visited Toronto."},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Failures) != 1 || d.Failures[0].DocID != "long" || !strings.Contains(d.Failures[0].Reason, "cannot be made smaller") {
		t.Errorf("failures %+v", d.Failures)
	}
}

// TestRequestSizes: the profiles bound what a request holds, and every
// request asks for an answer budget that fits what it holds.
func TestRequestSizes(t *testing.T) {
	var docs []pipeline.Document
	for i := range 60 {
		docs = append(docs, pipeline.Document{ID: fmt.Sprintf("d%02d", i),
			Text: "Geoffrey Hinton lives in Canada. He left Google for the University of Toronto."})
	}
	for _, name := range []string{ProfileLarge, ProfileSmall} {
		opt, err := Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		f := newFake(testLex, testArch)
		var most struct{ passages, mentions, tokens int }
		f.hook = func(kind string, p pipeline.Prompt, _ int) (string, error, bool) {
			var in struct {
				Passages []struct{ Mentions []json.RawMessage }
			}
			line := p.User[strings.LastIndex(p.User, "\n")+1:]
			if json.Unmarshal([]byte(line), &in) == nil {
				f.mu.Lock()
				most.passages = max(most.passages, len(in.Passages))
				n := 0
				for _, ps := range in.Passages {
					n += len(ps.Mentions)
				}
				most.mentions = max(most.mentions, n)
				f.mu.Unlock()
			}
			if kind != KindLabelMap && p.MaxTokens < 256 {
				t.Errorf("%s: max_tokens %d", kind, p.MaxTokens)
			}
			return "", nil, false
		}
		b := newTest(t, f, opt)
		run(t, b, docs)
		if most.passages > opt.PassagesPerRequest || most.mentions > opt.MentionsPerRequest {
			t.Errorf("%s: requests of up to %d passages and %d mentions, profile %+v", name, most.passages, most.mentions, opt)
		}
		if most.passages < 2 {
			t.Errorf("%s: no packing (%d passages at most)", name, most.passages)
		}
	}
	if _, err := Profile("huge"); err == nil {
		t.Error("an unknown profile is accepted")
	}
}

// TestExamplesInPrompts: a schema's examples reach the extractors and the
// calibrator, each in its own answer form, and not the mediator.
func TestExamplesInPrompts(t *testing.T) {
	s := testSchema(t)
	s.Examples = []pipeline.Example{{Text: "Geoffrey Hinton moved to Canada .", Entities: []pipeline.ExampleEntity{
		{Text: "Geoffrey Hinton", Label: "researcher"}, {Text: "Canada", Label: "country"}}}}
	for _, whole := range []bool{true, false} {
		sys := systemPrompts(s)
		sys[KindCalibrate] = calibrateSystem(s, whole, nil)
		for kind, want := range map[string]string{
			KindAnchor:    `Entities: [{"text":"Geoffrey Hinton","label":"researcher"},{"text":"Canada","label":"country"}]`,
			KindExplorer:  `Mentions: ["Geoffrey Hinton","Canada"]`,
			KindCalibrate: `Labels: "Geoffrey Hinton" is researcher; "Canada" is country`,
		} {
			if !strings.Contains(sys[kind], "Sentence: Geoffrey Hinton moved to Canada .") || !strings.Contains(sys[kind], want) {
				t.Errorf("%s (whole %v) system message lacks the example:\n%s", kind, whole, sys[kind])
			}
		}
		if strings.Contains(sys[KindMediate], "moved to Canada") {
			t.Errorf("the mediator is shown the schema's examples")
		}
	}
}

// TestCalibrateSystem: the whole-schema calibrator sees every label's
// definition and the label map's archetypes as a hint; the narrowed one
// is given definitions with the passages.
func TestCalibrateSystem(t *testing.T) {
	s := testSchema(t)
	b := newTest(t, newFake(testLex, testArch), Options{})
	compat, _, err := b.labelMap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	whole := calibrateSystem(s, true, compat)
	for _, l := range s.Labels {
		if !strings.Contains(whole, "- "+l.Name) || !strings.Contains(whole, l.Description) {
			t.Errorf("whole-schema prompt lacks %s", l.Name)
		}
	}
	if !strings.Contains(whole, "- researcher (usually person): ") || strings.Contains(whole, "- misc (usually") {
		t.Errorf("whole-schema prompt hints:\n%s", whole)
	}
	if narrowed := calibrateSystem(s, false, compat); strings.Contains(narrowed, s.Labels[0].Description) {
		t.Errorf("narrowed prompt carries definitions:\n%s", narrowed)
	}
}

// TestLooseAlignment: a model that writes "People's" for the text's
// "People 's" still places the mention, with the document's offsets.
func TestLooseAlignment(t *testing.T) {
	txt := "The People 's Party met Zoë Kravitz ."
	docs := []pipeline.Document{{ID: "d", Text: txt}}
	f := newFake(map[string]string{"Zoë Kravitz": "person"}, testArch)
	f.hook = func(kind string, p pipeline.Prompt, _ int) (string, error, bool) {
		switch kind {
		case KindAnchor:
			return `{"passages":[{"id":1,"entities":[{"text":"People's Party","label":"organisation"},{"text":"Zoë Kravitz","label":"person"},{"text":"Peoples","label":"person"}]}]}`, nil, true
		}
		return "", nil, false
	}
	b := newTest(t, f, Options{})
	d, err := b.Discover(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range d.Mentions {
		got = append(got, fmt.Sprintf("%q [%d,%d)", m.Text, m.Start, m.End))
	}
	if want := []string{`"People 's Party" [4,19)`, `"Zoë Kravitz" [24,35)`}; !reflect.DeepEqual(got, want) {
		t.Errorf("mentions %v, want %v", got, want)
	}
	if s := b.Stats(); s.Loose != 1 || s.Unaligned != 1 {
		t.Errorf("stats %+v: want one loose match and one string not found", s)
	}
}

// TestSchemas: each answer schema is a JSON schema whose item objects list
// "id" first, then "text", then the decision, all required.
func TestSchemas(t *testing.T) {
	type object struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	for name, tt := range map[string]struct {
		schema json.RawMessage
		list   string
		want   []string
	}{
		"anchor":    {anchorSchema([]string{"person", "misc"}, 3), "passages", []string{"id", "entities"}},
		"explorer":  {explorerSchema(3), "passages", []string{"id", "mentions"}},
		"mediate":   {mentionsSchema(3, "archetype", archetypeNames()), "mentions", []string{"id", "text", "archetype"}},
		"calibrate": {mentionsSchema(3, "label", []string{"person", "misc"}), "mentions", []string{"id", "text", "label"}},
	} {
		var top object
		if err := json.Unmarshal(tt.schema, &top); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var list struct{ Items object }
		if err := json.Unmarshal(top.Properties[tt.list], &list); err != nil {
			t.Fatalf("%s: %s: %v", name, tt.schema, err)
		}
		if !reflect.DeepEqual(list.Items.Required, tt.want) || len(list.Items.Properties) != len(tt.want) {
			t.Errorf("%s: item properties %v, required %v; want %v", name, list.Items.Properties, list.Items.Required, tt.want)
		}
		// Written in that order.
		at := -1
		for _, k := range tt.want {
			i := strings.Index(string(tt.schema), `"`+k+`":`)
			if i < at {
				t.Errorf("%s: %q before the key that precedes it: %s", name, k, tt.schema)
			}
			at = i
		}
	}
}

func TestLabelAmong(t *testing.T) {
	labels := []string{"organisation", "politicalparty", "person", "misc", "location", "election"}
	for _, tt := range []struct{ in, want string }{
		{"organisation", "organisation"},
		{"Organization", "organisation"},
		{"political party", "politicalparty"},
		{"political_party", "politicalparty"},
		{"persons", "person"},
		{"misc.", ""}, // a short label is not guessed at
		{"election s", "election"},
		{"polticalpary", ""}, // two edits
		{"locations", "location"},
		{"weapon", ""},
		{"", ""},
	} {
		got, err := labelAmong(tt.in, labels)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("labelAmong(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// Two labels as near: no guess.
	if got, err := labelAmong("abcdeg", []string{"abcdef", "abcdeh"}); err == nil {
		t.Errorf("an ambiguous near label became %q", got)
	}
}
