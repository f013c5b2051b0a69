//go:build linux

package report

import (
	"html/template"
	"io"
	"time"

	"github.com/hop-http/hop/lab"
)

type htmlRow struct {
	Label, Measured, Predicted string
}

type htmlExperiment struct {
	*lab.Result
	Settings string
	Table    []htmlRow
	Plots    []template.HTML
	Diagrams []diagram
	Failed   []lab.Check
}

type htmlPage struct {
	Generated   string
	Experiments []htmlExperiment
	Agree       int
}

// WriteHTML writes a self-contained report page for results: per experiment the
// claim, the measured figures beside the predictions, the verdict, its plots and a
// sequence diagram per leg (inline SVG; a little inline JavaScript shows a packet's
// details on click). The page loads nothing from anywhere.
func WriteHTML(w io.Writer, results []*lab.Result) error {
	page := htmlPage{Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	for _, r := range results {
		x := htmlExperiment{Result: r, Settings: Settings(r)}
		for _, row := range r.Rows {
			hr := htmlRow{Label: row.Label, Measured: Value(row.Measured, row.Unit)}
			if row.HasPred {
				hr.Predicted = Value(row.Predicted, row.Unit)
			}
			x.Table = append(x.Table, hr)
		}
		for _, p := range r.Plots {
			x.Plots = append(x.Plots, plotSVG(p))
		}
		x.Diagrams = diagrams(r)
		x.Failed = r.Failed()
		if r.Verdict == lab.Agrees {
			page.Agree++
		}
		page.Experiments = append(page.Experiments, x)
	}
	return pageTemplate.Execute(w, page)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hop lab report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#fafafa}
header{background:#14213d;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
main{padding:10px 28px 40px;max-width:1400px}
nav a{margin-right:12px;color:#14213d}
section.exp{background:#fff;border:1px solid #ddd;border-radius:6px;margin:18px 0;padding:12px 20px}
h2{margin:6px 0;font-size:19px}
.settings{color:#555;font-size:13px}
.claim{font-style:italic;margin:8px 0}
.verdict{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600}
.verdict.agrees{background:#d9f2dd;color:#135d1f}.verdict.differs{background:#fbe0dc;color:#8a1c0c}
table.fig{border-collapse:collapse;margin:8px 0}
table.fig td,table.fig th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
table.fig td:first-child,table.fig th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:10px}
svg text{font:11px system-ui,sans-serif}
svg .ptitle{font-weight:600;font-size:12px}svg .axis{font-size:11px;fill:#444}svg .tick{fill:#666}
svg .grid{stroke:#eee}svg .legend{font-size:11px}
svg .host{font-weight:700;font-size:13px}svg .life{stroke:#999;stroke-width:2}
.seq g.pkt line{stroke:#7a8899;stroke-width:1.2}
.seq g.pkt.data line{stroke:#1f77b4}.seq g.pkt.ctl line{stroke:#2ca02c;stroke-width:1.6}
.seq g.pkt.retrans line{stroke:#ff7f0e;stroke-width:2}
.seq g.pkt.lost line{stroke:#d62728;stroke-dasharray:3 2}
.seq g.pkt:hover line,.seq g.pkt.sel line{stroke:#000;stroke-width:2.5}
.seq .lbl{font-size:10px;fill:#333}.seq .x{fill:#d62728;font-size:13px;font-weight:700}
.seq g.pkt{cursor:pointer}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
#detail{position:sticky;bottom:0;background:#14213d;color:#fff;padding:6px 12px;font:12px ui-monospace,monospace;min-height:18px}
#errors{color:#b00;white-space:pre}
.diagram{overflow-x:auto}
</style></head>
<body>
<svg width="0" height="0" style="position:absolute"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs></svg>
<header><h1>hop lab</h1>
<div>{{len .Experiments}} experiment(s) on Linux's own TCP in network namespaces joined by a userspace link · {{.Agree}} agree with the prediction · {{.Generated}}</div></header>
<main>
<nav id="toc">{{range .Experiments}}<a href="#x-{{.Experiment}}">{{.Experiment}}</a>{{end}}</nav>
<div id="errors"></div>
{{range .Experiments}}
<section class="exp" id="x-{{.Experiment}}" data-experiment="{{.Experiment}}">
<h2>{{.Experiment}} — {{.Title}}</h2>
<div class="settings">{{.Settings}}</div>
<p class="claim">{{.Claim}}</p>
<p><span class="verdict {{.Verdict}}">{{.Verdict}}</span> {{.Note}}</p>
{{if .Failed}}<ul>{{range .Failed}}<li>✗ {{.What}}</li>{{end}}</ul>{{end}}
<table class="fig"><tr><th></th><th>measured</th><th>predicted</th></tr>
{{range .Table}}<tr><td>{{.Label}}</td><td>{{.Measured}}</td><td>{{.Predicted}}</td></tr>{{end}}
</table>
<details><summary>checks behind the verdict</summary><ul>{{range .Checks}}<li>{{if .OK}}✓{{else}}✗{{end}} {{.What}}</li>{{end}}</ul></details>
<div class="plots">{{range .Plots}}{{.}}{{end}}</div>
{{range .Diagrams}}<details class="diagram" open><summary>sequence diagram: {{.Leg}} ({{.Shown}} packets{{if .Omitted}}, {{.Omitted}} more not drawn{{end}})</summary>{{.SVG}}</details>{{end}}
</section>
{{end}}
</main>
<div id="detail">click a packet in a diagram for its details</div>
<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message));
    document.getElementById("errors").textContent = errors.join("\n");
    document.body.setAttribute("data-errors", String(errors.length));
  });
  var detail = document.getElementById("detail");
  var selected = null;
  var pkts = document.querySelectorAll("svg.seq g.pkt");
  for (var i = 0; i < pkts.length; i++) {
    pkts[i].addEventListener("click", function (ev) {
      if (selected) { selected.classList.remove("sel"); }
      selected = ev.currentTarget;
      selected.classList.add("sel");
      detail.textContent = selected.getAttribute("data-d");
    });
  }
  var sections = document.querySelectorAll("section.exp");
  document.body.setAttribute("data-experiments", String(sections.length));
  document.body.setAttribute("data-packets", String(pkts.length));
  document.body.setAttribute("data-plots", String(document.querySelectorAll("svg.plot").length));
  document.body.setAttribute("data-rendered", "ok");
})();
</script>
</body></html>
`))
