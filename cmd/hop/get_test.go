package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testcert"
	"github.com/hop-http/hop/internal/testnet"

	"github.com/hop-http/hop/server"
)

// getServer serves an echo handler with hop's server; it returns the base URL.
// /close answers with Connection: close, /redirect redirects to /echo, /slow waits.
func getServer(t *testing.T, tlsConf *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{TLSConfig: tlsConf, Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		body, _ := r.ReadBody(1 << 20)
		switch string(r.Path()) {
		case "/close":
			w.CloseAfter()
		case "/redirect":
			w.Header().Set("Location", "/echo?redirected")
			w.WriteHeader(302)
			return
		case "/slow":
			time.Sleep(30 * time.Millisecond)
		}
		w.Header().Set("X-Conn", strconv.FormatUint(r.ConnID(), 10))
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(string(r.Method) + " " + string(r.Target) + " HTTP/1." + strconv.Itoa(int(r.Minor)) +
			" ua=" + string(r.Header.Get("User-Agent")) + " x=" + string(r.Header.Get("X-Test")) +
			" ct=" + string(r.Header.Get("Content-Type")) + " body=" + string(body) + "\n"))
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String()
}

// getRun runs "hop get" with args and returns the exit code, stdout and stderr.
func getRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := runGet(ctx, args, getIO{stdin: strings.NewReader("from stdin"), stdout: &stdout, stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

func TestGetBodies(t *testing.T) {
	base := getServer(t, nil)
	code, out, errOut := getRun(t, base+"/a", base+"/b?x=1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "GET /a HTTP/1.1 ua=hop/1 x= ct= body=\nGET /b?x=1 HTTP/1.1 ua=hop/1 x= ct= body=\n"
	if out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if errOut != "" {
		t.Errorf("stderr %q", errOut)
	}
}

type getJSONLine struct {
	URL        string             `json:"url"`
	Status     int                `json:"status"`
	ConnID     uint64             `json:"conn_id"`
	Reused     bool               `json:"reused"`
	RemoteAddr string             `json:"remote_addr"`
	Bytes      int64              `json:"bytes"`
	Phases     map[string]float64 `json:"phases_ms"`
	Error      string             `json:"error"`
}

func getParseJSON(t *testing.T, out string) []getJSONLine {
	t.Helper()
	var lines []getJSONLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var j getJSONLine
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		var raw map[string]any
		json.Unmarshal([]byte(l), &raw)
		for _, k := range []string{"url", "status", "conn_id", "reused", "remote_addr", "bytes", "phases_ms"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("JSON %s lacks %q", l, k)
			}
		}
		for _, k := range []string{"dns", "connect", "tls", "request", "wait", "transfer", "total"} {
			if _, ok := j.Phases[k]; !ok {
				t.Errorf("phases_ms lacks %q: %s", k, l)
			}
		}
		lines = append(lines, j)
	}
	return lines
}

func TestGetJSON(t *testing.T) {
	base := getServer(t, nil)
	code, out, errOut := getRun(t, "--json", base+"/a", base+"/slow")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	j := getParseJSON(t, out)
	if len(j) != 2 {
		t.Fatalf("%d JSON lines: %q", len(j), out)
	}
	addr := strings.TrimPrefix(base, "http://")
	if j[0].URL != base+"/a" || j[0].Status != 200 || j[0].ConnID != 1 || j[0].Reused || j[0].RemoteAddr != addr {
		t.Errorf("first: %+v", j[0])
	}
	if j[1].ConnID != 1 || !j[1].Reused || j[1].Bytes != int64(len("GET /slow HTTP/1.1 ua=hop/1 x= ct= body=\n")) {
		t.Errorf("second: %+v", j[1])
	}
	if j[0].Phases["connect"] <= 0 || j[1].Phases["connect"] != 0 || j[1].Phases["wait"] < 25 ||
		j[1].Phases["total"] < j[1].Phases["wait"] {
		t.Errorf("phases %v %v", j[0].Phases, j[1].Phases)
	}
}

func TestGetVerbose(t *testing.T) {
	base := getServer(t, nil)
	addr := strings.TrimPrefix(base, "http://")
	code, _, errOut := getRun(t, "-v", base+"/a", base+"/close", base+"/b")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"* resolved 127.0.0.1 to 127.0.0.1 (literal",
		"* connected to " + addr + " as conn #1 (local 127.0.0.1:",
		"> GET /a HTTP/1.1\n> Host: " + addr + "\n> User-Agent: hop/1\n>\n",
		"< HTTP/1.1 200 OK\n",
		"* conn #1 kept alive",
		"* reusing conn #1 to " + addr + " (idle ",
		"* closing conn #1: server asked to close",
		"* connected to " + addr + " as conn #2",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestGetTimingAndInclude(t *testing.T) {
	base := getServer(t, nil)
	code, out, errOut := getRun(t, "--timing", "-i", base+"/a")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.Contains(out, "\r\nX-Conn: 1\r\n") ||
		!strings.HasSuffix(out, "\r\n\r\nGET /a HTTP/1.1 ua=hop/1 x= ct= body=\n") {
		t.Errorf("stdout %q", out)
	}
	for _, phase := range []string{"dns", "connect", "tls", "request", "wait", "transfer", "total"} {
		if !strings.Contains(errOut, "\n  "+phase+" ") {
			t.Errorf("waterfall lacks %s:\n%s", phase, errOut)
		}
	}
	if !strings.Contains(errOut, "█") || !strings.Contains(errOut, base+"/a → 200, conn #1 (new)") {
		t.Errorf("waterfall:\n%s", errOut)
	}
}

func TestGetMethodHeadersData(t *testing.T) {
	base := getServer(t, nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "body.bin")
	os.WriteFile(file, []byte("file\ncontent"), 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-X", "PUT", "-H", "X-Test: yes", base + "/m"}, "PUT /m HTTP/1.1 ua=hop/1 x=yes ct= body=\n"},
		{[]string{"-d", "a=1&b=2", base + "/f"}, "POST /f HTTP/1.1 ua=hop/1 x= ct=application/x-www-form-urlencoded body=a=1&b=2\n"},
		{[]string{"--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream", base + "/f"},
			"POST /f HTTP/1.1 ua=hop/1 x= ct=application/octet-stream body=file\ncontent\n"},
		{[]string{"-d", "@-", "-X", "PATCH", base + "/s"}, "PATCH /s HTTP/1.1 ua=hop/1 x= ct=application/x-www-form-urlencoded body=from stdin\n"},
		{[]string{"-H", "User-Agent:", "-A", "ignored", base + "/u"}, "GET /u HTTP/1.1 ua= x= ct= body=\n"},
		{[]string{"-A", "curl-ish/2", base + "/u"}, "GET /u HTTP/1.1 ua=curl-ish/2 x= ct= body=\n"},
		{[]string{"--http1.0", base + "/old"}, "GET /old HTTP/1.0 ua=hop/1 x= ct= body=\n"},
		{[]string{"-L", base + "/redirect"}, "GET /echo?redirected HTTP/1.1 ua=hop/1 x= ct= body=\n"},
	}
	for _, tt := range tests {
		code, out, errOut := getRun(t, tt.args...)
		if code != 0 || out != tt.want {
			t.Errorf("hop get %q: exit %d\nstdout %q\nwant   %q\nstderr %s", tt.args, code, out, tt.want, errOut)
		}
	}
}

// Data read into memory (-d @-, or a file that is not a regular one) larger than the
// limit fails before anything is sent (exit 2), instead of going out cut short.
func TestGetDataTooLarge(t *testing.T) {
	base := getServer(t, nil)
	defer func(m int64) { maxData = m }(maxData)
	maxData = int64(len("from stdin")) - 1
	code, out, errOut := getRun(t, "-d", "@-", base+"/s")
	if code != 2 || out != "" || !strings.Contains(errOut, "more data than hop get keeps in memory") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and no request", code, out, errOut)
	}
	maxData = int64(len("from stdin"))
	if code, out, _ := getRun(t, "-d", "@-", base+"/s"); code != 0 || !strings.HasSuffix(out, "body=from stdin\n") {
		t.Errorf("data at the limit: exit %d, stdout %q", code, out)
	}
}

func TestGetOutputFile(t *testing.T) {
	base := getServer(t, nil)
	file := filepath.Join(t.TempDir(), "out.txt")
	code, out, errOut := getRun(t, "-o", file, "--json", base+"/x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	body, _ := os.ReadFile(file)
	if string(body) != "GET /x HTTP/1.1 ua=hop/1 x= ct= body=\n" {
		t.Errorf("file %q", body)
	}
	if j := getParseJSON(t, out); len(j) != 1 || j[0].Bytes != int64(len(body)) {
		t.Errorf("json %q", out)
	}
}

func TestGetConnectionModes(t *testing.T) {
	base := getServer(t, nil)
	urls := []string{base + "/1", base + "/2", base + "/3", base + "/4"}
	conns := func(args ...string) []uint64 {
		code, out, errOut := getRun(t, append(append([]string{"--json"}, args...), urls...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var ids []uint64
		for i, j := range getParseJSON(t, out) {
			if !strings.HasSuffix(j.URL, "/"+strconv.Itoa(i+1)) || j.Status != 200 {
				t.Errorf("line %d out of order: %+v", i, j)
			}
			ids = append(ids, j.ConnID)
		}
		return ids
	}
	if got := conns(); !equalIDs(got, 1, 1, 1, 1) {
		t.Errorf("serial: conns %v", got)
	}
	if got := conns("--close"); !equalIDs(got, 1, 2, 3, 4) {
		t.Errorf("--close: conns %v", got)
	}
	// One connection each; TestGetPipelineSends and TestGetParallelOverlaps check that
	// the requests really are pipelined and run at once.
	if got := conns("--pipeline"); !equalIDs(got, 1, 1, 1, 1) {
		t.Errorf("--pipeline: conns %v", got)
	}
	if got := conns("--pipeline=2"); !equalIDs(got, 1, 1, 1, 1) {
		t.Errorf("--pipeline=2: conns %v", got)
	}
	if got := conns("--parallel", "4"); len(got) != 4 {
		t.Errorf("--parallel: %v", got)
	}
	// --parallel keeps the bodies in URL order.
	code, out, _ := getRun(t, append([]string{"--parallel", "3"}, urls...)...)
	if code != 0 || out != "GET /1 HTTP/1.1 ua=hop/1 x= ct= body=\nGET /2 HTTP/1.1 ua=hop/1 x= ct= body=\n"+
		"GET /3 HTTP/1.1 ua=hop/1 x= ct= body=\nGET /4 HTTP/1.1 ua=hop/1 x= ct= body=\n" {
		t.Errorf("--parallel output %q", out)
	}
}

// pipelineServer answers GET requests on raw connections and records, for each
// connection, the largest number of requests that had arrived unanswered when it
// answered. It holds an answer while only one request is waiting, until a second one
// arrives or hold passes: a client that waits for each response before sending the
// next request shows 1, a pipelining one more.
func pipelineServer(t *testing.T, hold time.Duration) (url string, maxWaiting func() []int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var peaks []int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var buf []byte
				tmp := make([]byte, 4096)
				peak := 0
				defer func() {
					mu.Lock()
					peaks = append(peaks, peak)
					mu.Unlock()
				}()
				holding := false
				for {
					n, err := c.Read(tmp)
					buf = append(buf, tmp[:n]...)
					heads := bytes.Count(buf, []byte("\r\n\r\n"))
					timedOut := errors.Is(err, os.ErrDeadlineExceeded)
					if err != nil && !timedOut {
						return
					}
					if heads == 1 && !timedOut {
						if !holding {
							holding = true
							c.SetReadDeadline(time.Now().Add(hold))
						}
						continue
					}
					if heads == 0 {
						continue
					}
					holding = false
					c.SetReadDeadline(time.Time{})
					peak = max(peak, heads)
					var out []byte
					for i := 0; i < heads; i++ {
						end := bytes.Index(buf, []byte("\r\n\r\n"))
						line, _, _ := bytes.Cut(buf[:end], []byte("\r\n"))
						body := string(line) + "\n"
						out = fmt.Appendf(out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
						buf = buf[end+4:]
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	closed := false
	stop := func() {
		if !closed {
			closed = true
			ln.Close()
			wg.Wait()
		}
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), func() []int {
		stop() // the client has closed its connections: wait for their records
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), peaks...)
	}
}

// TestGetPipelineSends checks that --pipeline really pipelines: once the first
// response showed a persistent connection, requests go out before the responses to
// the previous ones came back, on the same connection.
func TestGetPipelineSends(t *testing.T) {
	tests := []struct {
		args []string
		want func(peaks []int) bool
	}{
		{nil, func(p []int) bool { return len(p) == 1 && p[0] == 1 }}, // serial: the control
		{[]string{"--pipeline"}, func(p []int) bool { return len(p) == 1 && p[0] >= 2 }},
		{[]string{"--pipeline=2"}, func(p []int) bool { return len(p) == 1 && p[0] == 2 }},
	}
	for _, tt := range tests {
		base, peaks := pipelineServer(t, 200*time.Millisecond)
		urls := []string{base + "/1", base + "/2", base + "/3", base + "/4"}
		code, out, errOut := getRun(t, append(tt.args, urls...)...)
		if code != 0 || out != "GET /1 HTTP/1.1\nGET /2 HTTP/1.1\nGET /3 HTTP/1.1\nGET /4 HTTP/1.1\n" {
			t.Errorf("hop get %q: exit %d, stdout %q, stderr %s", tt.args, code, out, errOut)
		}
		if p := peaks(); !tt.want(p) {
			t.Errorf("hop get %q: most requests waiting for an answer, per connection: %v", tt.args, p)
		}
	}
}

// TestGetParallelOverlaps checks that --parallel really runs requests at once: the
// server sees more than one in flight.
func TestGetParallelOverlaps(t *testing.T) {
	var inFlight, peak atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		inFlight.Add(-1)
		w.WriteString(string(r.Target) + "\n")
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	base := "http://" + ln.Addr().String()
	for _, args := range [][]string{{"--parallel", "4"}, nil} {
		peak.Store(0)
		code, out, errOut := getRun(t, append(args, base+"/1", base+"/2", base+"/3", base+"/4")...)
		if code != 0 || out != "/1\n/2\n/3\n/4\n" {
			t.Errorf("hop get %q: exit %d, stdout %q, stderr %s", args, code, out, errOut)
		}
		if p := peak.Load(); args != nil && p < 2 || args == nil && p != 1 {
			t.Errorf("hop get %q: at most %d requests in flight", args, p)
		}
	}
}

// --parallel reads bodies whole, and those that finish ahead of a slow earlier URL wait
// to be written: no URL starts more than 2×N places ahead of the next one written, so
// that memory follows --parallel, not the length of the URL list; and a body is let go
// once written.
func TestGetParallelBoundsLookAhead(t *testing.T) {
	var arrived atomic.Int64
	release := make(chan struct{})
	base := "http://" + testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		arrived.Add(1)
		if string(r.Path()) == "/hold" {
			select {
			case <-release:
			case <-time.After(20 * time.Second):
			}
		}
		w.WriteString(string(r.Target) + "\n")
	}))
	urls := []string{base + "/hold"}
	want := "/hold\n"
	for i := 0; i < 20; i++ {
		urls = append(urls, base+"/"+strconv.Itoa(i))
		want += "/" + strconv.Itoa(i) + "\n"
	}
	o, err := getParseFlags(append([]string{"--parallel", "2"}, urls...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	g := &getter{o: o, io: getIO{stdout: &stdout, stderr: &stderr}}
	if code := g.setup(); code != 0 {
		t.Fatal(g.setupErr)
	}
	defer g.cl.Close()
	type outcome struct {
		results []*getResult
		out     string
	}
	finished := make(chan outcome, 1)
	go func() {
		bout := bufio.NewWriter(&stdout)
		rs := g.runParallel(context.Background(), bout)
		bout.Flush()
		finished <- outcome{rs, stdout.String()}
	}()
	// /hold and the next 3 URLs may start (4 = 2×2 ahead of /hold, unwritten); no more.
	deadline := time.Now().Add(10 * time.Second)
	for arrived.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // time for any request that should not start
	if n := arrived.Load(); n != 4 {
		t.Errorf("%d requests reached the server while the first was held, want 4 (2×--parallel)", n)
	}
	close(release)
	res := <-finished
	if res.out != want {
		t.Errorf("stdout %q, want %q (stderr %s)", res.out, want, stderr.String())
	}
	for _, r := range res.results {
		if r.code != 0 || r.resp == nil || r.resp.Body != nil {
			t.Errorf("%s: exit code %d, body kept after it was written: %v", r.given, r.code, r.resp != nil && r.resp.Body != nil)
		}
	}
}

// TestGetIncludeHead checks that -i prints the head as received, as curl does: the
// reason phrase the server sent, an empty one kept empty, the version of the response,
// field lines with their odd whitespace.
func TestGetIncludeHead(t *testing.T) {
	for _, status := range []string{"HTTP/1.1 200 OK", "HTTP/1.1 200 Fine Thanks", "HTTP/1.1 200 ",
		"HTTP/1.0 404 ", "HTTP/1.1 299 Custom"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.Read(make([]byte, 4096))
			io.WriteString(c, status+"\r\nX-A: 1\r\nx-b:  two \r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		}()
		code, out, errOut := getRun(t, "-i", "http://"+ln.Addr().String()+"/")
		ln.Close()
		want := status + "\r\nX-A: 1\r\nx-b:  two \r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
		if code != 0 || out != want {
			t.Errorf("%q: exit %d\nstdout %q\nwant   %q\nstderr %s", status, code, out, want, errOut)
		}
	}
}

func equalIDs(got []uint64, want ...uint64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestGetResolveAndTLS(t *testing.T) {
	tc := testcert.New(t, "get.test")
	cert, certPEM := tc.TLS, tc.CertPEM
	base := getServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	port := base[strings.LastIndexByte(base, ':')+1:]
	url := "https://get.test:" + port + "/t"
	resolve := "get.test:" + port + ":127.0.0.1"

	code, _, errOut := getRun(t, "--resolve", resolve, url)
	if code != 60 || !strings.Contains(errOut, "certificate") { // curl's CURLE_PEER_FAILED_VERIFICATION
		t.Errorf("untrusted certificate: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := getRun(t, "-k", "-v", "--resolve", resolve, url)
	if code != 0 || !strings.HasPrefix(out, "GET /t ") {
		t.Fatalf("-k: exit %d %q %s", code, out, errOut)
	}
	for _, want := range []string{"resolved get.test to 127.0.0.1 (override", "TLS handshake", "TLS 1.3, TLS_", "ALPN http/1.1"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("-v lacks %q:\n%s", want, errOut)
		}
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, certPEM, 0o644)
	code, out, errOut = getRun(t, "--cacert", ca, "--resolve", resolve, "--json", url, url)
	if code != 0 {
		t.Fatalf("--cacert: exit %d %s", code, errOut)
	}
	j := getParseJSON(t, out)
	if len(j) != 2 || j[0].Phases["tls"] <= 0 || j[1].Phases["tls"] != 0 || !j[1].Reused {
		t.Errorf("TLS phases %+v", j)
	}
}

func TestGetProxy(t *testing.T) {
	base := getServer(t, nil)
	port := base[strings.LastIndexByte(base, ':')+1:]
	var mu sync.Mutex
	var seen []string
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fwd := &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, n, "127.0.0.1:"+port)
	}}
	px := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		out := r.Clone(context.Background())
		out.RequestURI = ""
		resp, err := fwd.RoundTrip(out)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})}
	go px.Serve(ln)
	t.Cleanup(func() { px.Close(); fwd.CloseIdleConnections() })
	for _, flag := range []string{"--proxy", "-x"} { // -x: curl's spelling
		seen = nil
		code, out, errOut := getRun(t, flag, "http://"+ln.Addr().String(), "-v", "http://far.away.example:81/p")
		if code != 0 || !strings.HasPrefix(out, "GET /p ") {
			t.Fatalf("%s: exit %d %q %s", flag, code, out, errOut)
		}
		if len(seen) != 1 || seen[0] != "http://far.away.example:81/p" {
			t.Errorf("%s: proxy saw %q", flag, seen)
		}
		if !strings.Contains(errOut, "via proxy http://"+ln.Addr().String()) {
			t.Errorf("%s: -v does not mention the proxy:\n%s", flag, errOut)
		}
	}
}

func TestGetErrors(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/"
	ln.Close()
	tests := []struct {
		args     []string
		code     int
		inStderr string
	}{
		{nil, 2, "no URL given"},
		{[]string{"--parallel", "0", "http://x/"}, 2, "--parallel"},
		{[]string{"-H", "no colon", "http://x/"}, 2, "want 'Name: value'"},
		{[]string{"--resolve", "bad", "http://x/"}, 2, "HOST:PORT:ADDR"},
		{[]string{"--nope", "http://x/"}, 2, "flag provided but not defined"},
		{[]string{"ftp://example.com/"}, 1, "unsupported scheme \"ftp\""},
		{[]string{"http://exa mple.com/"}, 3, "invalid character"},
		{[]string{dead}, 7, "connect"},
		{[]string{"-d", "@/nonexistent/file", dead}, 2, "no such file"},
	}
	for _, tt := range tests {
		code, _, errOut := getRun(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.inStderr) {
			t.Errorf("hop get %q: exit %d (want %d), stderr %q (want %q)", tt.args, code, tt.code, errOut, tt.inStderr)
		}
	}
	code, out, _ := getRun(t, "--json", dead)
	if code != 7 {
		t.Errorf("exit %d", code)
	}
	if j := getParseJSON(t, out); len(j) != 1 || j[0].Status != 0 || !strings.Contains(j[0].Error, "connect") {
		t.Errorf("JSON for a failure: %q", out)
	}
	if code, _, errOut := getRun(t, "-h"); code != 0 || !strings.Contains(errOut, "usage: hop get") {
		t.Errorf("-h: %d %q", code, errOut)
	}
}

func TestGetRegistered(t *testing.T) {
	if commands["get"] == nil {
		t.Fatal("get is not registered")
	}
}

// TestGetWriteOutModes checks that -w reports each request in URL order whatever the
// mode, and that -i with -L shows every head of the chain, as curl does.
func TestGetWriteOutModes(t *testing.T) {
	base := getServer(t, nil)
	urls := []string{base + "/1", base + "/redirect", base + "/3"}
	for _, mode := range [][]string{nil, {"--parallel", "3"}, {"--pipeline"}} {
		args := append(append([]string{"-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
			"-w", `%{urlnum} %{http_code} %{url}\n`}, mode...), urls...)
		code, out, errOut := getRun(t, args...)
		want := "0 200 " + urls[0] + "\n1 302 " + urls[1] + "\n2 200 " + urls[2] + "\n"
		if code != 0 || out != want {
			t.Errorf("hop get %q: exit %d\n%q\nwant\n%q\n%s", mode, code, out, want, errOut)
		}
	}
	// -w @FILE and -w @- read the format as curl does.
	format := filepath.Join(t.TempDir(), "format")
	os.WriteFile(format, []byte(`[%{http_code}]\n`), 0o644)
	if code, out, _ := getRun(t, "-s", "-o", "/dev/null", "-w", "@"+format, base+"/1"); code != 0 || out != "[200]\n" {
		t.Errorf("-w @file: exit %d, %q", code, out)
	}
	if code, out, _ := getRun(t, "-s", "-o", "/dev/null", "-w", "@-", base+"/1"); code != 0 || out != "from stdin" {
		t.Errorf("-w @-: exit %d, %q", code, out)
	}
	if code, _, errOut := getRun(t, "-w", "@/no/such/format", base+"/1"); code != 2 || !strings.Contains(errOut, "no such file") {
		t.Errorf("-w @missing: exit %d, %q", code, errOut)
	}
	code, out, errOut := getRun(t, "-iL", "-w", "|%{num_redirects} %{size_header}", base+"/redirect")
	heads, rest, _ := strings.Cut(out, "GET /echo?redirected ")
	_, wout, _ := strings.Cut(rest, "|")
	if code != 0 || strings.Count(heads, "HTTP/1.1 ") != 2 || !strings.HasPrefix(heads, "HTTP/1.1 302 Found\r\n") ||
		!strings.Contains(heads, "\r\nLocation: /echo?redirected\r\n") || !strings.Contains(heads, "\r\n\r\nHTTP/1.1 200 OK\r\n") ||
		!strings.HasSuffix(heads, "\r\n\r\n") || wout != "1 "+strconv.Itoa(len(heads)) {
		t.Errorf("-iL: exit %d, -w %q:\n%s\n%s", code, wout, out, errOut)
	}
}

// A password in the URL is never printed: --json's url and the --timing title show it
// redacted (review finding 12), as the -v lines do.
func TestGetRedactsPassword(t *testing.T) {
	base := getServer(t, nil)
	withCreds := strings.Replace(base, "http://", "http://alice:s3cret@", 1) + "/a"
	for _, args := range [][]string{{"--json", withCreds}, {"--timing", "-o", os.DevNull, withCreds}, {"-v", "-o", os.DevNull, withCreds}} {
		code, out, errOut := getRun(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if strings.Contains(out+errOut, "s3cret") {
			t.Errorf("%v printed the password:\n%s\n%s", args, out, errOut)
		}
	}
	code, out, _ := getRun(t, "--json", withCreds)
	if j := getParseJSON(t, out); code != 0 || len(j) != 1 || !strings.Contains(j[0].URL, "alice:xxxxx@") {
		t.Errorf("--json url: %+v", j)
	}
}
