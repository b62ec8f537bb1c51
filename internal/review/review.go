// Package review writes a run's review page: one self-contained HTML file
// with a sample of documents, their mentions highlighted and coloured by
// label, for a person to read and judge. It has no script and fetches
// nothing; the label filter is CSS (links and :target, so a filtered view
// has an address to share). The markup
// is well-formed XML, so tests can read it with encoding/xml.
//
// Each mention is a <mark> with data-doc, data-start, data-end (code point
// offsets) and data-label attributes and a title (shown on hover) with its
// label, archetype, score and extractors. Marks nest where mentions nest; a
// mention that partly overlaps one already shown is listed under its
// document instead.
package review

import (
	"cmp"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
)

// Page is what the review page shows.
type Page struct {
	Title    string
	RunID    string
	Docs     int            // documents in the run
	Mentions map[string]int // the run's mentions per label
	Sample   []Doc          // the documents shown
	Note     string         // how the sample was drawn, filters applied
}

// Doc is one sampled document with its mentions.
type Doc struct {
	pipeline.Document
	Mentions []pipeline.Mention
	Failed   bool // a stage failed on it: its annotation may be incomplete
}

// Sampler keeps the n documents whose ids have the smallest sha256: a
// sample that is the same every time and spread over the whole corpus,
// whatever order the documents come in.
type Sampler struct {
	n    int
	docs []sampled
}

type sampled struct {
	key [sha256.Size]byte
	doc pipeline.Document
}

// NewSampler returns a Sampler of n documents.
func NewSampler(n int) *Sampler { return &Sampler{n: n} }

// Add offers a document to the sample.
func (s *Sampler) Add(d pipeline.Document) {
	if s.n <= 0 {
		return
	}
	k := sha256.Sum256([]byte(d.ID))
	i, _ := slices.BinarySearchFunc(s.docs, k, func(x sampled, k [sha256.Size]byte) int {
		return slices.Compare(x.key[:], k[:])
	})
	if i >= s.n {
		return
	}
	s.docs = slices.Insert(s.docs, i, sampled{k, d})
	s.docs = s.docs[:min(len(s.docs), s.n)]
}

// Docs returns the sample, ordered by document id.
func (s *Sampler) Docs() []pipeline.Document {
	out := make([]pipeline.Document, len(s.docs))
	for i, d := range s.docs {
		out[i] = d.doc
	}
	slices.SortFunc(out, func(a, b pipeline.Document) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// palette colours labels in name order: a light fill and a darker edge.
var palette = []struct{ fill, edge string }{
	{"#dbeafe", "#2563eb"}, {"#fee2e2", "#dc2626"}, {"#dcfce7", "#16a34a"}, {"#fef3c7", "#d97706"},
	{"#ede9fe", "#7c3aed"}, {"#cffafe", "#0891b2"}, {"#fce7f3", "#db2777"}, {"#e7e5e4", "#57534e"},
	{"#ecfccb", "#65a30d"}, {"#ffedd5", "#ea580c"}, {"#f3e8ff", "#9333ea"}, {"#ccfbf1", "#0d9488"},
}

// label is one row of the counts table and one filter button.
type label struct {
	Name        string
	Class       string // l<index>, the CSS class of its marks
	Fill, Edge  string
	Run, Sample int
}

// docView is a document as the page shows it.
type docView struct {
	ID, Source string
	Classes    string // h<index> of each label it mentions, for the filter
	Body       template.HTML
	Mentions   int
	Hidden     []string // mentions that partly overlap one shown
	Failed     bool
}

// Write writes the page.
func Write(w io.Writer, p Page) error {
	names := make(map[string]bool)
	for l := range p.Mentions {
		names[l] = true
	}
	for _, d := range p.Sample {
		for _, m := range d.Mentions {
			names[m.Label] = true
		}
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for l := range names {
			if !yield(l) {
				return
			}
		}
	})
	labels := make([]label, len(sorted))
	index := make(map[string]int, len(sorted))
	for i, l := range sorted {
		c := palette[i%len(palette)]
		labels[i] = label{Name: l, Class: fmt.Sprintf("l%d", i), Fill: c.fill, Edge: c.edge, Run: p.Mentions[l]}
		index[l] = i
	}
	var docs []docView
	total := 0
	for _, d := range p.Sample {
		v := render(d, index)
		for _, m := range d.Mentions {
			labels[index[m.Label]].Sample++
		}
		total += len(d.Mentions)
		docs = append(docs, v)
	}
	runTotal := 0
	for _, n := range p.Mentions {
		runTotal += n
	}
	return page.Execute(w, struct {
		Page
		Labels      []label
		Views       []docView
		SampleTotal int
		RunTotal    int
		FilterCSS   template.CSS
		PageCSS     template.CSS
	}{p, labels, docs, total, runTotal, filterCSS(labels), template.CSS(eval.PageCSS)})
}

// filterCSS colours the labels and is the label filter: with #f<i> the
// page's target (its address ends so after a click on label i's link),
// documents without label i are hidden and other labels' marks fade.
func filterCSS(labels []label) template.CSS {
	var b strings.Builder
	for i, l := range labels {
		fmt.Fprintf(&b, "mark.l%d { background: %s; border-color: %s; }\n", i, l.Fill, l.Edge)
		fmt.Fprintf(&b, "mark.l%d::after { color: %s; }\n", i, l.Edge)
		fmt.Fprintf(&b, "#f%d:target ~ .docs .doc:not(.h%d) { display: none; }\n", i, i)
		fmt.Fprintf(&b, "#f%d:target ~ .docs mark:not(.l%d) { background: transparent; border-color: transparent; }\n", i, i)
		fmt.Fprintf(&b, "#f%d:target ~ .docs mark:not(.l%d)::after { display: none; }\n", i, i)
		fmt.Fprintf(&b, "#f%d:target ~ .filter a[href=\"#f%d\"] { background: %s; border-color: %s; font-weight: 600; }\n", i, i, l.Fill, l.Edge)
	}
	return template.CSS(b.String())
}

// render marks up a document's text: each mention a <mark>, nested where
// mentions nest.
func render(d Doc, index map[string]int) docView {
	v := docView{ID: d.ID, Source: d.Source, Mentions: len(d.Mentions), Failed: d.Failed}
	ms := slices.Clone(d.Mentions)
	// Outer mentions first: by start, then longest.
	slices.SortFunc(ms, func(a, b pipeline.Mention) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(b.End, a.End), strings.Compare(a.Label, b.Label))
	})
	text := []rune(d.Text)
	var b strings.Builder
	var open []pipeline.Mention // marks open at pos, innermost last
	pos := 0
	// emit writes the text up to end, closing the marks that end before it.
	emit := func(end int) {
		for pos < end {
			next := end
			if n := len(open); n > 0 && open[n-1].End < next {
				next = open[n-1].End
			}
			b.WriteString(escape(text[pos:next]))
			pos = next
			for n := len(open); n > 0 && open[n-1].End <= pos; n = len(open) {
				b.WriteString("</mark>")
				open = open[:n-1]
			}
		}
	}
	labelsSeen := make(map[int]bool)
	for _, m := range ms {
		if m.Start < pos || m.End > len(text) || m.Start >= m.End {
			v.Hidden = append(v.Hidden, describe(m))
			continue
		}
		emit(m.Start)
		for n := len(open); n > 0 && open[n-1].End <= m.Start; n = len(open) {
			b.WriteString("</mark>")
			open = open[:n-1]
		}
		if n := len(open); n > 0 && open[n-1].End < m.End {
			v.Hidden = append(v.Hidden, describe(m)) // partly overlaps the open mark
			continue
		}
		i := index[m.Label]
		labelsSeen[i] = true
		fmt.Fprintf(&b, `<mark class="l%d" data-doc="%s" data-start="%d" data-end="%d" data-label="%s" title="%s">`,
			i, attr(d.ID), m.Start, m.End, attr(m.Label), attr(describe(m)))
		open = append(open, m)
	}
	emit(len(text))
	for range open {
		b.WriteString("</mark>")
	}
	v.Body = template.HTML(b.String())
	var classes []string
	for _, i := range slices.Sorted(func(yield func(int) bool) {
		for i := range labelsSeen {
			if !yield(i) {
				return
			}
		}
	}) {
		classes = append(classes, fmt.Sprintf("h%d", i))
	}
	v.Classes = strings.Join(classes, " ")
	return v
}

// describe is a mention's title: label, archetype, score, extractors.
func describe(m pipeline.Mention) string {
	s := fmt.Sprintf("%s · %s · score %.2f", m.Label, m.Archetype, m.Score)
	if len(m.Extractors) > 0 {
		s += " · " + strings.Join(m.Extractors, ", ")
	}
	if m.Start >= m.End {
		return s
	}
	return fmt.Sprintf("%q [%d, %d) %s", m.Text, m.Start, m.End, s)
}

// escape escapes text for HTML and XML, replacing the characters XML 1.0
// does not allow with U+FFFD.
func escape(rs []rune) string {
	out := make([]rune, len(rs))
	for i, r := range rs {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xfffe || r == 0xffff {
			r = '\uFFFD'
		}
		out[i] = r
	}
	return template.HTMLEscapeString(string(out))
}

func attr(s string) string { return escape([]rune(s)) }

// Mark is a mention as a page shows it.
type Mark struct {
	Doc, Label string
	Start, End int
	Text       string // the text inside, nested marks' included
}

// Marks reads a page's marks back, in page order, so that a page can be
// checked against the mentions table it was made from.
func Marks(r io.Reader) ([]Mark, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var out []Mark
	var open []int // indices in out of the open marks
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read review page: %w", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if x.Name.Local != "mark" {
				continue
			}
			var m Mark
			for _, a := range x.Attr {
				switch a.Name.Local {
				case "data-doc":
					m.Doc = a.Value
				case "data-label":
					m.Label = a.Value
				case "data-start":
					m.Start, err = strconv.Atoi(a.Value)
				case "data-end":
					m.End, err = strconv.Atoi(a.Value)
				}
				if err != nil {
					return nil, fmt.Errorf("read review page: mark %s: %w", a.Name.Local, err)
				}
			}
			out = append(out, m)
			open = append(open, len(out)-1)
		case xml.EndElement:
			if x.Name.Local == "mark" {
				open = open[:len(open)-1]
			}
		case xml.CharData:
			for _, i := range open {
				out[i].Text += string(x)
			}
		}
	}
}
