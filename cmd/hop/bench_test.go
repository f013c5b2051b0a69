package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hop-http/hop/loadgen"
	"github.com/hop-http/hop/server"
)

// benchServer serves "Hello, World!" on 127.0.0.1 and returns its URL.
func benchServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteString("Hello, World!")
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return "http://" + ln.Addr().String() + "/"
}

// benchRun runs "hop bench args..." with a bound on its duration.
func benchRun(t *testing.T, progress *bytes.Buffer, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	if progress != nil {
		code = runBench(ctx, args, &out, &errb, progress)
	} else {
		code = runBench(ctx, args, &out, &errb, nil)
	}
	return code, out.String(), errb.String()
}

func TestBenchJSON(t *testing.T) {
	url := benchServer(t)
	tests := []struct {
		name string
		args []string
		mode string
		reqs float64
	}{
		{"keep-alive", []string{"-c", "2", "-n", "200", "--json", url}, "keep-alive", 200},
		{"flags after URL", []string{url, "-n", "100", "--json", "-c", "3"}, "keep-alive", 100},
		{"pipelined", []string{"-c", "2", "-n", "300", "--pipeline", "16", "--json", url}, "pipelined", 300},
		{"close", []string{"-c", "2", "-n", "50", "--close", "--json", url}, "close", 50},
		{"rate", []string{"-c", "2", "--rate", "200", "-d", "0.5", "--json", url}, "keep-alive", -1},
		{"method header body", []string{"-n", "10", "-m", "POST", "-H", "X-Test: 1", "--body", "abc", "--json", url},
			"keep-alive", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := benchRun(t, nil, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errs)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			for _, k := range []string{"requests", "duration_s", "requests_per_sec", "errors", "connections_opened", "latency_ms"} {
				if _, ok := m[k]; !ok {
					t.Errorf("no %q in %s", k, out)
				}
			}
			lat, _ := m["latency_ms"].(map[string]any)
			for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
				if _, ok := lat[k].(float64); !ok {
					t.Errorf("no latency_ms.%s in %s", k, out)
				}
			}
			checkReportUnits(t, m)
			if m["mode"] != tt.mode || m["errors"].(float64) != 0 {
				t.Errorf("mode %v errors %v", m["mode"], m["errors"])
			}
			if tt.reqs >= 0 && m["requests"].(float64) != tt.reqs {
				t.Errorf("requests %v, want %v", m["requests"], tt.reqs)
			}
			if tt.name == "rate" {
				if _, ok := m["latency_uncorrected_ms"]; !ok {
					t.Errorf("rate run without latency_uncorrected_ms: %s", out)
				}
			}
			if errs != "" {
				t.Errorf("stderr: %q", errs)
			}
		})
	}
}

// checkReportUnits checks the units and the consistency of a JSON report: the rate
// is requests per second of duration_s, and the latency percentiles are in order.
func checkReportUnits(t *testing.T, m map[string]any) {
	t.Helper()
	reqs, _ := m["requests"].(float64)
	dur, _ := m["duration_s"].(float64)
	rps, _ := m["requests_per_sec"].(float64)
	if dur <= 0 || reqs > 0 && math.Abs(rps*dur-reqs) > 0.05*reqs {
		t.Errorf("requests_per_sec %v × duration_s %v = %v, want requests %v (±5%%)", rps, dur, rps*dur, reqs)
	}
	lat, _ := m["latency_ms"].(map[string]any)
	prev, prevName := 0.0, "0"
	for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
		v, _ := lat[k].(float64)
		if v < prev {
			t.Errorf("latency_ms.%s = %v < %s = %v", k, v, prevName, prev)
		}
		prev, prevName = v, k
	}
}

func TestBenchText(t *testing.T) {
	url := benchServer(t)
	var progress bytes.Buffer
	code, out, _ := benchRun(t, &progress, "-c", "2", "-d", "1.2s", url)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"requests", "transfer", "p50", "p99.9", "errors        0", "2 opened"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if p := progress.String(); !strings.Contains(p, "req/s") || !strings.HasSuffix(p, "\r\033[K") {
		t.Errorf("progress = %q", p)
	}
}

func TestBenchCompare(t *testing.T) {
	url := benchServer(t)
	code, out, errs := benchRun(t, nil, "--compare", "-c", "4", "-d", "200ms", "--json", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Runs []struct {
			Name        string             `json:"name"`
			Requests    int64              `json:"requests"`
			Ratio       float64            `json:"ratio_vs_close"`
			Connections int                `json:"connections"`
			InFlight    int                `json:"in_flight"`
			Pipeline    int                `json:"pipeline"`
			Latency     map[string]float64 `json:"latency_ms"`
		} `json:"runs"`
		TimeWait *struct {
			Target int `json:"target"`
		} `json:"time_wait_after_close"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var names []string
	for _, r := range rep.Runs {
		names = append(names, r.Name)
		if r.Requests == 0 {
			t.Errorf("%s: no requests", r.Name)
		}
	}
	if strings.Join(names, ",") != "close,keep-alive,pipelined,parallel" || rep.Runs[0].Ratio != 1 {
		t.Errorf("runs %v: %s", names, out)
	}
	// -c 4 with P = 16: the pipelined run has its 16 requests in flight on one
	// connection; each run's connections are its own.
	for i, want := range []struct{ conns, inFlight, pipeline int }{{4, 4, 1}, {4, 4, 1}, {1, 16, 16}, {4, 64, 16}} {
		if i >= len(rep.Runs) {
			break
		}
		if r := rep.Runs[i]; r.Connections != want.conns || r.InFlight != want.inFlight || r.Pipeline != want.pipeline || r.Latency["p99"] <= 0 {
			t.Errorf("%s: connections %d, in flight %d, pipeline %d, latency %v; want %+v", r.Name, r.Connections, r.InFlight, r.Pipeline, r.Latency, want)
		}
	}
	if rep.TimeWait == nil {
		t.Errorf("no time_wait_after_close: %s", out)
	}
	code, out, _ = benchRun(t, nil, "--compare", "-c", "2", "-d", "100ms", url)
	if code != 0 || !strings.Contains(out, "TIME_WAIT") || !strings.Contains(out, "xkeep") {
		t.Errorf("exit %d, table:\n%s", code, out)
	}
}

// No field the comparison adds to a run hides one of the run's report under the same
// JSON name (encoding/json would drop the embedded one without a word).
func TestCompareJSONFieldsDistinct(t *testing.T) {
	names := func(typ reflect.Type) map[string]bool {
		out := map[string]bool{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			out[cmp.Or(name, f.Name)] = true
		}
		return out
	}
	report := names(reflect.TypeFor[loadgen.Report]())
	for name := range names(reflect.TypeFor[compareRunJSON]()) {
		if report[name] {
			t.Errorf("the comparison's %q hides the run report's", name)
		}
	}
	if !report["connections"] || !report["requests"] {
		t.Errorf("the report's JSON names were not found: %v", report)
	}
}

func TestBenchFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/"
	ln.Close()
	code, out, _ := benchRun(t, nil, "-n", "3", "--json", dead)
	var m struct {
		Errors int64             `json:"errors"`
		Kinds  map[string]int64  `json:"errors_by_kind"`
		First  map[string]string `json:"first_errors"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if code != 1 || m.Errors != 3 || m.Kinds["connect"] != m.Errors {
		t.Errorf("exit %d, %s", code, out)
	}
	if len(m.First) != 1 || !strings.Contains(m.First["connect"], "refused") {
		t.Errorf("first_errors %v, want a connect error saying refused", m.First)
	}
	code, out, _ = benchRun(t, nil, "-n", "3", dead)
	if code != 1 || !regexp.MustCompile(`\n  errors +3 \(connect 3,.*\n    first connect error: .*refused\n`).MatchString(out) {
		t.Errorf("exit %d, report:\n%s", code, out)
	}
}

// TestBenchRunFailure: a run that cannot start (the host does not resolve) is a
// failure (1), not a usage error (2), and the message has one prefix.
func TestBenchRunFailure(t *testing.T) {
	for _, args := range [][]string{{"-n", "1"}, {"--compare", "-n", "1"}} {
		code, out, errs := benchRun(t, nil, append(args, "http://hop-bench-test.onion/")...)
		if code != 1 || out != "" || !strings.HasPrefix(errs, "hop bench: resolve hop-bench-test.onion: no such host") ||
			strings.Count(errs, "bench:") != 1 || strings.Contains(errs, "loadgen:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

// TestBenchHelperProcess is not a test: TestBenchSignal runs the test binary as
// `hop bench` through it.
func TestBenchHelperProcess(t *testing.T) {
	if os.Getenv("HOP_BENCH_HELPER") != "1" {
		return
	}
	os.Exit(cmdBench(strings.Split(os.Getenv("HOP_BENCH_ARGS"), "\n")))
}

// TestBenchSignal runs hop bench as a process, stops it with SIGTERM or SIGINT long
// before its duration is over, and expects the report of the run so far.
func TestBenchSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			const conns = 2
			var seen atomic.Int64
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
				seen.Add(1)
				w.WriteString("Hello, World!")
			})}
			done := make(chan struct{})
			go func() { defer close(done); srv.Serve(ln) }()
			t.Cleanup(func() { srv.Close(); <-done })

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBenchHelperProcess$")
			cmd.Env = append(os.Environ(), "HOP_BENCH_HELPER=1",
				"HOP_BENCH_ARGS="+strings.Join([]string{"-c", strconv.Itoa(conns), "-d", "30s", "--json", "http://" + ln.Addr().String() + "/"}, "\n"))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The load has started (so the signal handler is in place): stop it once
			// 100 responses are certainly complete. The server counts a request when
			// its handler starts, and with -c 2 two more may still be on their way,
			// so it waits for 102.
			for seen.Load() < 100+conns {
				if ctx.Err() != nil {
					t.Fatal("no load arrived")
				}
				time.Sleep(10 * time.Millisecond)
			}
			start := time.Now()
			cmd.Process.Signal(sig)
			err = cmd.Wait()
			if err != nil {
				t.Fatalf("hop bench after %v: %v\nstderr %s", sig, err, stderr.String())
			}
			if el := time.Since(start); el > 20*time.Second {
				t.Errorf("hop bench took %v to stop", el)
			}
			var m map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
				t.Fatalf("no report after %v: %v: %q (stderr %q)", sig, err, stdout.String(), stderr.String())
			}
			if r, _ := m["requests"].(float64); r < 100 {
				t.Errorf("requests %v, want at least 100", m["requests"])
			}
			if d, _ := m["duration_s"].(float64); d <= 0 || d >= 30 {
				t.Errorf("duration_s %v: the run was not cut short", m["duration_s"])
			}
			checkReportUnits(t, m)
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args []string
		pos  string
		n    int
		v    bool
	}{
		{[]string{"a", "-n", "3", "b"}, "a,b", 3, false},
		{[]string{"-v", "a", "b", "-n=2"}, "a,b", 2, true},
		{[]string{"a", "--", "-v", "b"}, "a,-v,b", 0, false},
		{[]string{"-n", "1", "--", "-n"}, "-n", 1, false},
		{nil, "", 0, false},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		n := fs.Int("n", 0, "")
		v := fs.Bool("v", false, "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil || strings.Join(pos, ",") != tt.pos || *n != tt.n || *v != tt.v {
			t.Errorf("%q: %q %d %v %v", tt.args, pos, *n, *v, err)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseInterspersed(fs, []string{"a", "-x"}); err == nil {
		t.Error("unknown flag after a positional argument accepted")
	}
}

func TestDurationFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "0.5": 500 * time.Millisecond,
		"2m": 2 * time.Minute, "150ms": 150 * time.Millisecond} {
		var d time.Duration
		if err := (durationFlag{&d}).Set(in); err != nil || d != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, d, err, want)
		}
		// hop get --timeout and hop bench -d read the same way.
		o, err := getParseFlags([]string{"--timeout", in, "--connect-timeout", in, "http://x/"}, io.Discard)
		if err != nil || o.timeout != want || o.connectTimeout != want {
			t.Errorf("hop get --timeout %s: %+v, %v", in, o, err)
		}
	}
	for _, in := range []string{"soon", "NaN", "1e300", "Inf"} {
		var d time.Duration
		if err := (durationFlag{&d}).Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %v", in, d)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no URL", []string{"-c", "2"}},
		{"two URLs", []string{"http://127.0.0.1:1/", "http://127.0.0.1:2/"}},
		{"bad duration", []string{"-d", "soon", "http://127.0.0.1:1/"}},
		{"bad header", []string{"-H", "novalue", "http://127.0.0.1:1/"}},
		{"unknown flag", []string{"--frobnicate", "http://127.0.0.1:1/"}},
		{"close pipelined", []string{"--close", "--pipeline", "4", "http://127.0.0.1:1/"}},
		{"compare close", []string{"--compare", "--close", "http://127.0.0.1:1/"}},
		{"bad scheme", []string{"ftp://127.0.0.1/"}},
		{"too many connections", []string{"-c", "-1", "http://127.0.0.1:1/"}},
		{"pipeline too deep", []string{"--pipeline", "100000", "http://127.0.0.1:1/"}},
		{"body and file", []string{"--body", "x", "--body-file", "/dev/null", "http://127.0.0.1:1/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := benchRun(t, nil, tt.args...)
			if code != 2 || out != "" || errs == "" {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
		})
	}
	if code, _, errs := benchRun(t, nil, "-h"); code != 0 || !strings.Contains(errs, "usage: hop bench") {
		t.Errorf("-h: exit %d, %q", code, errs)
	}
}
