package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testcert"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/internal/testpeer"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts connections.
func waitListening(t testing.TB, addr string, exited <-chan struct{}, logf func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("peer exited before listening on %s:\n%s", addr, logf())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer not listening on %s:\n%s", addr, logf())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runPeer starts cmd (its output into dir/stdout.log), stops it at cleanup, and waits
// until it listens on every addr; errorLog (in dir) is shown with the output if not.
func runPeer(t *testing.T, dir, errorLog string, cmd *exec.Cmd, addrs ...string) {
	t.Helper()
	out, _ := os.Create(filepath.Join(dir, "stdout.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		out.Close()
	})
	logs := func() string {
		a, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
		b, _ := os.ReadFile(filepath.Join(dir, errorLog))
		return string(a) + string(b)
	}
	for _, addr := range addrs {
		waitListening(t, addr, exited, logs)
	}
}

// nginxPeer is an nginx started for one test, logging "$connection
// $connection_requests $request" for every request.
type nginxPeer struct {
	dir           string
	http, https   string // base URLs ("" when not configured)
	httpsPort     int
	accessLogPath string
}

// startNginx runs nginx on loopback ports (plain, and TLS with the test certificate
// for hop.test) with the given extra server directives.
func startNginx(t *testing.T, extra string) *nginxPeer {
	tc := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1")
	ng := testpeer.StartNginx(t, 2, func(dir string, addrs []string) string {
		for name, data := range map[string][]byte{"cert.pem": tc.CertPEM, "key.pem": tc.KeyPEM} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		www := filepath.Join(dir, "www")
		os.MkdirAll(www, 0o755)
		os.WriteFile(filepath.Join(www, "file.txt"), []byte(strings.Repeat("nginx file\n", 1000)), 0o644)
		return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 256; }
http {
    log_format hop '$connection $connection_requests $request';
    access_log %[1]s/access.log hop;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    default_type text/plain;
    keepalive_timeout 60s;
    keepalive_requests 1000;
    ssl_session_cache shared:SSL:1m;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen %[2]s;
        listen %[3]s ssl;
        server_name hop.test;
        ssl_certificate %[1]s/cert.pem;
        ssl_certificate_key %[1]s/key.pem;
        root %[1]s/www;
        location = /hello { return 200 "Hello, World!"; }
        %[4]s
    }
}
`, dir, addrs[0], addrs[1], extra)
	})
	_, tlsPort, _ := net.SplitHostPort(ng.Addrs[1])
	port, _ := strconv.Atoi(tlsPort)
	return &nginxPeer{dir: ng.Dir, http: "http://" + ng.Addrs[0], https: "https://hop.test:" + tlsPort,
		httpsPort: port, accessLogPath: filepath.Join(ng.Dir, "access.log")}
}

// accessLog returns the (connection, connection_requests, request line) of each
// logged request.
func (n *nginxPeer) accessLog(t *testing.T) [][3]string {
	t.Helper()
	f, err := os.Open(n.accessLogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][3]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 3)
		if len(parts) == 3 {
			out = append(out, [3]string{parts[0], parts[1], parts[2]})
		}
	}
	return out
}

// Connection reuse confirmed by nginx itself: every request on one connection
// ($connection constant), numbered 1..N ($connection_requests).
func TestNginxReuse(t *testing.T) {
	ng := startNginx(t, "")
	cl := newClient(t, nil)
	const n = 20
	for i := 0; i < n; i++ {
		path := "/hello"
		if i%2 == 1 {
			path = "/file.txt"
		}
		r := get(t, cl, ng.http+path)
		if r.Status != 200 || (path == "/hello" && string(r.Body) != "Hello, World!") || (path == "/file.txt" && len(r.Body) != 11000) {
			t.Fatalf("%s: %d %d bytes", path, r.Status, len(r.Body))
		}
	}
	var log [][3]string
	testnet.WaitFor(t, "nginx's access log", func() bool { log = ng.accessLog(t); return len(log) == n })
	for i, l := range log {
		if l[0] != log[0][0] || l[1] != strconv.Itoa(i+1) {
			t.Errorf("request %d: nginx connection %s request %s, want connection %s request %d", i, l[0], l[1], log[0][0], i+1)
		}
	}
	if s := cl.Stats(); s.NewConns != 1 || s.Reused != n-1 {
		t.Errorf("client stats %+v", s)
	}
}

// nginx ends a connection after keepalive_requests; the client sees Connection:
// close, opens a new connection, and nginx's log shows the switch.
func TestNginxKeepaliveRequests(t *testing.T) {
	ng := startNginx(t, "location = /limited { keepalive_requests 3; return 200 \"limited\"; }")
	var reasons []string
	cl := newClient(t, &Client{Trace: &Trace{Done: func(i DoneInfo) { reasons = append(reasons, i.CloseReason) }}})
	for i := 0; i < 7; i++ {
		if r := get(t, cl, ng.http+"/limited"); string(r.Body) != "limited" {
			t.Fatalf("%q", r.Body)
		}
	}
	var log [][3]string
	testnet.WaitFor(t, "nginx's access log", func() bool { log = ng.accessLog(t); return len(log) == 7 })
	var got []string
	for _, l := range log {
		got = append(got, l[1])
	}
	if strings.Join(got, ",") != "1,2,3,1,2,3,1" || log[0][0] == log[3][0] || log[3][0] == log[6][0] {
		t.Errorf("nginx log %v", log)
	}
	if reasons[2] != "server asked to close" || reasons[0] != "" {
		t.Errorf("close reasons %q", reasons)
	}
}

// Pipelining against nginx: all requests in one connection, responses in order.
func TestNginxPipeline(t *testing.T) {
	ng := startNginx(t, "")
	cl := newClient(t, nil)
	var reqs []*Request
	var resps []*Response
	for i := 0; i < 12; i++ {
		r := &Request{}
		p := "/hello"
		if i%3 == 0 {
			p = "/file.txt"
		}
		r.SetURL(ng.http + p + "?i=" + strconv.Itoa(i))
		reqs = append(reqs, r)
		resps = append(resps, &Response{})
	}
	if err := cl.DoPipeline(reqs, resps, 6); err != nil {
		t.Fatal(err)
	}
	for i, r := range resps {
		if want := 13; i%3 != 0 && len(r.Body) != want || i%3 == 0 && len(r.Body) != 11000 {
			t.Errorf("response %d: %d bytes", i, len(r.Body))
		}
	}
	var log [][3]string
	testnet.WaitFor(t, "nginx's access log", func() bool { log = ng.accessLog(t); return len(log) == 12 })
	for i, l := range log {
		if l[0] != log[0][0] || !strings.Contains(l[2], "?i="+strconv.Itoa(i)+" ") {
			t.Errorf("log line %d: %v", i, l)
		}
	}
}

// nginx with TLS and the self-signed certificate: verification against given roots,
// SNI, ALPN, reuse (from nginx's log) and session resumption.
func TestNginxTLS(t *testing.T) {
	ng := startNginx(t, "")
	tc := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1")
	var handshakes []string
	cl := newClient(t, &Client{
		TLSConfig: &tls.Config{RootCAs: tc.Pool},
		Resolve:   map[string][]netip.Addr{"hop.test:" + strconv.Itoa(ng.httpsPort): {netip.MustParseAddr("127.0.0.1")}},
		Trace: &Trace{TLSDone: func(s *tls.ConnectionState, err error) {
			if err != nil {
				handshakes = append(handshakes, "error: "+err.Error())
				return
			}
			handshakes = append(handshakes, fmt.Sprintf("%s %s resumed=%v", tls.VersionName(s.Version), s.NegotiatedProtocol, s.DidResume))
		}},
	})
	for i := 0; i < 3; i++ {
		r := get(t, cl, ng.https+"/hello")
		if r.Status != 200 || string(r.Body) != "Hello, World!" || r.TLS == nil {
			t.Fatalf("%d %q", r.Status, r.Body)
		}
	}
	// A new connection resumes the session.
	var req Request
	req.SetURL(ng.https + "/hello")
	req.Close = true
	var resp Response
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	cl.CloseIdleConnections()
	if r := get(t, cl, ng.https+"/hello"); r.Reused {
		t.Error("reused after CloseIdleConnections")
	}
	want := "[TLS 1.3 http/1.1 resumed=false TLS 1.3 http/1.1 resumed=true]"
	if fmt.Sprint(handshakes) != want {
		t.Errorf("handshakes %v, want %s", handshakes, want)
	}
	var log [][3]string
	testnet.WaitFor(t, "nginx's access log", func() bool { log = ng.accessLog(t); return len(log) == 5 })
	if log[0][0] != log[3][0] || log[3][1] != "4" || log[4][1] != "1" {
		t.Errorf("nginx log %v: want 4 requests on the first connection, then a new one", log)
	}
	// Without the roots, verification fails.
	cl2 := newClient(t, &Client{Resolve: cl.Resolve})
	var req2 Request
	req2.SetURL(ng.https + "/hello")
	if err := cl2.Do(&req2, &resp); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, want a certificate error", err)
	}
}

const pythonServer = `
import http.server, sys, os
os.chdir(sys.argv[1])
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        if self.path == "/stream":
            # No Content-Length: the body ends when the connection closes.
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for i in range(200):
                self.wfile.write(b"line %d of a close-delimited body\n" % i)
            return
        return super().do_GET()
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`

// python3's http.server speaks HTTP/1.0 and closes after each response; /stream is
// close-delimited.
func TestPythonHTTP10(t *testing.T) {
	py := testpeer.Program(t, "python3")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file.txt"), []byte(strings.Repeat("python\n", 500)), 0o644)
	script := filepath.Join(dir, "server.py")
	os.WriteFile(script, []byte(pythonServer), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, script, dir)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	base := "http://127.0.0.1:" + strings.TrimSpace(line)
	var reasons []string
	cl := newClient(t, &Client{Trace: &Trace{Done: func(i DoneInfo) { reasons = append(reasons, i.CloseReason) }}})
	for i := 0; i < 2; i++ {
		r := get(t, cl, base+"/file.txt")
		if r.Status != 200 || r.Major != 1 || r.Minor != 0 || len(r.Body) != 3500 || r.KeepAlive || r.Reused {
			t.Fatalf("file: %d HTTP/1.%d %d bytes keep=%v reused=%v", r.Status, r.Minor, len(r.Body), r.KeepAlive, r.Reused)
		}
	}
	r := get(t, cl, base+"/stream")
	if r.ContentLength != -1 || !strings.HasSuffix(string(r.Body), "line 199 of a close-delimited body\n") {
		t.Fatalf("stream: length %d, %d bytes", r.ContentLength, len(r.Body))
	}
	if fmt.Sprint(reasons) != "[HTTP/1.0 server did not keep alive HTTP/1.0 server did not keep alive body delimited by close]" {
		t.Errorf("close reasons %q", reasons)
	}
	if s := cl.Stats(); s.NewConns != 3 || s.Open != 0 {
		t.Errorf("stats %+v", s)
	}
}

// squidPeer is a squid forward proxy started for one test, requiring Basic proxy
// authentication (user alice, password s3cret) through basic_ncsa_auth.
type squidPeer struct {
	url       string // http://127.0.0.1:port
	accessLog string
}

func startSquid(t *testing.T) *squidPeer {
	bin := testpeer.Program(t, "squid", "/usr/sbin/squid")
	htpasswd := testpeer.Program(t, "htpasswd")
	auth := testpeer.Program(t, "/usr/lib/squid/basic_ncsa_auth")
	dir := t.TempDir()
	// Run as root, squid drops to its own user, which must reach the directory.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o777)
	}
	if out, err := exec.Command(htpasswd, "-bc", filepath.Join(dir, "passwd"), "alice", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v %s", err, out)
	}
	os.Chmod(filepath.Join(dir, "passwd"), 0o644)
	port := freePort(t)
	conf := fmt.Sprintf(`http_port 127.0.0.1:%[2]d
pid_filename %[1]s/squid.pid
cache_log %[1]s/cache.log
access_log stdio:%[1]s/access.log squid
netdb_filename none
pinger_enable off
cache deny all
cache_mem 8 MB
coredump_dir %[1]s
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
auth_param basic program %[3]s %[1]s/passwd
auth_param basic realm hop-test
acl authed proxy_auth REQUIRED
acl CONNECT method CONNECT
http_access allow authed
http_access deny all
`, dir, port, auth)
	confPath := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	runPeer(t, dir, "cache.log", exec.Command(bin, "-N", "-f", confPath), addr)
	return &squidPeer{url: "http://" + addr, accessLog: filepath.Join(dir, "access.log")}
}

// statuses returns the "CODE/STATUS METHOD" of each logged request (squid writes the
// log as requests end; wait for n lines).
func (s *squidPeer) statuses(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	testnet.WaitFor(t, "squid's access log", func() bool {
		b, _ := os.ReadFile(s.accessLog)
		out = out[:0]
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			if len(f) >= 8 && !strings.HasPrefix(f[3], "NONE") { // NONE: the readiness probe
				out = append(out, f[3]+" "+f[5]+" "+f[7]) // TCP_MISS/200 GET alice
			}
		}
		return len(out) >= n
	})
	return out
}

// squid asks for proxy credentials: the client answers the 407 once with those of the
// proxy URL, for absolute-form requests and for CONNECT tunnels, and later requests
// carry them from the start. Wrong credentials surface the 407 and its challenge.
func TestSquidProxyAuth(t *testing.T) {
	sq := startSquid(t)
	base := startHop(t, echoConn)
	tlsURL, _ := startHopTLS(t, echoConn)
	tc := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1")
	fn, err := FixedProxy(strings.Replace(sq.url, "http://", "http://alice:s3cret@", 1))
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, &Client{Proxy: fn, TLSConfig: &tls.Config{RootCAs: tc.Pool}})
	for _, u := range []string{base + "/plain", base + "/again", tlsURL + "/tunnel"} {
		r := get(t, cl, u)
		path := u[strings.LastIndexByte(u, '/'):]
		if r.Status != 200 || string(r.Body) != "GET "+path+" " {
			t.Fatalf("%s: %d %q", u, r.Status, r.Body)
		}
	}
	cl.CloseIdleConnections() // squid logs a tunnel when it ends
	got := sq.statuses(t, 4)
	want := []string{"TCP_DENIED/407 GET -", "TCP_MISS/200 GET alice", "TCP_MISS/200 GET alice", "TCP_TUNNEL/200 CONNECT alice"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("squid logged %q, want %q", got, want)
	}

	wrong, _ := FixedProxy(strings.Replace(sq.url, "http://", "http://alice:wrong@", 1))
	cl2 := newClient(t, &Client{Proxy: wrong})
	r := get(t, cl2, base+"/")
	if r.Status != 407 || !strings.Contains(string(r.Header.Get("Proxy-Authenticate")), `Basic realm="hop-test"`) {
		t.Errorf("wrong password: %d %q", r.Status, r.Header.Get("Proxy-Authenticate"))
	}
	var req Request
	req.SetURL(tlsURL + "/")
	var resp Response
	if err := cl2.Do(&req, &resp); !errors.Is(err, ErrProxyAuthRequired) {
		t.Errorf("CONNECT with a wrong password: %v", err)
	}
}
