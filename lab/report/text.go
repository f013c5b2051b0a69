//go:build linux

package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hop-http/hop/lab"
)

// TextOptions choose what WriteText prints.
type TextOptions struct {
	// Timeline is how many rows of each experiment's packet timeline to print: 0
	// none, negative all.
	Timeline int
	// Checks prints every check behind the verdict, not only the failed ones.
	Checks bool
}

// WriteText writes each result as a block: title, settings, claim, measured beside
// predicted, verdict, and the timeline at the client's end; after several results,
// the summary of WriteSummary.
func WriteText(w io.Writer, results []*lab.Result, opt TextOptions) {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "== %s: %s\n", r.Experiment, r.Title)
		fmt.Fprintf(w, "   %s\n", Settings(r))
		fmt.Fprintf(w, "   claim: %s\n\n", r.Claim)
		writeTable(w, r)
		fmt.Fprintf(w, "\n   verdict: %s — %s\n", r.Verdict, r.Note)
		for _, c := range r.Checks {
			if !c.OK {
				fmt.Fprintf(w, "   ✗ %s\n", c.What)
			} else if opt.Checks {
				fmt.Fprintf(w, "   ✓ %s\n", c.What)
			}
		}
		writeWaterfalls(w, r)
		WriteTimeline(w, r, "client", opt.Timeline)
	}
	if len(results) > 1 {
		WriteSummary(w, results)
	}
}

// WriteSummary writes an empty line and the line that closes a run of several
// experiments: "N of M experiments agree with the prediction: url agrees, …".
func WriteSummary(w io.Writer, results []*lab.Result) {
	agree := 0
	parts := make([]string, len(results))
	for i, r := range results {
		if r.Verdict == lab.Agrees {
			agree++
		}
		parts[i] = r.Experiment + " " + r.Verdict
	}
	fmt.Fprintf(w, "\n%d of %d experiments agree with the prediction: %s\n", agree, len(results), strings.Join(parts, ", "))
}

// Settings describes the link an experiment ran on, in one line.
func Settings(r *lab.Result) string {
	s := fmt.Sprintf("RTT %s · loss %s%% · rate %s · %s", strconv.FormatFloat(r.Params.RTTMs, 'f', -1, 64)+" ms",
		strconv.FormatFloat(r.Params.LossPct, 'f', -1, 64), lab.FormatRate(r.Params.RateBps), r.Params.CC)
	if r.Params.JitterMs > 0 {
		s += fmt.Sprintf(" · jitter ±%.1f ms", r.Params.JitterMs/2)
	}
	return s + fmt.Sprintf(" · ran %.1f s", r.Elapsed.Seconds())
}

func writeTable(w io.Writer, r *lab.Result) {
	width := 8
	for _, row := range r.Rows {
		width = max(width, len([]rune(row.Label)))
	}
	fmt.Fprintf(w, "   %-*s  %14s  %14s\n", width, "", "measured", "predicted")
	for _, row := range r.Rows {
		pred := ""
		if row.HasPred {
			pred = Value(row.Predicted, row.Unit)
		}
		fmt.Fprintf(w, "   %-*s  %14s  %14s\n", width+len(row.Label)-len([]rune(row.Label)), row.Label, Value(row.Measured, row.Unit), pred)
	}
}

// Value formats a figure with its unit.
func Value(v float64, unit string) string {
	switch unit {
	case "ms":
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	case "bit/s":
		return lab.FormatRate(int64(v))
	case "%":
		return strconv.FormatFloat(v, 'f', 2, 64) + "%"
	case "bytes":
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	case "×":
		return strconv.FormatFloat(v, 'f', 2, 64) + "×"
	case "":
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10) + " " + unit
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + " " + unit
}

// WriteJSON writes one JSON object per result, one per line (the `hop lab run
// --json` output).
func WriteJSON(w io.Writer, results []*lab.Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// writeWaterfalls draws the result's per-request phases with the waterfall of `hop
// get --timing`.
func writeWaterfalls(w io.Writer, r *lab.Result) {
	for i := range r.Waterfalls {
		fmt.Fprintln(w)
		indent(w, func(b io.Writer) { r.Waterfalls[i].WriteTo(b) })
	}
}

// indent writes what fn writes, each line indented by three spaces.
func indent(w io.Writer, fn func(io.Writer)) {
	var b strings.Builder
	fn(&b)
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line != "" {
			io.WriteString(w, "   "+line)
		}
	}
}
