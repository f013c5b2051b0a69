package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testpeer"
)

// The hop command, built once for the proxy tests. It is built without -race even
// when the tests run with it: TestProxyMemory bounds the proxy's resident memory, which
// the race detector's shadow memory would swamp; package proxy's own tests run the
// proxy code under -race.
var (
	hopOnce sync.Once
	hopBin  string
	hopErr  error
)

func hop(t *testing.T) string {
	t.Helper()
	hopOnce.Do(func() { hopBin, hopErr = buildBinary(binDir, "./cmd/hop", false) })
	if hopErr != nil {
		t.Fatalf("building cmd/hop: %v", hopErr)
	}
	return hopBin
}

// startHop runs `hop args...` with --addr set to a free loopback port.
func startHop(t *testing.T, name string, args ...string) *plaintextServer {
	t.Helper()
	return startServer(t, name, hop(t), func(addr string) []string {
		return append(append([]string{}, args...), "--addr", addr)
	})
}

// logRecord is one JSON access-log record of hop serve or hop proxy.
type logRecord struct {
	Conn     int     `json:"conn"`
	Req      int     `json:"req"`
	Method   string  `json:"method"`
	Target   string  `json:"target"`
	Status   int     `json:"status"`
	Bytes    int64   `json:"bytes"`
	Up       string  `json:"up"`
	UpConn   int     `json:"up_conn"`
	UpReused bool    `json:"up_reused"`
	UpMS     float64 `json:"up_ms"`
	Error    string  `json:"error"`
	// tunnels (CONNECT, upgrades)
	TunnelUp   int64 `json:"tunnel_up"`
	TunnelDown int64 `json:"tunnel_down"`
}

// readLog parses the JSON access-log records in file (other lines are skipped).
func readLog(t *testing.T, file string) []logRecord {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []logRecord
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `"msg":"request"`) {
			continue
		}
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// waitLog reads the access log until it holds at least n records or 10 s have
// passed: a record is written when its exchange or tunnel has ended on the proxy's
// side, which may be just after the peer program has exited.
func waitLog(t *testing.T, file string, n int) []logRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := readLog(t, file)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// distinct counts the different values of key over records.
func distinct(recs []logRecord, key func(logRecord) int) int {
	seen := map[int]bool{}
	for _, r := range recs {
		seen[key(r)] = true
	}
	return len(seen)
}

// TestProxyCurl: curl -x through the forward proxy (three URLs on one curl run: one
// client connection, one upstream connection), and curl to the reverse proxy.
func TestProxyCurl(t *testing.T) {
	curl := peer(t, "curl")
	s := startPlaintext(t, false)
	dir := t.TempDir()
	fwdLog := filepath.Join(dir, "fwd.log")
	fwd := startHop(t, "hop proxy (forward)", "proxy", "--log-format", "json", "--access-log", fwdLog, "--name", "fwd")
	r := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-x", fwd.url, "-D", "-",
		s.url+"/1", s.url+"/2", s.url+"/3")
	if strings.Count(r.stdout, hello) != 3 || strings.Count(r.stdout, "Via: 1.1 fwd") != 3 {
		t.Errorf("curl -x: want 3 bodies with Via: 1.1 fwd, got:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	recs := waitLog(t, fwdLog, 3)
	if len(recs) != 3 || distinct(recs, func(r logRecord) int { return r.Conn }) != 1 ||
		distinct(recs, func(r logRecord) int { return r.UpConn }) != 1 || !recs[2].UpReused || recs[0].Target != s.url+"/1" {
		t.Errorf("forward proxy log (want 3 requests on one client and one upstream connection): %+v", recs)
	}

	rev := startHop(t, "hop proxy (reverse)", "proxy", "--upstream", s.url, "--access-log", "off")
	r = mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-i", rev.url+"/a", rev.url+"/b")
	if strings.Count(r.stdout, hello) != 2 || strings.Count(r.stdout, "HTTP/1.1 200 OK") != 2 || strings.Count(r.stdout, "\r\nVia: 1.1 ") != 2 {
		t.Errorf("curl to the reverse proxy:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	// https through a CONNECT tunnel to hop serve with TLS.
	site := t.TempDir()
	os.WriteFile(filepath.Join(site, "s.txt"), []byte("over tls\n"), 0o644)
	tlsOrigin := startHop(t, "hop serve (TLS)", "serve", "--tls-self-signed", "--root", site, "--access-log", "off")
	_, tlsPort, _ := net.SplitHostPort(tlsOrigin.addr)
	tunnelLog := filepath.Join(dir, "tunnel.log")
	tun := startHop(t, "hop proxy (CONNECT)", "proxy", "--connect-ports", tlsPort, "--log-format", "json", "--access-log", tunnelLog)
	httpsURL := "https://" + tlsOrigin.addr + "/s.txt"
	r = mustRunPeer(t, dir, curl, "-sS", "-k", "--max-time", "30", "-x", tun.url, httpsURL, httpsURL)
	if r.stdout != "over tls\nover tls\n" {
		t.Errorf("curl -x with https (CONNECT): %q\nstderr:\n%s", r.stdout, r.stderr)
	}
	if recs := waitLog(t, tunnelLog, 1); len(recs) != 1 || recs[0].Method != "CONNECT" || recs[0].Status != 200 || recs[0].TunnelUp == 0 || recs[0].TunnelDown == 0 {
		t.Errorf("CONNECT log (want one tunnel carrying both requests): %+v", recs)
	}

	// Proxy authentication: 407 without credentials, 200 with curl's -U.
	authed := startHop(t, "hop proxy (--auth)", "proxy", "--auth", "alice:pw", "--access-log", "off")
	for _, tc := range []struct {
		args []string
		want string
	}{{nil, "407"}, {[]string{"-U", "alice:wrong"}, "407"}, {[]string{"-U", "alice:pw"}, "200"}} {
		args := append([]string{"-sS", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}", "-x", authed.url}, tc.args...)
		r = mustRunPeer(t, dir, curl, append(args, s.url+"/")...)
		if r.stdout != tc.want {
			t.Errorf("curl %v through --auth: %q, want %s\nstderr:\n%s", tc.args, r.stdout, tc.want, r.stderr)
		}
	}

	// A refused upstream is a 502 that curl reports with -f as exit 22.
	dead := startHop(t, "hop proxy (dead upstream)", "proxy", "--upstream", "http://"+freeAddr(t), "--access-log", "off")
	r = runPeer(t, dir, curl, "-sS", "-f", "--max-time", "30", dead.url+"/")
	if !strings.Contains(r.stderr, "502") {
		t.Errorf("curl -f through a dead upstream: %v, stderr %q", r.err, r.stderr)
	}
}

// TestProxyPython: python3's urllib with a ProxyHandler, the way Python programs use
// HTTP_PROXY.
func TestProxyPython(t *testing.T) {
	python := peer(t, "python3")
	s := startPlaintext(t, false)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "proxy.log")
	fwd := startHop(t, "hop proxy", "proxy", "--log-format", "json", "--access-log", logFile)
	script := `
import sys, urllib.request
proxy, target = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
for i in range(5):
    with opener.open(target + "/py/" + str(i), timeout=30) as r:
        print(r.status, r.read().decode(), r.headers.get("Via"))
`
	r := mustRunPeer(t, dir, python, "-c", script, fwd.url, s.url)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("python output:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "200 "+hello+" 1.1 ") {
			t.Errorf("python: %q", l)
		}
	}
	// urllib opens a connection per request; the proxy still reuses one upstream
	// connection for all of them.
	recs := waitLog(t, logFile, 5)
	if len(recs) != 5 || distinct(recs, func(r logRecord) int { return r.UpConn }) != 1 {
		t.Errorf("proxy log: %+v", recs)
	}
}

// TestProxyNginxOrigin: nginx as the origin behind the reverse proxy; nginx's access log
// shows the proxy's requests arriving over one persistent connection.
func TestProxyNginxOrigin(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "page.txt"), []byte("served by nginx\n"), 0o644)
	ng := testpeer.StartNginx(t, 1, func(prefix string, addrs []string) string {
		return fmt.Sprintf(`daemon off; master_process off; worker_processes 1;
pid %[1]s/nginx.pid; error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  log_format hop '$connection $connection_requests $request $http_via';
  access_log %[1]s/access.log hop;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  keepalive_requests 1000;
  server { listen %[2]s; root %[3]s; }
}
`, prefix, addrs[0], dir)
	})
	rev := startHop(t, "hop proxy", "proxy", "--upstream", "http://"+ng.Addrs[0], "--access-log", "off", "--name", "edge")
	c := &http.Client{Timeout: 30 * time.Second}
	const n = 20
	for i := range n {
		resp, err := c.Get(fmt.Sprintf("%s/page.txt?i=%d", rev.url, i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "served by nginx\n" || !strings.HasPrefix(resp.Header.Get("Server"), "nginx") {
			t.Fatalf("request %d: %d %q %v", i, resp.StatusCode, b, resp.Header)
		}
	}
	ng.Stop(t)
	access := strings.Split(strings.TrimSpace(ng.File("access.log")), "\n")
	conns := map[string]bool{}
	for _, l := range access {
		f := strings.Fields(l)
		if len(f) < 6 || f[len(f)-2] != "1.1" || f[len(f)-1] != "edge" {
			t.Errorf("nginx access line %q: want the proxy's Via", l)
			continue
		}
		conns[f[0]] = true
	}
	if len(access) != n || len(conns) != 1 {
		t.Errorf("nginx saw %d requests over %d connections, want %d over 1:\n%s", len(access), len(conns), n, strings.Join(access, "\n"))
	}
}

// TestProxyWrk: wrk through the reverse proxy; every response is a 200 and the proxy
// keeps its upstream connections to a handful.
func TestProxyWrk(t *testing.T) {
	wrk := peer(t, "wrk")
	s := startPlaintext(t, false)
	admin := freeAddr(t)
	rev := startHop(t, "hop proxy", "proxy", "--upstream", s.url, "--access-log", "off", "--admin", admin)
	r := mustRunPeer(t, t.TempDir(), wrk, "-t1", "-c20", "-d2s", rev.url+"/")
	reqs := matchInts(t, r.stdout, regexp.MustCompile(`(\d+) requests in`))[0]
	if reqs < 100 {
		t.Errorf("wrk: only %d requests:\n%s", reqs, r.stdout)
	}
	for _, bad := range []string{"Non-2xx", "Socket errors"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("wrk reports %s:\n%s", bad, r.stdout)
		}
	}
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`hop_proxy_upstream_requests_total\{reused="false"\} (\d+)`).FindStringSubmatch(string(metrics))
	if m == nil {
		t.Fatalf("no upstream request counter:\n%s", metrics)
	}
	if opened, _ := strconv.Atoi(m[1]); opened < 1 || opened > 40 {
		t.Errorf("the proxy opened %d upstream connections for 20 client connections", opened)
	}
	t.Logf("wrk through hop proxy: %d requests; upstream connections opened: %s", reqs, m[1])
}

// TestProxyChromium: headless Chromium with --proxy-server loads a hop serve page with
// 20 images through the forward proxy; every image loads, and both access logs show
// reuse: the proxy's requests share upstream connections, and hop serve sees fewer
// connections than requests.
func TestProxyChromium(t *testing.T) {
	testpeer.Program(t, "chromium", "chromium-browser")
	const nImages = 20
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	testpeer.WriteImagePage(t, site, nImages)
	serveLog, proxyLog := filepath.Join(dir, "serve.log"), filepath.Join(dir, "proxy.log")
	origin := startHop(t, "hop serve", "serve", "--root", site, "--log-format", "json", "--access-log", serveLog)
	fwd := startHop(t, "hop proxy", "proxy", "--log-format", "json", "--access-log", proxyLog)

	dom := testpeer.Chromium(t, filepath.Join(dir, "profile"), origin.url+"/",
		"--proxy-server="+fwd.url, "--proxy-bypass-list=<-loopback>")
	if got, want := testpeer.LoadedImages(dom), fmt.Sprintf("loaded %d/%d", nImages, nImages); got != want {
		t.Errorf("page reports %q, want %q", got, want)
	}
	precs := readLog(t, proxyLog)
	srecs := readLog(t, serveLog)
	var proxied, reused int
	for _, rec := range precs {
		if strings.HasPrefix(rec.Target, origin.url) {
			proxied++
			if rec.UpReused {
				reused++
			}
		}
	}
	upConns := distinct(precs, func(r logRecord) int { return r.UpConn })
	serveConns := distinct(srecs, func(r logRecord) int { return r.Conn })
	t.Logf("chromium: %d requests through the proxy on %d client connections, %d upstream connections (%d reused); hop serve: %d requests on %d connections",
		proxied, distinct(precs, func(r logRecord) int { return r.Conn }), upConns, reused, len(srecs), serveConns)
	if proxied < nImages+1 || len(srecs) < nImages+1 {
		t.Errorf("the page and its %d images did not all pass the proxy: proxy %d, hop serve %d requests", nImages, proxied, len(srecs))
	}
	if reused == 0 || serveConns >= len(srecs) {
		t.Errorf("no reuse visible: %d reused upstream exchanges; hop serve %d connections for %d requests", reused, serveConns, len(srecs))
	}
}

// TestProxyMemory streams a 1 GiB body through hop proxy (reverse mode, from hop serve)
// and samples the proxy's resident memory meanwhile: it must stay under 64 MiB.
func TestProxyMemory(t *testing.T) {
	const size = 1 << 30
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil { // sparse: no GiB of disk needed
		t.Fatal(err)
	}
	f.Close()
	origin := startHop(t, "hop serve", "serve", "--root", dir, "--access-log", "off", "--no-compress")
	rev := startHop(t, "hop proxy", "proxy", "--upstream", origin.url, "--access-log", "off")
	pid := rev.cmd.Process.Pid

	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb := rssKB(pid); kb > peak {
				peak = kb
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	c := &http.Client{Timeout: 5 * time.Minute}
	start := time.Now()
	resp, err := c.Get(rev.url + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, bufio.NewReaderSize(resp.Body, 256<<10))
	resp.Body.Close()
	close(stop)
	<-sampled
	if err != nil || n != size || resp.ContentLength != size {
		t.Fatalf("streamed %d of %d bytes (Content-Length %d): %v", n, size, resp.ContentLength, err)
	}
	el := time.Since(start)
	t.Logf("1 GiB through hop proxy in %v (%.0f MB/s); proxy peak RSS %.1f MiB", el.Round(time.Millisecond),
		float64(size)/el.Seconds()/1e6, float64(peak)/1024)
	if peak == 0 {
		t.Fatal("could not read the proxy's RSS")
	}
	if peak > 64<<10 {
		t.Errorf("proxy peak RSS %.1f MiB while streaming 1 GiB, want < 64 MiB", float64(peak)/1024)
	}
}

// rssKB returns VmRSS of process pid in KiB (0 when unreadable).
func rssKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
