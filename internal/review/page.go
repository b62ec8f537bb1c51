package review

import (
	"html/template"
	"strconv"
)

var page = template.Must(template.New("review").Funcs(template.FuncMap{
	"pct": func(n, total int) string {
		if total == 0 {
			return "0"
		}
		return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
{{.PageCSS}}.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; border: 1px solid; margin-right: 6px; vertical-align: -1px; }
.bar { display: inline-block; height: 9px; border-radius: 2px; vertical-align: 0; }
td.barcell { width: 40%; text-align: left; }
/* Fixed, so following a filter link does not scroll. */
.pick { position: fixed; top: 0; }
.filter { position: sticky; top: 0; z-index: 1; padding: 10px 20px; }
.filter a { display: inline-block; padding: 1px 10px; margin: 2px 4px 2px 0; border: 1px solid #d1d5db; border-radius: 999px; background: #fff; color: inherit; text-decoration: none; font-size: 13px; }
.filter a[href="#all"] { background: #e5e7eb; border-color: #6b7280; font-weight: 600; }
.pick:target ~ .filter a[href="#all"] { background: #fff; border-color: #d1d5db; font-weight: normal; }
.doc h3 { margin: 0 0 8px; font-size: 13px; font-weight: 600; word-break: break-all; }
.doc h3 span { font-weight: normal; color: #6b7280; }
.text { white-space: pre-wrap; font-size: 15px; line-height: 2; max-height: 30em; overflow: auto; margin: 0; }
mark { color: inherit; background: #f3f4f6; border: 1px solid #9ca3af; border-width: 0 0 2px; border-radius: 3px; padding: 1px 2px; }
mark::after { content: attr(data-label); font-size: 9px; font-weight: 700; letter-spacing: .02em; text-transform: uppercase; margin-left: 3px; vertical-align: 1px; }
mark mark { padding: 0 1px; }
.badge { display: inline-block; background: #fef3c7; color: #92400e; border-radius: 4px; padding: 0 6px; font-size: 11px; margin-left: 6px; }
.hidden { margin: 8px 0 0; color: #6b7280; font-size: 12px; }
{{.FilterCSS}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<div class="meta">Run <code>{{.RunID}}</code> · {{.Docs}} documents · {{.RunTotal}} mentions · {{len .Sample}} documents shown, with {{.SampleTotal}} mentions{{if .Note}} · {{.Note}}{{end}}</div>

<div class="card">
<h2>Mentions per label</h2>
<table>
<tr><th>label</th><th>in the run</th><th>shown</th><th class="barcell"></th></tr>
{{range .Labels}}<tr><td><span class="swatch" style="background: {{.Fill}}; border-color: {{.Edge}}"></span>{{.Name}}</td><td>{{.Run}}</td><td>{{.Sample}}</td><td class="barcell"><span class="bar" style="width: {{pct .Run $.RunTotal}}%; background: {{.Edge}}"></span></td></tr>
{{end}}</table>
<p class="small">Hover over a mention for its archetype, score and extractors. Pick a label to show only the documents that mention it (the address then ends in #f&lt;n&gt;, to share).</p>
</div>

{{range $i, $l := .Labels}}<span class="pick" id="f{{$i}}"></span>
{{end}}<div class="card filter"><b>Show</b> <a href="#all">all labels</a>{{range $i, $l := .Labels}}<a href="#f{{$i}}"><span class="swatch" style="background: {{$l.Fill}}; border-color: {{$l.Edge}}"></span>{{$l.Name}}</a>{{end}}</div>

<div class="docs">
{{range .Views}}<div class="card doc {{.Classes}}">
<h3>{{.ID}} <span>· {{.Mentions}} mentions{{if and .Source (ne .Source .ID)}} · {{.Source}}{{end}}</span>{{if .Failed}}<span class="badge">a stage failed: annotation may be incomplete</span>{{end}}</h3>
<p class="text">{{.Body}}</p>
{{if .Hidden}}<p class="hidden">Overlapping a mention shown, not highlighted: {{range $i, $h := .Hidden}}{{if $i}}; {{end}}{{$h}}{{end}}</p>
{{end}}</div>
{{else}}<div class="card">No documents.</div>
{{end}}</div>
</main>
</body>
</html>
`))
