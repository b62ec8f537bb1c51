package sae

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/featurehash"
	"github.com/zeroner/zeroner/pipeline/text"
)

var ctx = context.Background()

// The fast path hashes values piece by piece; the names path builds them as
// strings. Both must give every feature the same ID.
func TestLocalIDsMatchNames(t *testing.T) {
	l := NewLocal([]Lexicon{{"city", []string{"Paris", "New York"}}, {"lang", []string{"Zoë", "paris"}}})
	for _, s := range []string{
		"Paris is in France.",
		"He moved to New York in 1990, then to ZÜRICH.",
		"Zoë's café — naïve O'Brien met U.S. officials; 東京 👍🏽",
		"a",
		"",
	} {
		got, err := l.Features(ctx, []string{s})
		if err != nil {
			t.Fatal(err)
		}
		names := l.Names(s)
		if len(names) != len(got[0]) {
			t.Fatalf("%q: %d tokens named, %d with features", s, len(names), len(got[0]))
		}
		for i, tok := range got[0] {
			if len(names[i]) != len(tok.Feats) {
				t.Fatalf("%q token %q: names %v for %d features", s, tok.Text, names[i], len(tok.Feats))
			}
			for j, f := range tok.Feats {
				id, ok := FeatureID(names[i][j])
				if !ok || id != f.ID {
					t.Errorf("%q token %q: feature %d named %q has ID %d, name hashes to %d", s, tok.Text, j, names[i][j], f.ID, id)
				}
			}
		}
	}
}

func TestLocalFeatures(t *testing.T) {
	l := NewLocal([]Lexicon{{"city", []string{"Paris", "New York"}}})
	toks, _ := l.Features(ctx, []string{"in New York and Paris"})
	names := l.Names("in New York and Paris")
	has := func(i int, name string) bool {
		for _, n := range names[i] {
			if n == name {
				return true
			}
		}
		return false
	}
	tests := []struct {
		tok  int
		name string
		want bool
	}{
		{0, "cap=lower@0", true},
		{0, "w-1=<s>", true},
		{1, "shape=Xx", true},
		{1, "lexpart=city", true},
		{1, "lex=city", false},
		{4, "lex=city", true},
		{4, "suf3=ris", true},
		{4, "pre2=pa", true},
		{4, "w+1=</s>", true},
		{3, "w+1=paris", true},
		{3, "suf2=nd", true},
	}
	for _, tt := range tests {
		if got := has(tt.tok, tt.name); got != tt.want {
			t.Errorf("token %q has %q: %v, want %v (names %v)", toks[0][tt.tok].Text, tt.name, got, tt.want, names[tt.tok])
		}
	}
	if tk := toks[0][4]; tk.Start != 16 || tk.End != 21 || tk.Text != "Paris" {
		t.Errorf("token 4 = %+v", tk)
	}
}

// Beyond the tokenizer's own, Local allocates per text, never per token.
func TestLocalAllocs(t *testing.T) {
	l := NewLocal([]Lexicon{{"city", []string{"Paris"}}})
	var extras []float64
	for _, s := range []string{"Paris", strings.Repeat("Paris is lovely in the spring . ", 40)} {
		texts := []string{s}
		tok := testing.AllocsPerRun(20, func() { text.Tokenize(s) })
		all := testing.AllocsPerRun(20, func() { l.Features(ctx, texts) })
		if extra := all - tok; extra > 8 || extras != nil && extra != extras[0] {
			t.Errorf("%d tokens: %.0f allocations beyond the tokenizer's %.0f (short text: %v)", len(text.Tokenize(s)), extra, tok, extras)
		}
		extras = append(extras, all-tok)
	}
}

func TestSpans(t *testing.T) {
	m := &Map{classes: classesOf([]string{"a", "b"})}
	for _, c := range m.classes {
		tp, in := "", false
		if c != "O" {
			tp, in = c[2:], c[0] == 'I'
		}
		m.typeOf, m.inside = append(m.typeOf, tp), append(m.inside, in)
	}
	// classes: O B-a I-a B-b I-b
	tests := []struct {
		name string
		cls  []int
		want string
	}{
		{"none", []int{0, 0, 0}, ""},
		{"one", []int{1, 2, 0}, "a[0,2)"},
		{"I starts a span", []int{0, 2, 2}, "a[1,3)"},
		{"B after B", []int{1, 1, 0}, "a[0,1) a[1,2)"},
		{"type change", []int{1, 4, 4}, "a[0,1) b[1,3)"},
		{"at end", []int{0, 0, 3}, "b[2,3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks := make([]Token, len(tt.cls))
			for i := range toks {
				toks[i] = Token{Start: i, End: i + 1}
			}
			conf := make([]float32, len(tt.cls))
			got, scores := m.spans(toks, tt.cls, conf)
			var s []string
			for _, sp := range got {
				s = append(s, fmt.Sprintf("%s[%d,%d)", sp.Label, sp.Start, sp.End))
			}
			if strings.Join(s, " ") != tt.want || len(scores) != len(got) {
				t.Fatalf("spans = %v (%d scores), want %q", s, len(scores), tt.want)
			}
		})
	}
}

func TestClassOf(t *testing.T) {
	ci := map[string]int{"O": 0, "B-x": 1, "I-x": 2}
	toks := []Token{{Start: 0, End: 3}, {Start: 4, End: 7}, {Start: 8, End: 11}, {Start: 12, End: 15}}
	tests := []struct {
		name  string
		spans []Span
		want  []int
	}{
		{"two tokens", []Span{{4, 11, "x"}}, []int{0, 1, 2, 0}},
		{"partial cover is O", []Span{{5, 11, "x"}}, []int{0, 0, 1, 0}},
		{"unknown label", []Span{{0, 3, "y"}}, []int{0, 0, 0, 0}},
		{"adjacent", []Span{{0, 3, "x"}, {4, 7, "x"}}, []int{1, 1, 0, 0}},
	}
	for _, tt := range tests {
		if got := classOf(toks, tt.spans, ci, nil); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// planted is a source whose features are the word's own ID, plus planted
// features, as SAE latents would fire: 1000+k on the first token of an
// entity of type k, 2000+k on its other tokens, each with probability 0.9
// (and on 1% of other tokens).
type planted struct{ types []string }

func (p planted) Features(_ context.Context, texts []string) ([][]Token, error) {
	out := make([][]Token, len(texts))
	for i, s := range texts {
		r := rand.New(rand.NewPCG(uint64(len(s)), uint64(i)))
		for _, tk := range text.Tokenize(s) {
			var fs []Feature
			fs = append(fs, Feature{uint64(featurehash.String(featurehash.Offset, strings.ToLower(tk.Text)) % 997), 1})
			for k, ty := range p.types {
				if strings.HasPrefix(tk.Text, strings.ToUpper(ty[:1])+ty[1:2]) && r.Float64() < 0.9 || r.Float64() < 0.01 {
					fs = append(fs, Feature{uint64(1000 + k), 2.5})
				}
				if strings.HasPrefix(tk.Text, ty[:2]) && r.Float64() < 0.9 || r.Float64() < 0.01 {
					fs = append(fs, Feature{uint64(2000 + k), 1.5})
				}
			}
			out[i] = append(out[i], Token{Start: tk.Start, End: tk.End, Text: tk.Text, Feats: fs})
		}
	}
	return out, nil
}

// synth makes seeded sentences of filler words and entities of types: an
// entity of type "person" is a word starting "Pe", then maybe one starting
// "pe".
func synth(seed uint64, n int, types []string) []Labeled {
	r := rand.New(rand.NewPCG(seed, 7))
	filler := []string{"the", "of", "met", "in", "and", "with", "said", "a", "new", "report"}
	var out []Labeled
	for range n {
		var b strings.Builder
		var spans []Span
		pos := 0
		w := func(s string) {
			if b.Len() > 0 {
				b.WriteByte(' ')
				pos++
			}
			b.WriteString(s)
			pos += len([]rune(s))
		}
		for range 12 {
			if r.Float64() < 0.25 {
				ty := types[r.IntN(len(types))]
				stem := strings.ToUpper(ty[:1]) + ty[1:2]
				w(fmt.Sprintf("%s%c", stem, 'a'+r.IntN(26)))
				start := pos - 3
				if r.Float64() < 0.5 {
					w(fmt.Sprintf("%s%c", ty[:2], 'a'+r.IntN(26)))
				}
				spans = append(spans, Span{start, pos, ty})
				continue
			}
			w(filler[r.IntN(len(filler))])
		}
		out = append(out, Labeled{b.String(), spans})
	}
	return out
}

func TestEstimateRecoversPlanted(t *testing.T) {
	types := []string{"person", "location", "organisation"}
	src := planted{types}
	train, test := synth(1, 400, types), synth(2, 200, types)
	for _, dec := range []string{DecodeMax, DecodeProduct} {
		t.Run(dec, func(t *testing.T) {
			m, err := Estimate(ctx, src, train, Options{Decode: dec})
			if err != nil {
				t.Fatal(err)
			}
			// The most precise feature of each B- class is its planted one.
			best := map[string]Entry{}
			for _, e := range m.Entries() {
				if e.Feature == Prior || e.Type == "O" {
					continue
				}
				if b, ok := best[e.Type]; !ok || e.Precision > b.Precision {
					best[e.Type] = e
				}
			}
			for k, ty := range types {
				for j, c := range []string{"B-" + ty, "I-" + ty} {
					if e := best[c]; e.ID != uint64(1000*(j+1)+k) || e.Precision < 0.5 || len(e.Examples) == 0 {
						t.Errorf("%s: best feature %+v, want planted %d", c, e, 1000*(j+1)+k)
					}
				}
			}
			tg := NewTagger(m, src)
			texts := make([]string, len(test))
			for i, l := range test {
				texts[i] = l.Text
			}
			got, _, err := tg.Tag(ctx, texts)
			if err != nil {
				t.Fatal(err)
			}
			var tp, pred, gold int
			for i, l := range test {
				gs := map[Span]bool{}
				for _, s := range l.Spans {
					gs[s] = true
				}
				for _, s := range got[i] {
					if gs[s] {
						tp++
					}
				}
				pred += len(got[i])
				gold += len(l.Spans)
			}
			f1 := 2 * float64(tp) / float64(pred+gold)
			if f1 < 0.75 {
				t.Errorf("strict F1 %.2f on held-out synthetic text (tp %d, pred %d, gold %d)", f1, tp, pred, gold)
			}
		})
	}
}

func TestMapRoundTrip(t *testing.T) {
	types := []string{"person", "location"}
	src := NewLocal(nil)
	train := synth(3, 200, types)
	m, err := Estimate(ctx, src, train, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := FromEntries(m.Entries(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Entries(), m2.Entries()) {
		t.Fatal("entries differ after a round trip")
	}
	test := synth(4, 50, types)
	toks, _ := src.Features(ctx, []string{test[0].Text, test[1].Text})
	for _, ts := range toks {
		a, _ := m.Decode(ts)
		b, _ := m2.Decode(ts)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("decode differs after a round trip: %v vs %v", a, b)
		}
	}
	for _, e := range m.Entries() {
		if e.Feature == "" || strings.HasPrefix(e.Feature, "f") && e.Feature != Prior && !strings.Contains(e.Feature, "=") {
			t.Fatalf("unnamed local feature %+v", e)
		}
	}
	if _, err := FromEntries([]Entry{{Feature: "x", Type: "Q-x"}}, Options{}); err == nil {
		t.Error("a bad class loads")
	}
	if _, err := Estimate(ctx, src, train, Options{Decode: "vote"}); err == nil {
		t.Error("an unknown decoder is accepted")
	}
}

func TestBackend(t *testing.T) {
	types := []string{"person", "location"}
	src := NewLocal(nil)
	m, err := Estimate(ctx, src, synth(5, 300, types), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &pipeline.Schema{Labels: []pipeline.Label{{Name: "person", Archetypes: []pipeline.Archetype{pipeline.Person}}}}
	b := NewBackend(NewTagger(m, src), s)
	docs := []pipeline.Document{{ID: "d1", Text: "the Pex pey met Loa in the report"}}
	r, err := b.Discover(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Pex pey": "person", "Loa": "location"}
	for _, m := range r.Mentions {
		if want[m.Text] != m.Label || m.Extractors[0] != Extractor || m.Score <= 0 || m.Score > 1 {
			t.Errorf("mention %+v", m)
		}
		if m.Label == "person" && m.Archetype != pipeline.Person {
			t.Errorf("archetype %q", m.Archetype)
		}
		delete(want, m.Text)
	}
	if len(want) > 0 {
		t.Errorf("missed %v in %+v", want, r.Mentions)
	}
}
