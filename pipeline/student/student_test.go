package student

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/pipeline/rules"
	"github.com/zeroner/zeroner/pipeline/text"
)

var ctx = context.Background()

// testLexicons are the rules backend's word lists, as distill gives them.
var testLexicons = func() []Lexicon {
	var out []Lexicon
	for _, l := range rules.Lexicons() {
		out = append(out, Lexicon(l))
	}
	return out
}()

// ex builds an example from text with entities marked [like this|type].
func ex(s string) Example {
	var e Example
	var b strings.Builder
	n := 0 // code points written
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		n += len([]rune(s[:i]))
		j := strings.IndexByte(s, ']')
		name, typ, _ := strings.Cut(s[i+1:j], "|")
		b.WriteString(name)
		m := len([]rune(name))
		e.Spans = append(e.Spans, Span{n, n + m, typ})
		n += m
		s = s[j+1:]
	}
	e.Text = b.String()
	return e
}

// synth makes seeded sentences with people, places and organisations.
func synth(seed uint64, n int) []Example {
	r := rand.New(rand.NewPCG(seed, 2))
	people := []string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Zoë Dupré", "John von Neumann"}
	places := []string{"London", "Paris", "New York", "Zürich", "Tokyo"}
	orgs := []string{"IBM", "the Royal Society", "Bell Labs", "MIT"}
	verbs := []string{"visited", "left", "wrote to", "moved to"}
	out := make([]Example, n)
	for i := range out {
		p := people[r.IntN(len(people))]
		switch r.IntN(3) {
		case 0:
			out[i] = ex(fmt.Sprintf("[%s|person] %s [%s|location] in %d .", p, verbs[r.IntN(len(verbs))], places[r.IntN(len(places))], 1900+r.IntN(100)))
		case 1:
			o := orgs[r.IntN(len(orgs))]
			if strings.HasPrefix(o, "the ") {
				out[i] = ex(fmt.Sprintf("In %d , [%s|person] joined the [%s|organisation] .", 1900+r.IntN(100), p, o[4:]))
			} else {
				out[i] = ex(fmt.Sprintf("In %d , [%s|person] joined [%s|organisation] .", 1900+r.IntN(100), p, o))
			}
		default:
			out[i] = ex(fmt.Sprintf("The meeting in [%s|location] was short .", places[r.IntN(len(places))]))
		}
	}
	return out
}

func train(t testing.TB, es []Example, opt Options) *Model {
	t.Helper()
	m, err := Train(ctx, es, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tagAll(m *Model, es []Example) [][]Span {
	tg := m.Tagger()
	out := make([][]Span, len(es))
	for i, e := range es {
		out[i], _ = tg.Tag(e.Text)
	}
	return out
}

func TestTrainLearnsItsExamples(t *testing.T) {
	es := synth(1, 300)
	m := train(t, es, Options{Bits: 14})
	if got, want := m.Types(), []string{"location", "organisation", "person"}; !reflect.DeepEqual(got, want) {
		t.Errorf("types %v, want %v", got, want)
	}
	test := synth(2, 100)
	for i, got := range tagAll(m, test) {
		if !reflect.DeepEqual(got, test[i].Spans) {
			t.Errorf("%q: spans %v, want %v", test[i].Text, got, test[i].Spans)
		}
	}
}

func TestTagScoresAndOffsets(t *testing.T) {
	m := train(t, synth(1, 300), Options{Bits: 14})
	// Two sentences in one text, code points beyond ASCII before the
	// entities.
	s := "Zoë Dupré visited Zürich in 1950 . In 1960 , Alan Turing joined IBM ."
	spans, scores := m.Tagger().Tag(s)
	want := []Span{{0, 9, "person"}, {18, 24, "location"}, {45, 56, "person"}, {64, 67, "organisation"}}
	if !reflect.DeepEqual(spans, want) {
		t.Fatalf("spans %v, want %v", spans, want)
	}
	for i, sp := range spans {
		if got := text.Slice(s, sp.Start, sp.End); got != []string{"Zoë Dupré", "Zürich", "Alan Turing", "IBM"}[i] {
			t.Errorf("span %v is %q", sp, got)
		}
		if scores[i] <= 0 || scores[i] > 1 {
			t.Errorf("span %v: score %v, want in (0, 1]", sp, scores[i])
		}
	}
	if spans, scores := m.Tagger().Tag(" \n "); spans != nil || scores != nil {
		t.Errorf("blank text: %v %v", spans, scores)
	}
}

func TestSplitClasses(t *testing.T) {
	cls, _ := newClasses([]string{"a", "b"})
	tests := []struct {
		name string
		e    Example
		want []string // classes per sentence, sentences separated by "|"
	}{
		{"spans", ex("[x y|a] z [w|b] ."), []string{"B-a I-a O B-b O"}},
		{"partial token is O", Example{Text: "alpha beta", Spans: []Span{{0, 3, "a"}, {6, 10, "b"}}}, []string{"O B-b"}},
		{"span over a sentence end starts again", ex("I saw [Bob . Ann|a] there ."), []string{"O O B-a I-a", "B-a O O"}},
		{"nested span cut by the first", Example{Text: "p q r s", Spans: []Span{{2, 3, "b"}, {0, 7, "a"}}}, []string{"B-a B-b B-a I-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := split(ctx, []Example{tt.e}, cls)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range c.sents {
				var names []string
				for _, g := range c.gold[s.lo:s.hi] {
					names = append(names, cls.name(int(g)))
				}
				got = append(got, strings.Join(names, " "))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("classes %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLexiconMatch(t *testing.T) {
	lex, err := newLexicon([]Lexicon{
		{"city", []string{"New York", "Paris", "New York City"}},
		{"genre", []string{"jazz", "free jazz"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := "free JAZZ in New York City and new york and Paris"
	var toks []tokInfo
	var rs []rune
	for _, tk := range text.Tokenize(s) {
		var ti tokInfo
		ti, rs = info(tk.Text, rs)
		toks = append(toks, ti)
	}
	pos := lex.match(toks, nil)
	names := [numPos]string{"U", "B", "I", "L"}
	var got []string
	for i, tk := range text.Tokenize(s) {
		var ms []string
		for p, mask := range pos[i] {
			for l := range 2 {
				if mask&(1<<l) != 0 {
					ms = append(ms, names[p]+"-"+[]string{"city", "genre"}[l])
				}
			}
		}
		got = append(got, tk.Text+":"+strings.Join(ms, ","))
	}
	want := []string{"free:B-genre", "JAZZ:U-genre,L-genre", "in:", "New:B-city", "York:I-city,L-city", "City:L-city",
		"and:", "new:", "york:", "and:", "Paris:U-city"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("matches\n%q, want\n%q", got, want)
	}
}

func TestDeterministicAndRoundTrip(t *testing.T) {
	es := synth(3, 200)
	opt := Options{Bits: 14, Epochs: 4, Seed: 7, Lexicons: []Lexicon{{"city", []string{"Paris", "New York"}}}}
	b1, err := train(t, es, opt).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m := train(t, es, opt)
	b2, _ := m.MarshalBinary()
	if !bytes.Equal(b1, b2) {
		t.Fatal("two trainings on the same examples and options gave different models")
	}
	back, err := Unmarshal(b1)
	if err != nil {
		t.Fatal(err)
	}
	b3, _ := back.MarshalBinary()
	if !bytes.Equal(b1, b3) {
		t.Error("Marshal(Unmarshal(b)) != b")
	}
	test := synth(4, 100)
	test = append(test, Example{Text: "Ada Lovelace moved to Paris . New York is far ."})
	if got, want := tagAll(back, test), tagAll(m, test); !reflect.DeepEqual(got, want) {
		t.Error("the unmarshalled model tags differently")
	}
	if other, _ := train(t, es, Options{Bits: 14, Epochs: 4, Seed: 8}).MarshalBinary(); bytes.Equal(other, b1) {
		t.Error("another seed gave the same model")
	}
}

func TestUnmarshalErrors(t *testing.T) {
	b, err := train(t, synth(1, 50), Options{Bits: 12, Epochs: 2}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	version := bytes.Clone(b)
	binary.LittleEndian.PutUint32(version[len(magic):], formatVersion+1)
	if _, err := Unmarshal(version); !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", formatVersion+1)) {
		t.Errorf("another version: %v, want ErrVersion naming the version", err)
	}
	flipped := bytes.Clone(b)
	flipped[len(flipped)/2] ^= 1
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not ours":  []byte("PAR1 and some more bytes"),
		"truncated": b[:len(b)/2],
		"flipped":   flipped,
	} {
		if m, err := Unmarshal(data); err == nil || m != nil {
			t.Errorf("%s: model %v, error %v; want an error", name, m, err)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, opt := range []Options{{Bits: 4}, {Bits: 30}, {Epochs: -1}} {
		if _, err := Train(ctx, synth(1, 5), opt); err == nil {
			t.Errorf("options %+v: no error", opt)
		}
	}
	if _, err := Train(ctx, []Example{{Text: "a b", Spans: []Span{{0, 1, ""}}}}, Options{}); err == nil {
		t.Error("an empty type: no error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Train(cctx, synth(1, 5), Options{Bits: 12}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// Tagging allocates per text (the spans it returns and the sentence split,
// growing by doubling), never per token.
func TestTagAllocations(t *testing.T) {
	m := train(t, synth(1, 200), Options{Bits: 14, Lexicons: testLexicons})
	tg := m.Tagger()
	sentence := strings.Repeat("the meeting was long and the room was full of people again , ", 20) + "Alan Turing visited Paris in 1950 . "
	short, long := strings.Repeat(sentence, 2), strings.Repeat(sentence, 8)
	tg.Tag(long) // grow the buffers
	a := testing.AllocsPerRun(20, func() { tg.Tag(short) })
	b := testing.AllocsPerRun(20, func() { tg.Tag(long) })
	if b > a+8 {
		t.Errorf("%v allocations for %d tokens, %v for %d", b, len(text.Tokenize(long)), a, len(text.Tokenize(short)))
	}
}

// The precomputed word vectors give the scores the features give one by
// one, for words in the vocabulary and outside it.
func TestPrecomputedScores(t *testing.T) {
	es := synth(1, 200)
	for _, vocab := range []int{1, 10, 1 << 14} {
		m := train(t, es, Options{Bits: 12, Vocab: vocab, Lexicons: []Lexicon{{"city", []string{"Paris", "New York"}}}})
		tg := m.Tagger()
		k := m.cls.n()
		for _, s := range []string{"Alan Turing visited Paris in 1950 .", "Unseen", "New York , said Grace Hopper of IBM"} {
			toks := text.Tokenize(s)
			tg.scores(toks)
			x := newExtractor(m.bits, m.lex)
			x.sentence(toks)
			for i := range toks {
				want := make([]float32, k)
				m.addRows(want, x.feats[x.off[i]:x.off[i+1]])
				got := tg.d.em[i*k : (i+1)*k]
				for c := range k {
					if d := got[c] - want[c]; d > 1e-3 || d < -1e-3 {
						t.Fatalf("vocabulary %d, %q token %d class %s: score %v, features give %v", vocab, s, i, m.cls.name(c), got[c], want[c])
					}
				}
			}
		}
	}
}
