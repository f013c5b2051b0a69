//go:build linux

package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/lab"
	"github.com/hop-http/hop/lab/capture"
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

func esc(s string) string { return template.HTMLEscapeString(s) }

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	// Ticks are k·step rounded to a power of ten below the step: a running sum would
	// accumulate error, and dividing by an exact power of ten prints as expected.
	scale := math.Pow(10, math.Max(0, 1-math.Floor(math.Log10(mag))))
	var out []float64
	for k := math.Floor(lo / step); k*step <= hi+step/1e6; k++ {
		v := math.Round(k*step*scale) / scale
		if v >= lo-step/1e6 {
			out = append(out, v)
		}
	}
	return out
}

// axisTicks is niceTicks for an axis: at least two ticks, also for a range that is
// not finite (no data, or data that is not).
func axisTicks(lo, hi float64, n int) []float64 {
	if !finite(lo) || !finite(hi) {
		lo, hi = 0, 1
	}
	if t := niceTicks(lo, hi, n); len(t) >= 2 {
		return t
	}
	return []float64{lo, max(hi, lo+1)}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func tickText(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e9:
		return fmt.Sprintf("%gG", v/1e9)
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", math.Round(v*1000)/1000)
}

// plotSVG draws p as an inline SVG chart.
func plotSVG(p lab.Plot) template.HTML {
	const W, L, R, B = 620, 64, 16, 58
	// The legend sits between the title and the plot area, two entries a row.
	rows := (len(p.Series) + 1) / 2
	T := 30 + 15*rows
	H := 260 + T
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, W, H, W, H, esc(p.Title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="ptitle">%s</text>`, L, esc(p.Title))
	pw, ph := float64(W-L-R), float64(H-T-B)

	ymax := 0.0
	xmin, xmax := math.Inf(1), math.Inf(-1)
	var labels []string
	for _, s := range p.Series {
		for _, y := range s.Y {
			if finite(y) {
				ymax = math.Max(ymax, y)
			}
		}
		for _, x := range s.X {
			if finite(x) {
				xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			}
		}
		if len(s.Labels) > len(labels) {
			labels = s.Labels
		}
	}
	if ymax <= 0 {
		ymax = 1
	}
	yt := axisTicks(0, ymax*1.05, 5)
	if yt[len(yt)-1] < ymax {
		yt = append(yt, yt[len(yt)-1]+(yt[1]-yt[0]))
	}
	ytop := yt[len(yt)-1]
	yOf := func(v float64) float64 { return float64(T) + ph - v/ytop*ph }
	for _, v := range yt {
		y := yOf(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, L, W-R, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>`, L-6, y+4, tickText(v))
	}
	fmt.Fprintf(&b, `<text x="14" y="%d" class="axis" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`, T+int(ph/2), T+int(ph/2), esc(p.YLabel))
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="middle">%s</text>`, L+int(pw/2), H-8, esc(p.XLabel))

	if p.Kind == "bar" {
		n := len(labels)
		groups := len(p.Series)
		gw := pw / float64(max(n, 1))
		bw := gw * 0.8 / float64(max(groups, 1))
		for i, lb := range labels {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, float64(L)+gw*(float64(i)+0.5), T+int(ph)+16, esc(lb))
		}
		for si, s := range p.Series {
			col := palette[si%len(palette)]
			for i, v := range s.Y {
				if !finite(v) {
					continue
				}
				x := float64(L) + gw*float64(i) + gw*0.1 + bw*float64(si)
				y := yOf(v)
				style := fmt.Sprintf(`fill="%s"`, col)
				if s.Dashed {
					style = fmt.Sprintf(`fill="none" stroke="%s" stroke-dasharray="4 3" stroke-width="1.5"`, col)
				}
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" %s><title>%s: %s %s</title></rect>`,
					x, y, bw*0.92, float64(T)+ph-y, style, esc(s.Name), esc(labelAt(s.Labels, labels, i)), tickText(v))
			}
		}
	} else {
		if !finite(xmin) || !finite(xmax) {
			xmin, xmax = 0, 1
		}
		if xmax <= xmin {
			xmax = xmin + 1
		}
		xt := axisTicks(xmin, xmax, 6)
		x0, x1 := math.Min(xmin, xt[0]), math.Max(xmax, xt[len(xt)-1])
		xOf := func(v float64) float64 { return float64(L) + (v-x0)/(x1-x0)*pw }
		for _, v := range xt {
			x := xOf(v)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="grid"/>`, x, x, T, T+int(ph))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, x, T+int(ph)+16, tickText(v))
		}
		for si, s := range p.Series {
			col := palette[si%len(palette)]
			var pts []string
			for i := range s.X {
				if i >= len(s.Y) {
					break
				}
				if !finite(s.X[i]) || !finite(s.Y[i]) || p.Kind == "step" && i > 0 && !finite(s.Y[i-1]) {
					continue
				}
				x, y := xOf(s.X[i]), yOf(s.Y[i])
				if p.Kind == "step" && i > 0 {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, yOf(s.Y[i-1])))
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			}
			dash := ""
			if s.Dashed {
				dash = ` stroke-dasharray="5 4"`
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s><title>%s</title></polyline>`,
				strings.Join(pts, " "), col, dash, esc(s.Name))
			if len(s.X) <= 40 && p.Kind == "line" {
				for i := range s.X {
					if i < len(s.Y) && finite(s.X[i]) && finite(s.Y[i]) {
						fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s: %s, %s</title></circle>`,
							xOf(s.X[i]), yOf(s.Y[i]), col, esc(s.Name), tickText(s.X[i]), tickText(s.Y[i]))
					}
				}
			}
		}
	}
	// Legend.
	for si, s := range p.Series {
		col := palette[si%len(palette)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5 4"`
		}
		lx, y := L+(si%2)*((W-L-R)/2), 24+15*(si/2)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, lx, lx+18, y+6, y+6, col, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="legend">%s</text>`, lx+24, y+10, esc(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func labelAt(own, all []string, i int) string {
	if i < len(own) {
		return own[i]
	}
	if i < len(all) {
		return all[i]
	}
	return ""
}

// diagramLimit bounds the packets drawn in one sequence diagram.
const diagramLimit = 240

// hostOrder puts the client on the left and the origin on the right.
func hostOrder(hosts []string) []string {
	rank := map[string]int{"client": 0, "dns": 1, "proxy": 2, "web": 3}
	out := append([]string(nil), hosts...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && rank[out[j]] < rank[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// diagram is the sequence diagram of one leg.
type diagram struct {
	Leg     string
	SVG     template.HTML
	Shown   int
	Omitted int
}

// diagrams draws one sequence diagram per leg of r (the packets between the hosts,
// each arrow from the time it left its sender to the time it reached its receiver).
func diagrams(r *lab.Result) []diagram {
	cp := r.Capture
	if cp == nil {
		return nil
	}
	legs := r.Legs
	if len(legs) == 0 {
		legs = []lab.Leg{{Name: r.Experiment, Start: 0, End: r.Elapsed}}
	}
	var out []diagram
	for li, leg := range legs {
		end := leg.End
		if li+1 < len(legs) {
			end = legs[li+1].Start
		} else if len(cp.Records) > 0 {
			end = max(end, cp.Records[len(cp.Records)-1].Sent+r.P.RTT)
		}
		var recs []*capture.Record
		omitted := 0
		for i := range cp.Records {
			rec := &cp.Records[i]
			if rec.Sent < leg.Start || rec.Sent >= end || rec.Dst == "?" {
				continue
			}
			if len(recs) >= diagramLimit {
				omitted++
				continue
			}
			recs = append(recs, rec)
		}
		if len(recs) == 0 {
			continue
		}
		out = append(out, diagram{Leg: leg.Name, SVG: sequenceSVG(r, recs, leg.Name), Shown: len(recs), Omitted: omitted})
	}
	return out
}

func sequenceSVG(r *lab.Result, recs []*capture.Record, leg string) template.HTML {
	hosts := hostOrder(r.Hosts)
	col := map[string]float64{}
	const L, colW, T, B = 86, 190, 44, 24
	for i, h := range hosts {
		col[h] = float64(L + 60 + i*colW)
	}
	W := L + 60 + (len(hosts)-1)*colW + 150
	t0 := recs[0].Sent
	t1 := t0
	for _, rec := range recs {
		t1 = max(t1, rec.Sent, rec.Arrived)
	}
	if t1 <= t0 {
		t1 = t0 + time.Millisecond
	}
	H := min(max(len(recs)*13, 260), 1500)
	yOf := func(t time.Duration) float64 { return float64(T) + float64(t-t0)/float64(t1-t0)*float64(H) }
	notes := annotate(r.Capture, "client", r.P.RTT)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="seq" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="sequence diagram: %s">`, W, H+T+B, W, H+T+B, esc(leg))
	for _, h := range hosts {
		x := col[h]
		fmt.Fprintf(&b, `<text x="%.0f" y="18" class="host" text-anchor="middle">%s</text>`, x, esc(h))
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="26" y2="%d" class="life"/>`, x, x, H+T+B/2)
	}
	for _, v := range niceTicks(timeline.Millis(t0), timeline.Millis(t1), 8) {
		y := yOf(time.Duration(v * float64(time.Millisecond)))
		if y < float64(T)-1 || y > float64(T+H)+1 {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, L-6, W-20, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="tick" text-anchor="end">%s ms</text>`, L-10, y+4, tickText(v))
	}
	lastLabel := map[string]float64{}
	for _, rec := range recs {
		x1, ok1 := col[rec.Src]
		x2, ok2 := col[rec.Dst]
		if !ok1 || !ok2 {
			continue
		}
		y1 := yOf(rec.Sent)
		cls := "pkt"
		y2 := 0.0
		if rec.Dropped() {
			cls += " lost"
			x2 = (x1 + x2) / 2
			y2 = y1 + (yOf(rec.Sent+r.P.RTT/2)-y1)/2
		} else {
			y2 = yOf(rec.Arrived)
		}
		if strings.Contains(rec.Flags, "SYN") || strings.Contains(rec.Flags, "FIN") || strings.Contains(rec.Flags, "RST") {
			cls += " ctl"
		}
		if rec.Len > 0 || rec.Proto == "UDP" {
			cls += " data"
		}
		if rec.Retrans {
			cls += " retrans"
		}
		label := rec.Flags
		if label == "" {
			label = rec.Proto
		}
		if rec.Info != "" {
			label += " " + rec.Info
		}
		detail := fmt.Sprintf("%s → %s  %s  sent %.3f ms, ", rec.Src, rec.Dst, rec.Proto, timeline.Millis(rec.Sent))
		if rec.Dropped() {
			detail += "dropped (" + rec.Fate.String() + ")"
		} else {
			detail += fmt.Sprintf("arrived %.3f ms", timeline.Millis(rec.Arrived))
		}
		if rec.Proto == "TCP" {
			detail += fmt.Sprintf("  conn #%d %s seq=%d ack=%d win=%d len=%d", rec.Conn, rec.Flags, rec.Seq, rec.Ack, rec.Win, rec.Len)
		}
		if rec.Info != "" {
			detail += "  " + rec.Info
		}
		if n := notes[rec.N]; n != "" {
			detail += "  · " + n
		}
		fmt.Fprintf(&b, `<g class="%s" data-d="%s"><title>%s</title><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" marker-end="url(#arrow)"/>`,
			cls, esc(detail), esc(detail), x1, y1, x2, y2)
		if rec.Dropped() {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="x" text-anchor="middle">✕</text>`, x2, y2+4)
		}
		// Label what a reader looks for (handshake, close and reset flags, what a
		// segment carries, losses), not every ACK or data segment of a burst.
		worth := strings.Contains(cls, "ctl") || rec.Info != "" || rec.Dropped() || rec.Retrans
		side := rec.Src + ">" + rec.Dst
		if worth && (y1-lastLabel[side] >= 11 || lastLabel[side] == 0) {
			lastLabel[side] = y1
			label = shorten(label, 34)
			anchor, lx := "start", x1+6
			if x2 < x1 {
				anchor, lx = "end", x1-6
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="lbl" text-anchor="%s">%s</text>`, lx, y1-2, anchor, esc(label))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// shorten cuts s to at most n runes, the last being "…" when it was cut (on a rune
// boundary: the labels hold "×", "→" and "…").
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
