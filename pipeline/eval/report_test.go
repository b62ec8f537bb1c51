package eval

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// sampleReport scores two small data sets, one with a label name that
// needs escaping.
func sampleReport(t *testing.T) Report {
	t.Helper()
	text := "Ada Lovelace met Charles Babbage in London ."
	a, err := Score("crossner-ai", []Doc{{Text: text,
		Gold: []Span{{0, 12, "researcher"}, {17, 32, "researcher"}, {36, 42, "location"}},
		Pred: []Span{{0, 12, "researcher"}, {17, 32, "person"}, {36, 42, "<b>loc & co</b>"}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Score("crossner-music", []Doc{{Text: text, Gold: []Span{{0, 12, "misc"}}}, {Text: "Nothing ."}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := []Results{a, b}
	return Report{Title: "Test & <report>", Backend: "rules", Commit: "abc1234",
		Created: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Note: "A note.", Datasets: rs, Averages: Groups(rs)}
}

func TestWriteHTML(t *testing.T) {
	r := sampleReport(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	counts := elements(t, page)
	// The summary chart, the error chart and one label chart per data set.
	if want := 2 + len(r.Datasets); counts["svg"] != want {
		t.Errorf("%d <svg> elements, want %d", counts["svg"], want)
	}
	if counts["rect"] == 0 || counts["table"] < 1+len(r.Datasets) {
		t.Errorf("elements %v: want bars and tables", counts)
	}
	for _, bad := range []string{"<script", "http://", "https://", "<b>loc", "<report>"} {
		if strings.Contains(page, bad) {
			t.Errorf("report.html contains %q (scripts, fetches or unescaped text)", bad)
		}
	}
	for _, want := range []string{"crossner-ai", "crossner average", "abc1234", "&lt;b&gt;loc &amp; co&lt;/b&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

func TestWriteHTMLEmpty(t *testing.T) {
	r := Report{Title: "empty", Backend: "rules", Datasets: []Results{{Name: "x"}}}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	// The summary and error charts; no label chart without labels.
	if n := elements(t, b.String())["svg"]; n != 2 {
		t.Errorf("%d <svg> elements, want 2", n)
	}
}

// elements checks that page is well-formed (every element closed, every
// entity known) and counts its elements by name.
func elements(t *testing.T, page string) map[string]int {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	counts := map[string]int{}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return counts
		}
		if err != nil {
			t.Fatalf("report.html is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
		}
	}
}

func TestWriteMarkdownAndTable(t *testing.T) {
	r := sampleReport(t)
	var md, tab bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteTable(&tab, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| crossner-ai | 1 | 3 | 3 | 33.3 |", "| **crossner average** |", "## crossner-music", "researcher → person 1"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md.String())
		}
	}
	lines := strings.Split(tab.String(), "\n")
	if !strings.HasPrefix(lines[0], "dataset ") || !strings.HasPrefix(lines[3], "crossner average") {
		t.Errorf("table:\n%s", tab.String())
	}
	// results.json holds every metric.
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"strict"`, `"strict_no_misc"`, `"span"`, `"samner"`, `"labels"`, `"confusion"`, `"averages"`} {
		if !bytes.Contains(js, []byte(key)) {
			t.Errorf("results.json lacks %s", key)
		}
	}
}

// Documents the job could not annotate are counted in every table and
// report, with a warning, never hidden in a lower score.
func TestReportsShowFailures(t *testing.T) {
	r := sampleReport(t)
	r.Datasets[1].Failed = 2
	var md, tab, page bytes.Buffer
	for _, w := range []struct {
		buf   *bytes.Buffer
		write func(io.Writer, Report) error
	}{{&md, WriteMarkdown}, {&tab, WriteTable}, {&page, WriteHTML}} {
		if err := w.write(w.buf, r); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string][]string{
		"report.md":   {"| data set | sentences | failed |", "| crossner-music | 2 | 2 | 1 | 0 |", "| **crossner average** | | | | | **", "2 sentences were not annotated"},
		"table":       {" failed ", "WARNING: 2 sentences were not annotated"},
		"report.html": {"2 sentences were not annotated", "(2 failed, scored as unannotated)"},
	} {
		got := map[string]string{"report.md": md.String(), "table": tab.String(), "report.html": page.String()}[name]
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, got)
			}
		}
	}
	// Without failures, no column and no warning.
	r.Datasets[1].Failed = 0
	tab.Reset()
	if err := WriteTable(&tab, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tab.String(), "failed") || strings.Contains(tab.String(), "WARNING") {
		t.Errorf("table without failures mentions them:\n%s", tab.String())
	}
}
