package rules

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zeroner/zeroner/internal/dataset"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/schemas"
)

// The development check: run the backend on the CrossNER dev splits (never
// test) and score it. The floors sit a little below what the backend reaches,
// so a regression fails the test.

var domains = []string{"ai", "literature", "music", "politics", "science"}

// floors are the minimum dev F1 (span, strict) per domain, in percent.
var floors = map[string][2]float64{
	"ai":         {69, 46},
	"literature": {74, 47},
	"music":      {74, 48},
	"politics":   {79, 54},
	"science":    {71, 45},
	"average":    {73.5, 48.5},
}

// entity is a gold or predicted span in code points.
type entity struct {
	start, end int
	label      string
}

// sentence is one BIO-annotated sentence: its text (tokens joined by single
// spaces) and its gold entities.
type sentence struct {
	text string
	gold []entity
}

// readBIO parses a CrossNER file: "token<TAB>tag" lines, a blank line
// between sentences, IOB2 tags.
func readBIO(path string) ([]sentence, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []sentence
	var toks, tags []string
	flush := func() {
		if len(toks) == 0 {
			return
		}
		var s sentence
		var b strings.Builder
		open := -1
		var openLabel string
		pos := 0
		closeAt := func(end int) {
			if open >= 0 {
				s.gold = append(s.gold, entity{open, end, openLabel})
				open = -1
			}
		}
		prevEnd := 0
		for i, t := range toks {
			if i > 0 {
				b.WriteByte(' ')
				pos++
			}
			start := pos
			b.WriteString(t)
			pos += utf8.RuneCountInString(t)
			tag := tags[i]
			switch {
			case strings.HasPrefix(tag, "B-"):
				closeAt(prevEnd)
				open, openLabel = start, tag[2:]
			case strings.HasPrefix(tag, "I-") && open >= 0 && tag[2:] == openLabel:
			case strings.HasPrefix(tag, "I-"): // I without B: start a span
				closeAt(prevEnd)
				open, openLabel = start, tag[2:]
			default:
				closeAt(prevEnd)
			}
			prevEnd = pos
		}
		closeAt(prevEnd)
		s.text = b.String()
		out = append(out, s)
		toks, tags = toks[:0], tags[:0]
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		tok, tag, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		toks, tags = append(toks, tok), append(tags, tag)
	}
	flush()
	return out, sc.Err()
}

// run annotates sentences with the backend's three stages.
func run(t testing.TB, b *Backend, sents []sentence) [][]entity {
	ctx := context.Background()
	docs := make([]pipeline.Document, len(sents))
	for i, s := range sents {
		docs[i] = pipeline.Document{ID: fmt.Sprintf("%06d", i), Text: s.text}
	}
	r, err := b.Discover(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	r, err = b.Mediate(ctx, docs, r.Mentions)
	if err != nil {
		t.Fatal(err)
	}
	r, err = b.Calibrate(ctx, docs, r.Mentions)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failures) > 0 {
		t.Fatalf("failures: %v", r.Failures[:1])
	}
	pred := make([][]entity, len(sents))
	for _, m := range r.Mentions {
		i, err := strconv.Atoi(m.DocID)
		if err != nil {
			t.Fatal(err)
		}
		pred[i] = append(pred[i], entity{m.Start, m.End, m.Label})
	}
	return pred
}

// prf counts matches for micro F1.
type prf struct{ tp, np, ng int }

func (c prf) f1() float64 {
	if c.np == 0 || c.ng == 0 {
		return 0
	}
	p, r := float64(c.tp)/float64(c.np), float64(c.tp)/float64(c.ng)
	if p+r == 0 {
		return 0
	}
	return 100 * 2 * p * r / (p + r)
}

func score(sents []sentence, pred [][]entity) (span, strict prf) {
	for i, s := range sents {
		gs := map[[2]int]string{}
		for _, g := range s.gold {
			gs[[2]int{g.start, g.end}] = g.label
		}
		for _, p := range pred[i] {
			if l, ok := gs[[2]int{p.start, p.end}]; ok {
				span.tp++
				if l == p.label {
					strict.tp++
				}
			}
		}
		span.np += len(pred[i])
		strict.np += len(pred[i])
		span.ng += len(s.gold)
		strict.ng += len(s.gold)
	}
	return span, strict
}

func TestDevF1(t *testing.T) {
	if testing.Short() {
		t.Skip("dev scoring in -short mode")
	}
	var sumSpan, sumStrict float64
	for _, dom := range domains {
		sents, err := readBIO(dataset.Path(t, "crossner", dom, "dev.txt"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := schemas.Load("crossner-" + dom)
		if err != nil {
			t.Fatal(err)
		}
		pred := run(t, New(s), sents)
		sp, st := score(sents, pred)
		t.Logf("%-10s span F1 %5.1f  strict F1 %5.1f  (gold %d, predicted %d)", dom, sp.f1(), st.f1(), sp.ng, sp.np)
		sumSpan += sp.f1()
		sumStrict += st.f1()
		checkFloor(t, dom, sp.f1(), st.f1())
		if dir := os.Getenv("ZERONER_DEV_DUMP"); dir != "" {
			dump(t, filepath.Join(dir, dom+".txt"), sents, pred)
		}
	}
	n := float64(len(domains))
	t.Logf("%-10s span F1 %5.1f  strict F1 %5.1f", "average", sumSpan/n, sumStrict/n)
	checkFloor(t, "average", sumSpan/n, sumStrict/n)
}

func checkFloor(t *testing.T, dom string, span, strict float64) {
	f := floors[dom]
	if span < f[0] || strict < f[1] {
		t.Errorf("%s: dev F1 span %.1f strict %.1f below floor %.1f / %.1f", dom, span, strict, f[0], f[1])
	}
}

// dump writes each sentence's gold and predicted entities for error
// analysis: "=" both, "-" missed gold, "+" spurious prediction, "~" right
// span with the wrong label.
func dump(t *testing.T, path string, sents []sentence, pred [][]entity) {
	var b strings.Builder
	for i, s := range sents {
		rs := []rune(s.text)
		fmt.Fprintf(&b, "# %s\n", s.text)
		gs := map[[2]int]string{}
		for _, g := range s.gold {
			gs[[2]int{g.start, g.end}] = g.label
		}
		ps := map[[2]int]string{}
		for _, p := range pred[i] {
			ps[[2]int{p.start, p.end}] = p.label
			g, ok := gs[[2]int{p.start, p.end}]
			switch {
			case !ok:
				fmt.Fprintf(&b, "+ %s\t%s\n", p.label, string(rs[p.start:p.end]))
			case g == p.label:
				fmt.Fprintf(&b, "= %s\t%s\n", p.label, string(rs[p.start:p.end]))
			default:
				fmt.Fprintf(&b, "~ %s>%s\t%s\n", g, p.label, string(rs[p.start:p.end]))
			}
		}
		for _, g := range s.gold {
			if _, ok := ps[[2]int{g.start, g.end}]; !ok {
				fmt.Fprintf(&b, "- %s\t%s\n", g.label, string(rs[g.start:g.end]))
			}
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkBackend(b *testing.B) {
	sents, err := readBIO(dataset.Path(b, "crossner", "politics", "dev.txt"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := schemas.Load("crossner-politics")
	if err != nil {
		b.Fatal(err)
	}
	be := New(s)
	b.ResetTimer()
	for b.Loop() {
		run(b, be, sents)
	}
	b.ReportMetric(float64(len(sents))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
