package eval

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteHTML writes the report as one self-contained page: tables and bar
// charts drawn as inline SVG, no script, nothing fetched. The markup is also
// well-formed XML, which lets a test check it with encoding/xml.
func WriteHTML(w io.Writer, r Report) error {
	return page.Execute(w, r)
}

// PageCSS is the style every zeroner HTML page starts from (the eval
// report, the review page), so they look alike; it loads nothing.
const PageCSS = `body { font: 14px/1.45 -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif; color: #1f2937; background: #f3f4f6; margin: 0; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 18px 0 6px; color: #374151; }
.meta { color: #6b7280; margin-bottom: 16px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 18px 20px; margin: 16px 0; }
.note { background: #fffbeb; border-color: #fde68a; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e5e7eb; text-align: right; }
th { background: #f9fafb; font-weight: 600; color: #374151; }
th:first-child, td:first-child { text-align: left; }
.small { color: #6b7280; font-size: 12px; }
`

// Series colours: one per metric, the same in every chart.
var metrics = []struct{ name, color string }{
	{"strict", "#2563eb"},
	{"no misc", "#93c5fd"},
	{"span", "#f59e0b"},
	{"SAM-NER", "#10b981"},
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"summaryChart":   summaryChart,
	"labelChart":     labelChart,
	"errorChart":     errorChart,
	"confusionTable": confusionTable,
	"f1":             func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"date":           func(r Report) string { return r.Created.UTC().Format("2006-01-02 15:04 UTC") },
	"legend":         legend,
	"failedNote":     func(r Report) string { return r.failedNote() },
	"pageCSS":        func() template.CSS { return PageCSS },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
{{pageCSS}}tr.avg td { font-weight: 600; background: #f9fafb; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.confusion td, .confusion th { text-align: center; padding: 3px 5px; font-size: 12px; }
.confusion th.rot { white-space: nowrap; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<div class="meta">Backend <b>{{.Backend}}</b>{{if .Commit}} at commit <code>{{.Commit}}</code>{{end}} · {{date .}}</div>
{{if .Note}}<div class="card note">{{.Note}}</div>{{end}}

<div class="card">
<h2>F1 per data set</h2>
<div class="legend">{{legend}}</div>
{{with failedNote .}}<p class="card note"><b>Warning</b>: {{.}}.</p>{{end}}
{{summaryChart .}}
<table>
<tr><th>data set</th><th>sentences</th><th>gold</th><th>predicted</th><th>strict</th><th>no misc</th><th>span</th><th>SAM-NER</th></tr>
{{range .Datasets}}<tr><td>{{.Name}}</td><td>{{.Docs}}</td><td>{{.Strict.Gold}}</td><td>{{.Strict.Pred}}</td><td>{{f1 .Strict.F1}}</td><td>{{f1 .StrictNoMisc.F1}}</td><td>{{f1 .Span.F1}}</td><td>{{f1 .SAMNER.F1}}</td></tr>
{{end}}{{range .Averages}}<tr class="avg"><td>{{.Name}}</td><td></td><td></td><td></td><td>{{f1 .Strict.F1}}</td><td>{{f1 .StrictNoMisc.F1}}</td><td>{{f1 .Span.F1}}</td><td>{{f1 .SAMNER.F1}}</td></tr>
{{end}}</table>
<p class="small">F1 in percent. <b>strict</b>: exact boundaries and label, micro over mentions. <b>no misc</b>: strict without the
misc label in gold and predictions. <b>span</b>: boundaries right, any label; span minus strict is what typing loses.
<b>SAM-NER</b>: SAM-NER's scorer, per-sentence sets of (mention string, label). Averages weigh data sets equally.</p>
</div>

<div class="card">
<h2>Where the predictions go</h2>
{{errorChart .}}
<p class="small">Each prediction against the gold of its sentence: right boundaries and label; right boundaries, wrong label;
overlapping a gold mention with other boundaries; overlapping none. Missed: gold mentions no prediction touches.</p>
</div>

{{range .Datasets}}
<div class="card">
<h2>{{.Name}}</h2>
<div class="small">{{.Docs}} sentences{{if .Failed}} ({{.Failed}} failed, scored as unannotated){{end}} · strict P {{f1 .Strict.P}} R {{f1 .Strict.R}} F1 {{f1 .Strict.F1}} · span P {{f1 .Span.P}} R {{f1 .Span.R}} F1 {{f1 .Span.F1}} · SAM-NER P {{f1 .SAMNER.P}} R {{f1 .SAMNER.R}} F1 {{f1 .SAMNER.F1}}</div>
<h3>Strict F1 per label</h3>
{{labelChart .}}
<h3>Confusion: gold label (rows) by predicted label (columns), same boundaries</h3>
{{confusionTable .Confusion}}
</div>
{{end}}
</main>
</body>
</html>
`))

func legend() template.HTML {
	var b strings.Builder
	for _, m := range metrics {
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s</span>`, m.color, m.name)
	}
	return template.HTML(b.String())
}

// esc escapes text for SVG and HTML.
func esc(s string) string { return template.HTMLEscapeString(s) }

// summaryChart: a group of four bars (the metrics' F1) per data set and
// average.
func summaryChart(r Report) template.HTML {
	rows := r.rows()
	if len(rows) == 0 {
		return ""
	}
	const (
		width, height = 1000, 300
		left, right   = 36, 8
		top, bottom   = 12, 44
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	groupW := plotW / float64(len(rows))
	barW := math.Min(26, groupW*0.8/float64(len(metrics)))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="F1 per data set">`, width, height, width, height)
	yAxis(&b, left, top, plotW, plotH)
	for g, x := range rows {
		vals := []float64{x.strict, x.noMisc, x.span, x.samner}
		x0 := float64(left) + float64(g)*groupW + (groupW-barW*float64(len(vals)))/2
		if x.avg {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.1f" fill="#f3f4f6"/>`,
				float64(left)+float64(g)*groupW+2, top, groupW-4, plotH)
		}
		for i, v := range vals {
			h := plotH * clamp(v) / 100
			bx := x0 + float64(i)*barW
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.1f</title></rect>`,
				bx, float64(top)+plotH-h, barW-2, h, metrics[i].color, esc(x.name), metrics[i].name, v)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle" fill="#374151">%.0f</text>`,
				bx+(barW-2)/2, float64(top)+plotH-h-3, v)
		}
		weight := "normal"
		if x.avg {
			weight = "bold"
		}
		// A name too long for its group goes on two lines, split at a dash.
		fit := int(groupW / 7)
		lines := []string{x.name}
		if a, rest, ok := strings.Cut(x.name, "-"); ok && len([]rune(x.name)) > fit {
			lines = []string{a, rest}
		}
		for n, line := range lines {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12" text-anchor="middle" font-weight="%s" fill="#1f2937">%s</text>`,
				float64(left)+(float64(g)+0.5)*groupW, height-bottom+18+14*n, weight, esc(shorten(line, fit)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// yAxis draws gridlines and ticks from 0 to 100.
func yAxis(b *strings.Builder, left, top int, plotW, plotH float64) {
	for v := 0; v <= 100; v += 20 {
		y := float64(top) + plotH - plotH*float64(v)/100
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e7eb"/>`, left, y, float64(left)+plotW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="#6b7280">%d</text>`, left-5, y+3, v)
	}
}

// labelChart: one horizontal bar per label, strict F1, with P, R and counts.
func labelChart(d Results) template.HTML {
	ls := byGold(d.Labels)
	if len(ls) == 0 {
		return `<p class="small">No gold or predicted mentions.</p>`
	}
	const (
		width, rowH = 1000, 22
		nameW, barW = 170, 520
		top         = 18
	)
	height := top + rowH*len(ls) + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="F1 per label">`, width, height, width, height)
	for v := 0; v <= 100; v += 25 {
		x := float64(nameW) + barW*float64(v)/100
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e7eb"/>`, x, top-4, x, height-4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="#6b7280">%d</text>`, x, top-7, v)
	}
	for i, l := range ls {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end" fill="#1f2937">%s</text>`, nameW-8, y+15, esc(shorten(l.Label, 24)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#f3f4f6"/>`, nameW, y+4, barW, rowH-8)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: F1 %.1f</title></rect>`,
			nameW, y+4, barW*clamp(l.F1)/100, rowH-8, metrics[0].color, esc(l.Label), l.F1)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#1f2937"><tspan font-weight="bold">%.1f</tspan>  P %.1f  R %.1f  ·  gold %d  predicted %d</text>`,
			nameW+barW+8, y+15, l.F1, l.P, l.R, l.Gold, l.Pred)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// errorChart: per data set, its predictions split by outcome, as one
// stacked bar scaled to the largest count of predictions or gold.
func errorChart(r Report) template.HTML {
	if len(r.Datasets) == 0 {
		return ""
	}
	parts := []struct{ name, color string }{
		{"correct", "#10b981"}, {"wrong label", "#f59e0b"}, {"wrong boundary", "#fb923c"}, {"spurious", "#ef4444"},
	}
	scale := 1
	for _, d := range r.Datasets {
		scale = max(scale, d.Strict.Pred, d.Strict.Gold)
	}
	const (
		width, rowH = 1000, 26
		nameW, barW = 170, 600
		top         = 28
	)
	height := top + rowH*len(r.Datasets) + 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="Outcome of predictions">`, width, height, width, height)
	lx := nameW
	for _, p := range parts {
		fmt.Fprintf(&b, `<rect x="%d" y="4" width="11" height="11" rx="2" fill="%s"/><text x="%d" y="14" font-size="12" fill="#374151">%s</text>`,
			lx, p.color, lx+16, p.name)
		lx += 40 + 8*len(p.name)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="4" width="11" height="11" rx="2" fill="none" stroke="#6b7280" stroke-dasharray="2 2"/><text x="%d" y="14" font-size="12" fill="#374151">gold missed</text>`, lx, lx+16)
	for i, d := range r.Datasets {
		y := top + i*rowH
		e := d.Errors
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end" fill="#1f2937">%s</text>`, nameW-8, y+15, esc(shorten(d.Name, 24)))
		x := float64(nameW)
		for k, n := range []int{e.Correct, e.Label, e.Boundary, e.Spurious} {
			w := float64(barW) * float64(n) / float64(scale)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s: %d</title></rect>`,
				x, y+3, w, rowH-8, parts[k].color, esc(d.Name), parts[k].name, n)
			x += w
		}
		w := float64(barW) * float64(e.Missed) / float64(scale)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="none" stroke="#6b7280" stroke-dasharray="2 2"><title>%s missed: %d</title></rect>`,
			x+2, y+5, w, rowH-12, esc(d.Name), e.Missed)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#374151">%d / %d predicted · %d missed</text>`,
			math.Max(x+w+8, float64(nameW+barW+8)), y+15, e.Correct, d.Strict.Pred, e.Missed)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// confusionTable: the matrix as a table, cells shaded by their share of the
// row's gold mentions (green on the diagonal, red off it).
func confusionTable(c Confusion) template.HTML {
	if len(c.Labels) == 0 {
		return `<p class="small">No boundary-matched mentions.</p>`
	}
	var b strings.Builder
	b.WriteString(`<table class="confusion"><tr><th>gold \ predicted</th>`)
	for _, l := range c.Labels {
		fmt.Fprintf(&b, `<th class="rot" title="%s">%s</th>`, esc(l), esc(shorten(l, 10)))
	}
	b.WriteString(`<th>missed</th></tr>`)
	for i, l := range c.Labels {
		total := c.Missed[i]
		for _, n := range c.Counts[i] {
			total += n
		}
		fmt.Fprintf(&b, `<tr><th>%s</th>`, esc(l))
		for j, n := range c.Counts[i] {
			if n == 0 {
				b.WriteString(`<td></td>`)
				continue
			}
			rgb := "220,38,38"
			if i == j {
				rgb = "16,185,129"
			}
			a := 0.1 + 0.75*float64(n)/float64(max(total, 1))
			fmt.Fprintf(&b, `<td style="background: rgba(%s,%.2f)" title="%s → %s: %d">%d</td>`, rgb, a, esc(l), esc(c.Labels[j]), n, n)
		}
		fmt.Fprintf(&b, `<td>%d</td></tr>`, c.Missed[i])
	}
	b.WriteString(`<tr><th>spurious</th>`)
	for _, n := range c.Spurious {
		fmt.Fprintf(&b, `<td>%d</td>`, n)
	}
	b.WriteString(`<td></td></tr></table>`)
	return template.HTML(b.String())
}

func clamp(v float64) float64 { return math.Max(0, math.Min(100, v)) }

// shorten cuts s to n runes with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if n < 2 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
