package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

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
			Name     string  `json:"name"`
			Requests int64   `json:"requests"`
			Ratio    float64 `json:"ratio_vs_close"`
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
	if rep.TimeWait == nil {
		t.Errorf("no time_wait_after_close: %s", out)
	}
	code, out, _ = benchRun(t, nil, "--compare", "-c", "2", "-d", "100ms", url)
	if code != 0 || !strings.Contains(out, "TIME_WAIT") || !strings.Contains(out, "xkeep") {
		t.Errorf("exit %d, table:\n%s", code, out)
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
		Errors int64            `json:"errors"`
		Kinds  map[string]int64 `json:"errors_by_kind"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if code != 1 || m.Errors < 3 || m.Kinds["connect"] != m.Errors {
		t.Errorf("exit %d, %s", code, out)
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
