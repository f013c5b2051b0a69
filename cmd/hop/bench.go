package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hop-http/hop/loadgen"
)

func init() { commands["bench"] = cmdBench }

// cmdBench is "hop bench [flags] URL".
func cmdBench(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	var progress io.Writer
	if isTerminal(os.Stderr) {
		progress = os.Stderr
	}
	return runBench(ctx, args, os.Stdout, os.Stderr, progress)
}

// benchHeaders collects repeated -H flags.
type benchHeaders [][2]string

func (h *benchHeaders) String() string { return fmt.Sprint(*h) }

func (h *benchHeaders) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New(`want "Name: value"`)
	}
	*h = append(*h, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
	return nil
}

const benchUsage = `usage: hop bench [flags] URL

Generates HTTP/1.1 load and measures throughput, latency percentiles, errors by kind
and connections opened. Modes: keep-alive (default), --pipeline N, --close.

  hop bench -c 50 -d 10s http://127.0.0.1:8080/
  hop bench -c 50 --pipeline 16 http://127.0.0.1:8080/
  hop bench -c 10 --rate 2000 -d 30s http://127.0.0.1:8080/   # latency corrected for coordinated omission
  hop bench --compare -c 50 -d 5s http://127.0.0.1:8080/      # close / keep-alive / pipelined / parallel

--compare runs, at the same concurrency c (P = --pipeline, 16 by default):
  close       c requests in flight, each on a new connection
  keep-alive  c persistent connections, one request in flight on each
  pipelined   the same c requests in flight over ceil(c/P) connections, P on each
              (c rounded up to a multiple of P)
  parallel    c persistent connections with P in flight on each
and shows the sockets left in TIME_WAIT after the close run. With --json it prints one
object {"runs": [...], "time_wait_before": {...}, "time_wait_after_close": {...}}
(the TIME_WAIT counts when they could be read): each run is the object a single run's
--json prints (requests, connections, latency_ms, ...) with name, in_flight,
ratio_vs_close and ratio_vs_keep_alive added.

Exit status: 0; 1 when no request completed or the run could not start (the host
cannot be resolved); 2 on bad usage or an invalid configuration.

flags:
`

// runBench parses args, runs and writes the report to stdout. Progress lines go to
// progress (nil: none).
func runBench(ctx context.Context, args []string, stdout, stderr, progress io.Writer) int {
	fs := flag.NewFlagSet("hop bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var (
		cfg      loadgen.Config
		duration time.Duration
		warmup   time.Duration
		timeout  = loadgen.DefaultTimeout
		headers  benchHeaders
		body     string
		bodyFile string
		compare  bool
		asJSON   bool
		insecure bool
	)
	fs.IntVar(&cfg.Connections, "c", loadgen.DefaultConnections, "connections (with --close: requests in flight, each on a new connection)")
	fs.Var(durationFlag{&duration}, "d", "measured duration (default 10s, or until -n requests when -n is set)")
	fs.Int64Var(&cfg.Requests, "n", 0, "stop after this many requests")
	fs.IntVar(&cfg.Pipeline, "pipeline", 1, "requests in flight on each connection")
	fs.BoolVar(&cfg.Close, "close", false, "a new TCP connection per request (Connection: close)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "fixed rate in requests/s over all connections, latency corrected for coordinated omission")
	fs.BoolVar(&compare, "compare", false, "run close, keep-alive, pipelined and parallel back to back and compare them")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of the text report")
	fs.Var(durationFlag{&warmup}, "warmup", "run this long before measuring")
	fs.Var(durationFlag{&timeout}, "timeout", "fail a request after this long without progress")
	fs.StringVar(&cfg.Method, "m", "GET", "request method")
	fs.Var(&headers, "H", `request header "Name: value" (repeatable)`)
	fs.StringVar(&body, "body", "", "request body")
	fs.StringVar(&bodyFile, "body-file", "", "read the request body from this file")
	fs.BoolVar(&insecure, "k", false, "https: do not verify the server certificate")

	urls, err := parseInterspersed(fs, args) // flags may come before or after the URL
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(urls) != 1 {
		fmt.Fprintln(stderr, "hop bench: want exactly one URL")
		fs.Usage()
		return 2
	}
	cfg.URL = urls[0]
	cfg.Duration, cfg.Warmup, cfg.Timeout = duration, warmup, timeout
	cfg.Header = headers
	if body != "" && bodyFile != "" {
		fmt.Fprintln(stderr, "hop bench: --body and --body-file are exclusive")
		return 2
	}
	cfg.Body = []byte(body)
	if bodyFile != "" {
		b, err := os.ReadFile(bodyFile)
		if err != nil {
			fmt.Fprintln(stderr, "hop bench:", err)
			return 2
		}
		cfg.Body = b
	}
	if insecure {
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if progress != nil {
		cfg.Progress = func(p loadgen.Progress) {
			phase := p.Label
			if p.Warmup {
				phase += " (warm-up)"
			}
			fmt.Fprintf(progress, "\r\033[K%-22s %6.1fs %12.0f req/s %12d requests %8d errors",
				phase, p.Elapsed.Seconds(), p.RequestsPerSec, p.Requests, p.Errors)
		}
	}
	clearProgress := func() {
		if progress != nil {
			fmt.Fprint(progress, "\r\033[K")
		}
	}

	if compare {
		if cfg.Close {
			fmt.Fprintln(stderr, "hop bench: --compare runs --close itself")
			return 2
		}
		cmp, err := loadgen.Compare(ctx, cfg)
		clearProgress()
		if err != nil {
			return benchFailed(stderr, err)
		}
		if asJSON {
			benchJSON(stdout, compareJSONOf(cmp.Report()))
		} else {
			cmp.WriteText(stdout)
		}
		for _, r := range cmp.Rows {
			if r.Result.Requests == 0 {
				return 1
			}
		}
		return 0
	}

	res, err := loadgen.Run(ctx, cfg)
	clearProgress()
	if err != nil {
		return benchFailed(stderr, err)
	}
	if asJSON {
		benchJSON(stdout, res.Report())
	} else {
		res.WriteText(stdout)
	}
	if res.Requests == 0 {
		return 1
	}
	return 0
}

// benchFailed reports an error of loadgen.Run or loadgen.Compare and returns the exit
// status: 2 for an invalid configuration (a usage error), 1 for a failure to run it
// (the host cannot be resolved).
func benchFailed(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "hop bench:", strings.TrimPrefix(err.Error(), "loadgen: "))
	if errors.Is(err, loadgen.ErrConfig) {
		return 2
	}
	return 1
}

func benchJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// compareJSON is the object `hop bench --compare --json` prints.
type compareJSON struct {
	Runs               []compareRunJSON  `json:"runs"`
	TimeWaitBefore     *loadgen.TimeWait `json:"time_wait_before,omitempty"`
	TimeWaitAfterClose *loadgen.TimeWait `json:"time_wait_after_close,omitempty"`
}

// compareRunJSON is one run of compareJSON: a single run's --json object with what
// the comparison adds. No field of its own has the JSON name of one of the report's
// (an embedded field of the same name would be hidden without a word; a test checks).
// The run's connections are the report's.
type compareRunJSON struct {
	Name             string  `json:"name"`
	InFlight         int     `json:"in_flight"`
	RatioVsClose     float64 `json:"ratio_vs_close"`
	RatioVsKeepAlive float64 `json:"ratio_vs_keep_alive"`
	loadgen.Report
}

func compareJSONOf(rep loadgen.CompareReport) compareJSON {
	out := compareJSON{TimeWaitBefore: rep.TimeWaitBefore, TimeWaitAfterClose: rep.TimeWaitAfterClose}
	for _, r := range rep.Runs {
		out.Runs = append(out.Runs, compareRunJSON{Name: r.Name, InFlight: r.InFlight,
			RatioVsClose: r.RatioVsClose, RatioVsKeepAlive: r.RatioVsKeepAlive, Report: r.Report})
	}
	return out
}
