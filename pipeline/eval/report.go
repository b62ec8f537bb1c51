package eval

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is an evaluation of one backend on one or more data sets, as
// results.json keeps it.
type Report struct {
	Title    string    `json:"title"`
	Backend  string    `json:"backend"`
	Commit   string    `json:"commit,omitempty"`
	Created  time.Time `json:"created"`
	Note     string    `json:"note,omitempty"`
	Datasets []Results `json:"datasets"`
	Averages []Average `json:"averages"`
}

// Failed counts the documents of all data sets that were not annotated.
func (r Report) Failed() int {
	n := 0
	for _, d := range r.Datasets {
		n += d.Failed
	}
	return n
}

// failedNote says how many documents failed and how they were scored; ""
// when none did.
func (r Report) failedNote() string {
	n := r.Failed()
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d sentences were not annotated (failed): they are scored as having no mentions, so these scores understate the backend", n)
}

// row is one line of the summary tables: a data set or an average.
type row struct {
	name                         string
	docs, gold, pred, failed     int // 0 for averages
	strict, noMisc, span, samner float64
	avg                          bool
}

func (r Report) rows() []row {
	var out []row
	for _, d := range r.Datasets {
		out = append(out, row{name: d.Name, docs: d.Docs, gold: d.Strict.Gold, pred: d.Strict.Pred, failed: d.Failed,
			strict: d.Strict.F1, noMisc: d.StrictNoMisc.F1, span: d.Span.F1, samner: d.SAMNER.F1})
	}
	for _, a := range r.Averages {
		out = append(out, row{name: a.Name, strict: a.Strict.F1, noMisc: a.StrictNoMisc.F1,
			span: a.Span.F1, samner: a.SAMNER.F1, avg: true})
	}
	return out
}

// WriteTable writes the summary as a plain text table: F1 per data set and
// average.
func WriteTable(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	width := len("dataset")
	for _, x := range r.rows() {
		width = max(width, len(x.name))
	}
	failed := r.Failed() > 0
	fmt.Fprintf(bw, "%-*s %6s %6s %6s", width, "dataset", "docs", "gold", "pred")
	if failed {
		fmt.Fprintf(bw, " %6s", "failed")
	}
	fmt.Fprintf(bw, "  %7s %7s %7s %7s\n", "strict", "no-misc", "span", "SAM-NER")
	for _, x := range r.rows() {
		if x.avg {
			fmt.Fprintf(bw, "%-*s %6s %6s %6s", width, x.name, "", "", "")
			if failed {
				fmt.Fprintf(bw, " %6s", "")
			}
		} else {
			fmt.Fprintf(bw, "%-*s %6d %6d %6d", width, x.name, x.docs, x.gold, x.pred)
			if failed {
				fmt.Fprintf(bw, " %6d", x.failed)
			}
		}
		fmt.Fprintf(bw, "  %7.1f %7.1f %7.1f %7.1f\n", x.strict, x.noMisc, x.span, x.samner)
	}
	if note := r.failedNote(); note != "" {
		fmt.Fprintf(bw, "WARNING: %s.\n", note)
	}
	fmt.Fprintf(bw, "F1 in percent. strict: exact boundaries and label, micro; no-misc: the same without misc;\n"+
		"span: boundaries only; SAM-NER: per-sentence sets of (string, label). Averages: mean over data sets.\n")
	return bw.Flush()
}

// WriteMarkdown writes the report as Markdown: the summary, then per data
// set the labels' scores, the error breakdown and the largest confusions.
func WriteMarkdown(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", r.Title)
	fmt.Fprintf(bw, "Backend `%s`%s, %s.", r.Backend, commitNote(r.Commit), r.Created.UTC().Format("2006-01-02 15:04 UTC"))
	if r.Note != "" {
		fmt.Fprintf(bw, " %s", r.Note)
	}
	fmt.Fprint(bw, "\n\n")
	fmt.Fprint(bw, "F1 in percent. **strict**: exact boundaries and label, micro over mentions; **no misc**: strict "+
		"without the misc label in gold and predictions; **span**: boundaries right, any label; **SAM-NER**: "+
		"SAM-NER's scorer, per-sentence sets of (mention string, label). Averages weigh data sets equally.\n\n")
	failed := r.Failed() > 0
	if failed {
		fmt.Fprintf(bw, "**Warning**: %s; the *failed* column counts them per data set.\n\n", r.failedNote())
		fmt.Fprintln(bw, "| data set | sentences | failed | gold | predicted | strict | no misc | span | SAM-NER |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	} else {
		fmt.Fprintln(bw, "| data set | sentences | gold | predicted | strict | no misc | span | SAM-NER |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|")
	}
	for _, x := range r.rows() {
		empty, count := "", ""
		if failed {
			empty, count = " |", fmt.Sprintf(" %d |", x.failed)
		}
		if x.avg {
			fmt.Fprintf(bw, "| **%s** | | |%s | **%.1f** | **%.1f** | **%.1f** | **%.1f** |\n", x.name, empty, x.strict, x.noMisc, x.span, x.samner)
			continue
		}
		fmt.Fprintf(bw, "| %s | %d |%s %d | %d | %.1f | %.1f | %.1f | %.1f |\n", x.name, x.docs, count, x.gold, x.pred, x.strict, x.noMisc, x.span, x.samner)
	}
	for _, d := range r.Datasets {
		fmt.Fprintf(bw, "\n## %s\n\n", d.Name)
		fmt.Fprintf(bw, "Strict P %.1f R %.1f F1 %.1f; span P %.1f R %.1f F1 %.1f; SAM-NER scorer P %.1f R %.1f F1 %.1f.\n\n",
			d.Strict.P, d.Strict.R, d.Strict.F1, d.Span.P, d.Span.R, d.Span.F1, d.SAMNER.P, d.SAMNER.R, d.SAMNER.F1)
		e := d.Errors
		fmt.Fprintf(bw, "Predictions: %d correct, %d with the wrong label, %d with wrong boundaries, %d spurious; "+
			"%d gold mentions missed entirely.\n\n", e.Correct, e.Label, e.Boundary, e.Spurious, e.Missed)
		fmt.Fprintln(bw, "| label | gold | predicted | correct | P | R | F1 |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|")
		for _, l := range byGold(d.Labels) {
			fmt.Fprintf(bw, "| %s | %d | %d | %d | %.1f | %.1f | %.1f |\n", l.Label, l.Gold, l.Pred, l.TP, l.P, l.R, l.F1)
		}
		if cs := topConfusions(d.Confusion, 8); len(cs) > 0 {
			fmt.Fprint(bw, "\nMost frequent label confusions (right boundaries, wrong label): ")
			for i, c := range cs {
				if i > 0 {
					fmt.Fprint(bw, ", ")
				}
				fmt.Fprintf(bw, "%s → %s %d", c.gold, c.pred, c.n)
			}
			fmt.Fprintln(bw, ".")
		}
	}
	return bw.Flush()
}

func commitNote(c string) string {
	if c == "" {
		return ""
	}
	return " at commit `" + c + "`"
}

// byGold orders labels by gold count, most first, then name.
func byGold(ls []LabelPRF) []LabelPRF {
	out := slices.Clone(ls)
	slices.SortStableFunc(out, func(a, b LabelPRF) int {
		if c := cmp.Compare(b.Gold, a.Gold); c != 0 {
			return c
		}
		return strings.Compare(a.Label, b.Label)
	})
	return out
}

type confusion struct {
	gold, pred string
	n          int
}

// topConfusions are the k largest off-diagonal cells.
func topConfusions(c Confusion, k int) []confusion {
	var out []confusion
	for i, row := range c.Counts {
		for j, n := range row {
			if i != j && n > 0 {
				out = append(out, confusion{c.Labels[i], c.Labels[j], n})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b confusion) int { return cmp.Compare(b.n, a.n) })
	return out[:min(k, len(out))]
}
