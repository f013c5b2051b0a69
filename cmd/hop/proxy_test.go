package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

func startProxy(t *testing.T, stderr io.Writer, args ...string) (string, func() int) {
	t.Helper()
	return startRun(t, "hop proxy", runProxy, io.Discard, stderr, args...)
}

func TestProxyFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--balance", "random"}, 2, "unknown balancing policy"},
		{[]string{"--upstream", "ftp://x"}, 2, "unsupported scheme"},
		{[]string{"--upstream", "http://x/?q"}, 2, "without userinfo, query or fragment"},
		{[]string{"--connect-ports", "443,http"}, 2, "not a port"},
		{[]string{"--allow-from", "10.0.0.0/33"}, 2, "CIDR"},
		{[]string{"--trust", "nonsense"}, 2, "CIDR"},
		{[]string{"--auth", "nocolon"}, 2, "USER:PASS"},
		{[]string{"--auth", "a:b", "--upstream", "http://127.0.0.1:1"}, 2, "forward mode"},
		{[]string{"--upstream-timeout", "0s"}, 2, "positive"},
		{[]string{"--max-fails", "0"}, 2, "--max-fails"},
		{[]string{"--max-tunnels", "-1"}, 2, "--max-tunnels"},
		{[]string{"--tunnel-idle-timeout", "-1s"}, 2, "--tunnel-idle-timeout"},
		{[]string{"--name", "two words"}, 2, "--name"},
		{[]string{"--log-format", "xml"}, 2, "--log-format"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--addr", "127.0.0.1:99999"}, 1, "invalid port"},
		{[]string{"--access-log", filepath.Join(dir, "no", "such", "log")}, 1, "no such file"},
	} {
		var stderr testnet.Buffer
		code := runProxy(context.Background(), tc.args, io.Discard, &stderr, nil)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("hop proxy %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code,
				stderr.String(), tc.code, tc.msg)
		}
	}
	var stderr testnet.Buffer
	if code := runProxy(context.Background(), []string{"-h"}, io.Discard, &stderr, nil); code != 0 ||
		!strings.Contains(stderr.String(), "--upstream") {
		t.Errorf("hop proxy -h: exit %d, %q", code, stderr.String())
	}
}

// TestProxyForwardAndReverse runs hop serve as the origin and hop proxy in both modes
// in front of it, and checks the answers, the access log (both connections named)
// and /metrics on --admin.
func TestProxyForwardAndReverse(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha\n"), 0o644)
	origin, _ := startServe(t, io.Discard, io.Discard, "--root", dir, "--access-log", "off")

	logFile := filepath.Join(dir, "proxy.log")
	var stderr testnet.Buffer
	adminLn, _ := net.Listen("tcp", "127.0.0.1:0")
	adminAddr := adminLn.Addr().String()
	adminLn.Close()
	fwd, stopFwd := startProxy(t, &stderr, "--log-format", "json", "--access-log", logFile, "--admin", adminAddr, "--name", "fwd")
	if !strings.Contains(stderr.String(), "proxying on http://"+fwd+"/ (forward proxy)") {
		t.Errorf("stderr %q", stderr.String())
	}
	proxyFn, err := client.FixedProxy("http://" + fwd)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client.Client{Proxy: proxyFn, ReadTimeout: 10 * time.Second}
	defer cl.Close()
	for range 3 {
		var req client.Request
		var resp client.Response
		req.SetURL("http://" + origin + "/a.txt")
		if err := cl.Do(&req, &resp); err != nil || resp.Status != 200 || string(resp.Body) != "alpha\n" ||
			string(resp.Header.Get("Via")) != "1.1 fwd" {
			t.Fatalf("through the forward proxy: %v %d %q Via %q", err, resp.Status, resp.Body, resp.Header.Get("Via"))
		}
	}
	// Reverse mode in front of the same origin.
	rev, _ := startProxy(t, io.Discard, "--upstream", "http://"+origin, "--access-log", "off")
	resp, err := http.Get("http://" + rev + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "alpha\n" || !strings.HasSuffix(resp.Header.Get("Via"), ":"+portOf(rev)) {
		t.Errorf("reverse: %d %q Via %q", resp.StatusCode, body, resp.Header.Get("Via"))
	}

	mresp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`hop_proxy_requests_total{code="2xx"} 3`, `hop_proxy_upstream_requests_total{reused="true"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	if code := stopFwd(); code != 0 {
		t.Errorf("exit %d after shutdown", code)
	}
	if !strings.Contains(stderr.String(), "1 upstream connections opened, 2 exchanges reused one") {
		t.Errorf("shutdown summary: %q", stderr.String())
	}
	raw, _ := os.ReadFile(logFile)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d access log lines:\n%s", len(lines), raw)
	}
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["conn"] != 1.0 || rec["req"] != float64(i+1) || rec["up_conn"] != 1.0 || rec["up_reused"] != (i > 0) ||
			rec["up"] != origin || rec["status"] != 200.0 {
			t.Errorf("log line %d: %s", i, l)
		}
	}
}

func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// TestProxyGracefulShutdown: a request in flight when the proxy is told to stop
// completes, and the proxy exits 0.
func TestProxyGracefulShutdown(t *testing.T) {
	var started atomic.Bool
	originLn, _ := net.Listen("tcp", "127.0.0.1:0")
	osrv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		started.Store(true)
		time.Sleep(500 * time.Millisecond)
		w.WriteString("late but whole")
	})}
	go osrv.Serve(originLn)
	defer osrv.Close()
	rev, stop := startProxy(t, io.Discard, "--upstream", "http://"+originLn.Addr().String(), "--access-log", "off")
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + rev + "/")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	for deadline := time.Now().Add(10 * time.Second); !started.Load() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	r := <-res
	if r.err != nil || r.body != "late but whole" {
		t.Errorf("in-flight request during shutdown: %q, %v", r.body, r.err)
	}
}
