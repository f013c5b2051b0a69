package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

func TestModes(t *testing.T) {
	var seen atomic.Int64
	var closeField atomic.Int64
	url := startServer(t, func(w *server.ResponseWriter, r *server.Request) {
		seen.Add(1)
		if r.Header.HasToken("Connection", "close") {
			closeField.Add(1)
		}
		hello(w, r)
	}, nil)
	tests := []struct {
		name       string
		cfg        Config
		wantOpened func(n int64) bool
		wantClose  bool
	}{
		// A worker that starts after the others used up the budget opens nothing.
		{"keep-alive", Config{Connections: 4}, func(n int64) bool { return n >= 1 && n <= 4 }, false},
		{"pipelined", Config{Connections: 3, Pipeline: 16}, func(n int64) bool { return n >= 1 && n <= 3 }, false},
		{"close", Config{Connections: 4, Close: true}, func(n int64) bool { return n >= 600 && n < 600+4 }, true},
		{"one connection", Config{Connections: 1}, func(n int64) bool { return n == 1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen.Store(0)
			closeField.Store(0)
			cfg := tt.cfg
			cfg.URL = url
			cfg.Requests = 600
			res := run(t, cfg)
			if res.Requests != 600 || res.Errors.Total() != 0 {
				t.Fatalf("requests %d, errors %+v; want 600 and none", res.Requests, res.Errors)
			}
			if got := seen.Load(); got != 600 {
				t.Errorf("server saw %d requests, want 600", got)
			}
			if !tt.wantOpened(res.ConnectionsOpened) {
				t.Errorf("connections opened = %d", res.ConnectionsOpened)
			}
			if got := closeField.Load() == 600; got != tt.wantClose {
				t.Errorf("requests with Connection: close = %d", closeField.Load())
			}
			if res.Latency.TotalCount() != 600 || res.StatusClasses[2] != 600 {
				t.Errorf("latency samples %d, 2xx %d; want 600", res.Latency.TotalCount(), res.StatusClasses[2])
			}
			if res.Bytes < 600*int64(len("HTTP/1.1 200 OK\r\n\r\nHello, World!")) {
				t.Errorf("bytes = %d, too few", res.Bytes)
			}
			if res.Config.Mode() != strings.Fields(tt.name)[0] && tt.name != "one connection" {
				t.Errorf("mode = %q", res.Config.Mode())
			}
		})
	}
}

// TestFraming checks that every response framing is read exactly, so that a pipelined
// connection stays in step: a framing mistake shows up as a protocol error or a
// missing response.
func TestFraming(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 300<<10)
	tests := []struct {
		name    string
		method  string
		handler server.HandlerFunc
		minBody int
	}{
		{"content-length", "GET", hello, 13},
		{"empty", "GET", func(w *server.ResponseWriter, r *server.Request) {}, 0},
		{"204", "GET", func(w *server.ResponseWriter, r *server.Request) { w.WriteHeader(204) }, 0},
		{"head", "HEAD", hello, 0},
		{"large", "GET", func(w *server.ResponseWriter, r *server.Request) { w.Write(big) }, len(big)},
		{"chunked", "GET", func(w *server.ResponseWriter, r *server.Request) {
			w.WriteString("first chunk")
			w.Flush()
			w.WriteString("second chunk")
			w.Flush()
			w.Write(big[:100<<10])
		}, 100 << 10},
		{"post body", "POST", func(w *server.ResponseWriter, r *server.Request) {
			b, err := r.ReadBody(1 << 20)
			if err != nil || string(b) != "payload" {
				w.WriteHeader(400)
				return
			}
			w.WriteString("ok")
		}, 2},
	}
	for _, tt := range tests {
		for _, depth := range []int{1, 8} {
			t.Run(fmt.Sprintf("%s/pipeline=%d", tt.name, depth), func(t *testing.T) {
				url := startServer(t, tt.handler, nil)
				cfg := Config{URL: url, Connections: 2, Pipeline: depth, Requests: 64, Method: tt.method}
				if tt.method == "POST" {
					cfg.Body = []byte("payload")
				}
				res := run(t, cfg)
				if res.Requests != 64 || res.Errors.Total() != 0 {
					t.Fatalf("requests %d, errors %+v", res.Requests, res.Errors)
				}
				if res.Bytes < int64(64*tt.minBody) {
					t.Errorf("bytes %d < %d", res.Bytes, 64*tt.minBody)
				}
			})
		}
	}
}

// TestCloseDelimited reads bodies that end with the connection (no length, no
// chunking), which the hop server never sends to HTTP/1.1 clients.
func TestCloseDelimited(t *testing.T) {
	url := startRaw(t, func(c *net.TCPConn) {
		buf := make([]byte, 64<<10)
		if _, ok := readHead(c, buf); !ok {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
		for i := 0; i < 10; i++ {
			io.WriteString(c, "part of a body that ends when the connection does\n")
		}
	})
	res := run(t, Config{URL: url, Connections: 2, Requests: 40})
	// One connection per response; a worker may open one more that the other worker's
	// last request leaves unused.
	if res.Requests != 40 || res.Errors.Total() != 0 || res.ConnectionsOpened < 40 || res.ConnectionsOpened > 41 {
		t.Fatalf("requests %d, errors %+v, opened %d; want 40, none, 40", res.Requests, res.Errors, res.ConnectionsOpened)
	}
}

// TestServerClosesPipeline: a server that ends each connection after a few requests
// (Connection: close) leaves pipelined requests unanswered; they are sent again on a
// new connection and nothing is lost or counted as an error.
func TestServerClosesPipeline(t *testing.T) {
	var seen atomic.Int64
	url := startServer(t, func(w *server.ResponseWriter, r *server.Request) {
		seen.Add(1)
		hello(w, r)
	}, func(s *server.Server) { s.MaxRequestsPerConn = 5 })
	res := run(t, Config{URL: url, Connections: 2, Pipeline: 8, Requests: 200})
	if res.Requests != 200 || res.Errors.Total() != 0 {
		t.Fatalf("requests %d, errors %+v", res.Requests, res.Errors)
	}
	if res.ConnectionsOpened < 40 {
		t.Errorf("opened %d connections, want at least 40 (5 requests each)", res.ConnectionsOpened)
	}
	if seen.Load() != 200 {
		t.Errorf("server answered %d requests, want 200", seen.Load())
	}
}

func TestErrorsCounted(t *testing.T) {
	tests := []struct {
		name  string
		url   func(t *testing.T) string
		check func(e Errors) bool
		want  string
	}{
		{"reset", func(t *testing.T) string {
			return startRaw(t, func(c *net.TCPConn) {
				c.SetLinger(0)
				c.Close() // RST
			})
		}, func(e Errors) bool { return e.Read+e.Write > 0 && e.Connect+e.Read+e.Write == e.Total() }, "read or write errors only"},
		{"reset after request", func(t *testing.T) string {
			return startRaw(t, func(c *net.TCPConn) {
				readHead(c, make([]byte, 64<<10))
				c.SetLinger(0)
				c.Close()
			})
		}, func(e Errors) bool { return e.Read > 0 && e.Read+e.Write == e.Total() }, "read errors"},
		{"refused", func(t *testing.T) string { return freeURL(t) },
			func(e Errors) bool { return e.Connect > 0 && e.Connect == e.Total() }, "connect errors only"},
		{"truncated body", func(t *testing.T) string {
			return startRaw(t, func(c *net.TCPConn) {
				readHead(c, make([]byte, 64<<10))
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
			})
		}, func(e Errors) bool { return e.Read > 0 && e.Read == e.Total() }, "read errors only"},
		{"malformed", func(t *testing.T) string {
			return startRaw(t, func(c *net.TCPConn) {
				readHead(c, make([]byte, 64<<10))
				io.WriteString(c, "HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n")
				io.Copy(io.Discard, c)
			})
		}, func(e Errors) bool { return e.Protocol > 0 && e.Protocol == e.Total() }, "protocol errors only"},
		{"head too large", func(t *testing.T) string {
			// A head that never ends: the parser's limits (or, failing them, the
			// largest read buffer) make it a protocol error.
			return startRaw(t, func(c *net.TCPConn) {
				readHead(c, make([]byte, 64<<10))
				io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				line := "X-Filler: " + strings.Repeat("x", 1000) + "\r\n"
				for i := 0; i < 2*maxBuffer/len(line); i++ {
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
				io.Copy(io.Discard, c)
			})
		}, func(e Errors) bool { return e.Protocol > 0 && e.Protocol == e.Total() }, "protocol errors only"},
		{"status", func(t *testing.T) string {
			return startServer(t, func(w *server.ResponseWriter, r *server.Request) { w.WriteHeader(503) }, nil)
		}, func(e Errors) bool { return e.Status > 0 && e.Status == e.Total() }, "status errors only"},
		{"timeout", func(t *testing.T) string {
			return startRaw(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
		}, func(e Errors) bool { return e.Timeout > 0 && e.Timeout == e.Total() }, "timeout errors only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := 5 * time.Second // generous: a loaded machine must not cause timeouts
			if tt.name == "timeout" {
				timeout = 200 * time.Millisecond
			}
			res := run(t, Config{URL: tt.url(t), Connections: 2, Duration: 700 * time.Millisecond,
				Timeout: timeout})
			if !tt.check(res.Errors) {
				t.Errorf("errors %+v, want %s", res.Errors, tt.want)
			}
			if tt.name != "status" && res.Requests != 0 {
				t.Errorf("requests = %d, want 0", res.Requests)
			}
			if tt.name == "status" && res.StatusClasses[5] != res.Requests {
				t.Errorf("5xx = %d of %d", res.StatusClasses[5], res.Requests)
			}
			// The first error of each kind that occurred is kept, and only those.
			counts := map[string]int64{"connect": res.Errors.Connect, "read": res.Errors.Read,
				"write": res.Errors.Write, "timeout": res.Errors.Timeout, "status": res.Errors.Status,
				"protocol": res.Errors.Protocol}
			for k, n := range counts {
				if err := res.FirstErrors[k]; (n > 0) != (err != nil) || err != nil && err.Error() == "" {
					t.Errorf("%s: %d errors, first error %v", k, n, err)
				}
			}
			if len(res.FirstErrors) > len(counts) {
				t.Errorf("first errors %v", res.FirstErrors)
			}
			// The JSON report carries the same counts.
			var rep map[string]any
			b, _ := json.Marshal(res.Report())
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if got := rep["errors"].(float64); int64(got) != res.Errors.Total() || got == 0 {
				t.Errorf("JSON errors = %v, want %d", got, res.Errors.Total())
			}
			kinds := rep["errors_by_kind"].(map[string]any)
			first, _ := rep["first_errors"].(map[string]any)
			for k, v := range counts {
				if int64(kinds[k].(float64)) != v {
					t.Errorf("errors_by_kind.%s = %v, want %d", k, kinds[k], v)
				}
				if msg, _ := first[k].(string); (v > 0) != (msg != "") {
					t.Errorf("first_errors.%s = %q with %d errors", k, msg, v)
				}
			}
			if want, ok := map[string][2]string{
				"status":         {"status", "status 503"},
				"timeout":        {"timeout", "no progress for 200ms"},
				"refused":        {"connect", "refused"},
				"truncated body": {"read", "closed before the response was complete"},
			}[tt.name]; ok {
				if msg, _ := first[want[0]].(string); !strings.Contains(msg, want[1]) {
					t.Errorf("first_errors.%s = %q, want it to mention %q", want[0], msg, want[1])
				}
			}
		})
	}
}

func TestRequestsBudgetCountsFailures(t *testing.T) {
	// -n bounds a run against a dead server too: each failed attempt uses up one
	// request of the budget, claimed before dialling, so that concurrent workers
	// make exactly as many attempts as the budget holds.
	for _, conns := range []int{1, 2, 8} {
		res := run(t, Config{URL: freeURL(t), Connections: conns, Requests: 5})
		if res.Errors.Connect != 5 || res.Errors.Total() != 5 || res.Requests != 0 {
			t.Fatalf("%d connections: connect errors %d (total %d), requests %d; want 5, 5, 0",
				conns, res.Errors.Connect, res.Errors.Total(), res.Requests)
		}
		// The cause is kept and reported.
		err := res.FirstErrors["connect"]
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("first connect error %v, want connection refused", err)
		}
		if got := res.Report().FirstErrors["connect"]; !strings.Contains(got, "refused") {
			t.Errorf("JSON first_errors.connect = %q", got)
		}
		var text bytes.Buffer
		res.WriteText(&text)
		if !strings.Contains(text.String(), "errors        5 (connect 5,") ||
			!strings.Contains(text.String(), "\n    first connect error: ") ||
			!strings.Contains(text.String(), "refused") {
			t.Errorf("text report:\n%s", text.String())
		}
	}
}

func TestWarmup(t *testing.T) {
	var seen atomic.Int64
	url := startServer(t, func(w *server.ResponseWriter, r *server.Request) {
		seen.Add(1)
		hello(w, r)
	}, nil)
	res := run(t, Config{URL: url, Connections: 2, Warmup: 300 * time.Millisecond, Requests: 100})
	if res.Requests != 100 {
		t.Fatalf("requests %d, want 100", res.Requests)
	}
	if seen.Load() <= 100 {
		t.Errorf("server saw %d requests: no warm-up load", seen.Load())
	}
	if res.ConnectionsOpened != 2 {
		t.Errorf("opened %d", res.ConnectionsOpened)
	}
}

func TestRateKeepsSchedule(t *testing.T) {
	url := startServer(t, hello, nil)
	res := run(t, Config{URL: url, Connections: 4, Rate: 400, Duration: time.Second})
	// 400/s for 1s: about 400 requests. The machine may be loaded (and the run may
	// end late), but a paced run never sends more than the schedule allows.
	if max := int64(400*res.Duration.Seconds()) + 4; res.Requests > max || res.Requests < 100 {
		t.Errorf("requests = %d in %v, want about 400 and at most %d", res.Requests, res.Duration, max)
	}
	if res.Uncorrected == res.Latency || res.Uncorrected.TotalCount() != res.Requests {
		t.Errorf("uncorrected histogram missing")
	}
	if res.Report().LatencyUncorrectedMS == nil {
		t.Errorf("report lacks latency_uncorrected_ms")
	}
}

func TestContextCancel(t *testing.T) {
	url := startServer(t, hello, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, Config{URL: url, Connections: 3, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("Run took %v after cancel", el)
	}
	if res.Requests == 0 || res.Duration > 30*time.Second {
		t.Errorf("requests %d, duration %v", res.Requests, res.Duration)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no URL", Config{}},
		{"ftp", Config{URL: "ftp://127.0.0.1/"}},
		{"no host", Config{URL: "http:///x"}},
		{"close pipelined", Config{URL: "http://127.0.0.1:1/", Close: true, Pipeline: 2}},
		{"negative", Config{URL: "http://127.0.0.1:1/", Connections: -1}},
		{"pipeline too deep", Config{URL: "http://127.0.0.1:1/", Pipeline: MaxPipeline + 1}},
		{"bad method", Config{URL: "http://127.0.0.1:1/", Method: "G T"}},
		{"bad header", Config{URL: "http://127.0.0.1:1/", Header: [][2]string{{"X", "a\r\nb"}}}},
		{"content-length header", Config{URL: "http://127.0.0.1:1/", Header: [][2]string{{"Content-Length", "3"}}}},
		{"negative rate", Config{URL: "http://127.0.0.1:1/", Rate: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cfg)
			if !errors.Is(err, ErrConfig) {
				t.Errorf("Run(%+v) = %v, want an ErrConfig", tt.cfg, err)
			}
			if err != nil && strings.HasPrefix(err.Error(), "loadgen: loadgen:") {
				t.Errorf("error %q", err)
			}
			if tt.name == "close pipelined" {
				return // valid for Compare, which sets the mode of each run itself
			}
			if _, err := Compare(context.Background(), tt.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("Compare(%+v) = %v, want an ErrConfig", tt.cfg, err)
			}
		})
	}
	// A host that cannot be resolved is a failure to run, not a configuration error.
	// (.onion names are never sent to DNS.)
	_, err := Run(context.Background(), Config{URL: "http://hop-bench-test.onion/", Requests: 1})
	if err == nil || errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("unresolvable host: %v", err)
	}
}

func TestRequestBytes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"get", Config{URL: "http://example.com:8080/a?b=c"},
			"GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"},
		{"root", Config{URL: "http://[::1]"}, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"},
		{"headers and body", Config{URL: "http://h/", Method: "POST", Body: []byte("xy"),
			Header: [][2]string{{"X-A", "1"}, {"Host", "other"}}},
			"POST / HTTP/1.1\r\nX-A: 1\r\nHost: other\r\nContent-Length: 2\r\n\r\nxy"},
		{"close", Config{URL: "http://h/", Close: true},
			"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.cfg.validate()
			if err != nil {
				t.Fatal(err)
			}
			tg, err := parseTarget(cfg.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buildRequest(&cfg, &tg)); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReportJSONContract(t *testing.T) {
	url := startServer(t, hello, nil)
	res := run(t, Config{URL: url, Connections: 2, Requests: 50})
	b, err := json.Marshal(res.Report())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"requests", "duration_s", "requests_per_sec", "errors", "connections_opened", "latency_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	checkReportUnits(t, m)
	lat := m["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
		if v, ok := lat[k].(float64); !ok || v <= 0 {
			t.Errorf("latency_ms.%s = %v", k, lat[k])
		}
	}
	if m["requests"].(float64) != 50 {
		t.Errorf("requests = %v", m["requests"])
	}
	if _, ok := m["first_errors"]; ok {
		t.Errorf("first_errors in a run without errors: %s", b)
	}
	var text bytes.Buffer
	res.WriteText(&text)
	for _, want := range []string{"requests      50", "p99.9", "connect 0", " opened"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
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

func TestProgress(t *testing.T) {
	url := startServer(t, hello, nil)
	calls := make(chan Progress, 100)
	run(t, Config{URL: url, Connections: 2, Duration: 500 * time.Millisecond, Warmup: 300 * time.Millisecond,
		ProgressInterval: 50 * time.Millisecond, Progress: func(p Progress) {
			select {
			case calls <- p:
			default:
			}
		}})
	close(calls)
	n, last, warm := 0, Progress{}, 0
	for p := range calls {
		n++
		last = p
		if p.Warmup {
			warm++
			if p.Elapsed >= 300*time.Millisecond {
				t.Errorf("warm-up report after the warm-up: %+v", p)
			}
		}
	}
	if n < 2 || last.Requests == 0 || last.Label != "keep-alive" || last.Warmup {
		t.Errorf("%d progress calls, last %+v", n, last)
	}
	if warm == 0 {
		t.Errorf("no progress report during the warm-up (%d calls)", n)
	}
}
