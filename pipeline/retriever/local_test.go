package retriever

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// mention marks the first occurrence of sub in s.
func mention(t testing.TB, s, sub string) Mention {
	t.Helper()
	i := strings.Index(s, sub)
	if i < 0 {
		t.Fatalf("%q not in %q", sub, s)
	}
	start := len([]rune(s[:i]))
	return Mention{Text: s, Start: start, End: start + len([]rune(sub))}
}

func encodeMentions(t testing.TB, e Encoder, ms ...Mention) [][]float32 {
	t.Helper()
	vs, err := e.Mentions(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func encodeQueries(t testing.TB, e Encoder, qs ...string) [][]float32 {
	t.Helper()
	vs, err := e.Queries(context.Background(), qs)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestLocalBasics(t *testing.T) {
	for _, dim := range []int{0, 7, 256} {
		l := NewLocal(dim)
		want := dim
		if dim == 0 {
			want = 1024
		}
		if l.Dim() != want {
			t.Errorf("NewLocal(%d).Dim() = %d, want %d", dim, l.Dim(), want)
		}
		if name := fmt.Sprintf("local/v1/%d", want); l.Name() != name {
			t.Errorf("Name = %q, want %q", l.Name(), name)
		}
		ms := []Mention{
			mention(t, "The Boston Celtics won again.", "Boston Celtics"),
			{Text: "&", Start: 0, End: 1},
			{Text: "x", Start: 1, End: 1},
			{Text: "", Start: 0, End: 0},
		}
		vs := encodeMentions(t, l, ms...)
		qs := encodeQueries(t, l, "sports team", "", "the of")
		for i, v := range append(vs, qs...) {
			if len(v) != want {
				t.Fatalf("vector %d has length %d, want %d", i, len(v), want)
			}
			var ss float64
			for _, x := range v {
				ss += float64(x) * float64(x)
			}
			// Every vector has features but the empty query.
			if i != len(vs)+1 && math.Abs(ss-1) > 1e-5 {
				t.Errorf("vector %d has squared norm %v, want 1", i, ss)
			}
		}
	}
}

func TestLocalDeterministicAndParallel(t *testing.T) {
	l := NewLocal(0)
	var ms []Mention
	for i := range 1000 {
		s := fmt.Sprintf("Report %d: the mayor of City%d met Dr. Person%d at the %d summit.", i, i%37, i%53, i%11)
		ms = append(ms, mention(t, s, fmt.Sprintf("City%d", i%37)), mention(t, s, fmt.Sprintf("Person%d", i%53)))
	}
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	par := encodeMentions(t, l, ms...)
	runtime.GOMAXPROCS(1)
	for i, m := range ms {
		one := encodeMentions(t, NewLocal(0), m)[0]
		if !slices.Equal(one, par[i]) {
			t.Fatalf("mention %d: batch and single encodings differ", i)
		}
	}
	if slices.Equal(par[0], par[1]) {
		t.Fatal("different mentions encoded alike")
	}
}

func TestLocalInvalidSpan(t *testing.T) {
	l := NewLocal(64)
	ms := make([]Mention, 300)
	for i := range ms {
		ms[i] = Mention{Text: "Ada Lovelace", Start: 0, End: 3}
	}
	ms[150].End = 13
	ms[290].Start = -1
	_, err := l.Mentions(context.Background(), ms)
	if err == nil || !strings.Contains(err.Error(), "mention 150:") {
		t.Fatalf("err = %v, want it to name mention 150", err)
	}
}

func TestLocalCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := NewLocal(64)
	if _, err := l.Mentions(ctx, make([]Mention, 500)); err == nil {
		t.Error("Mentions: no error on a canceled context")
	}
	if _, err := l.Queries(ctx, []string{"city"}); err == nil {
		t.Error("Queries: no error on a canceled context")
	}
}

// TestLocalSimilarity checks that the features carry what they are for: the
// description's words meet the context's, the last word and the context
// make mentions of one kind alike.
func TestLocalSimilarity(t *testing.T) {
	l := NewLocal(0)
	vs := encodeMentions(t, l,
		mention(t, "Fans of the team cheered as the Boston Celtics took the court.", "Boston Celtics"), // 0
		mention(t, "Protesters gathered in the city of Lyon on Sunday.", "Lyon"),                       // 1
		mention(t, "The mayor said Lyon would host the games.", "Lyon"),                                // 2
		mention(t, "Tourists crowded the city of Marseille on Sunday.", "Marseille"),                   // 3
		mention(t, "She was born in Ohio River Valley.", "Ohio River Valley"),                          // 4
		mention(t, "Rafting down the Colorado River Valley is fun.", "Colorado River Valley"),          // 5
		mention(t, "Profits at Acme Corp. rose by a third.", "Acme Corp."),                             // 6
	)
	qs := encodeQueries(t, l, "sports team", "city", "A company or business corporation")
	cases := []struct {
		name       string
		near, far  float64
		nearPair   string
		farPairTxt string
	}{
		{"team query meets team context", cosine(qs[0], vs[0]), cosine(qs[0], vs[1]), "q0,v0", "q0,v1"},
		{"city query meets city context", cosine(qs[1], vs[1]), cosine(qs[1], vs[0]), "q1,v1", "q1,v0"},
		{"city query meets other city", cosine(qs[1], vs[3]), cosine(qs[1], vs[6]), "q1,v3", "q1,v6"},
		{"same context pattern", cosine(vs[1], vs[3]), cosine(vs[1], vs[6]), "v1,v3", "v1,v6"},
		{"same last word", cosine(vs[4], vs[5]), cosine(vs[4], vs[6]), "v4,v5", "v4,v6"},
		{"same mention, other context", cosine(vs[1], vs[2]), cosine(vs[1], vs[0]), "v1,v2", "v1,v0"},
	}
	for _, c := range cases {
		if !(c.near > c.far) {
			t.Errorf("%s: cos(%s) = %.3f, not above cos(%s) = %.3f", c.name, c.nearPair, c.near, c.farPairTxt, c.far)
		}
	}
	if c := cosine(vs[1], vs[2]); c > 0.99 {
		t.Errorf("the same mention in two contexts has cosine %.3f: the context is ignored", c)
	}
}

func BenchmarkLocalMentions(b *testing.B) {
	doc := strings.Repeat("The delegation from Rome met officials of the European Commission in Brussels on Tuesday. ", 20)
	var ms []Mention
	for i := range 10 {
		off := i * len([]rune("The delegation from Rome met officials of the European Commission in Brussels on Tuesday. "))
		ms = append(ms, Mention{doc, off + 20, off + 24}, Mention{doc, off + 46, off + 65})
	}
	all := slices.Repeat(ms, 100)
	l := NewLocal(0)
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Mentions(context.Background(), all); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(all))/b.Elapsed().Seconds(), "mentions/s")
}
