package client

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hop-http/hop/internal/testcert"
)

// testProxy is a forward proxy built on net/http (an independent peer): absolute-form
// requests are forwarded, CONNECT opens a tunnel. Host names ending in ".test" are
// sent to 127.0.0.1. It records what it was asked.
type testProxy struct {
	url   string
	mu    sync.Mutex
	log   []string
	auths []string
}

func startProxy(t *testing.T) *testProxy {
	p := &testProxy{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		if strings.HasSuffix(host, ".test") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	fwd := &http.Transport{DialContext: dial}
	t.Cleanup(fwd.CloseIdleConnections)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.log = append(p.log, r.Method+" "+r.RequestURI)
		p.auths = append(p.auths, r.Header.Get("Proxy-Authorization"))
		p.mu.Unlock()
		if r.Method == "CONNECT" {
			up, err := dial(r.Context(), "tcp", r.Host)
			if err != nil {
				w.WriteHeader(502)
				return
			}
			w.WriteHeader(200)
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				up.Close()
				return
			}
			brw.Flush()
			// The client may have sent its first bytes (a TLS ClientHello) as soon as
			// it saw the 200, before the hijack: they may be in brw's buffer.
			go func() { io.Copy(up, brw.Reader); up.Close() }()
			io.Copy(c, up)
			c.Close()
			return
		}
		out := r.Clone(context.Background())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
		resp, err := fwd.RoundTrip(out)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.Header().Set("X-Via-Proxy", "1")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.url = "http://" + ln.Addr().String()
	return p
}

func (p *testProxy) seen() ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...), append([]string(nil), p.auths...)
}

func TestProxyHTTP(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	px := startProxy(t)
	fn, err := FixedProxy(strings.Replace(px.url, "http://", "http://alice:s%40cret@", 1))
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, &Client{Proxy: fn})
	for i := 0; i < 2; i++ {
		r := get(t, cl, "http://origin.test:"+port+"/via?x=1")
		if r.Status != 200 || string(r.Body) != "GET /via?x=1 " || string(r.Header.Get("X-Via-Proxy")) != "1" {
			t.Fatalf("%d %q", r.Status, r.Body)
		}
		if r.Reused != (i == 1) {
			t.Errorf("request %d reused=%v: the connection to the proxy is pooled", i, r.Reused)
		}
	}
	log, auths := px.seen()
	want := "GET http://origin.test:" + port + "/via?x=1"
	if len(log) != 2 || log[0] != want {
		t.Errorf("proxy saw %q, want absolute-form %q", log, want)
	}
	if auths[0] != "Basic YWxpY2U6c0BjcmV0" { // alice:s@cret
		t.Errorf("Proxy-Authorization %q", auths[0])
	}
	s := cl.OriginStats()
	if len(s) != 1 || !strings.Contains(s[0].Origin, "via http://alice:xxxxx@") {
		t.Errorf("origin stats %+v", s)
	}
}

func TestProxyConnectTLS(t *testing.T) {
	url, hellos := startHopTLS(t, echoConn)
	port := url[strings.LastIndexByte(url, ':')+1:]
	px := startProxy(t)
	fn, _ := FixedProxy(px.url)
	var tunnels []string
	cl := newClient(t, &Client{Proxy: fn, TLSConfig: &tls.Config{RootCAs: testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1").Pool},
		Trace: &Trace{ProxyConnect: func(proxy, target string, err error) {
			if err == nil {
				tunnels = append(tunnels, target)
			}
		}}})
	for i := 0; i < 2; i++ {
		var req Request
		req.SetURL("https://hop.test:" + port + "/secure")
		var resp Response
		if err := cl.Do(&req, &resp); err != nil {
			log, _ := px.seen()
			t.Fatalf("%v (proxy saw %q, server hellos %q)", err, log, hellos())
		}
		r := &resp
		if r.Status != 200 || string(r.Body) != "GET /secure " || r.TLS == nil {
			t.Fatalf("%d %q", r.Status, r.Body)
		}
	}
	log, _ := px.seen()
	if len(log) != 1 || log[0] != "CONNECT hop.test:"+port {
		t.Errorf("proxy saw %q, want one CONNECT", log)
	}
	if len(tunnels) != 1 {
		t.Errorf("tunnels %v", tunnels)
	}
	if h := hellos(); len(h) == 0 || !strings.HasPrefix(h[0], "hop.test ") {
		t.Errorf("SNI through the tunnel: %q", h)
	}
}

func TestProxyConnectRefused(t *testing.T) {
	px := startProxy(t)
	fn, _ := FixedProxy(px.url)
	cl := newClient(t, &Client{Proxy: fn})
	var req Request
	req.SetURL("https://127.0.0.1:1/") // the proxy cannot reach it: 502
	var resp Response
	err := cl.Do(&req, &resp)
	if err == nil || !strings.Contains(err.Error(), "proxy refused CONNECT") {
		t.Fatalf("err = %v", err)
	}
}

func TestProxyConfig(t *testing.T) {
	cfg := &ProxyConfig{
		HTTPProxy:  "proxy.example:3128",
		HTTPSProxy: "http://secure-proxy.example:8443",
		NoProxy:    "internal.example, .corp.example, 10.0.0.0/8, 192.0.2.7, only.example:8080",
	}
	fn, err := cfg.ProxyFunc()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ url, want string }{
		{"http://www.example.org/", "http://proxy.example:3128/"},
		{"https://www.example.org/", "http://secure-proxy.example:8443/"},
		{"http://internal.example/", ""},
		{"http://a.internal.example/", ""},
		{"http://corp.example/", "http://proxy.example:3128/"}, // leading dot: subdomains only
		{"http://x.corp.example/", ""},
		{"http://10.1.2.3/", ""},
		{"http://11.1.2.3/", "http://proxy.example:3128/"},
		{"http://192.0.2.7:81/", ""},
		{"http://only.example:8080/", ""},
		{"http://only.example:8081/", "http://proxy.example:3128/"},
		{"http://localhost:1/", ""},
		{"http://127.0.0.1/", ""},
		{"http://[::1]/", ""},
	}
	for _, tt := range tests {
		u, _ := ParseURL(tt.url)
		p, err := fn(&u)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if p != nil {
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("%s: proxy %q, want %q", tt.url, got, tt.want)
		}
	}
	all, _ := (&ProxyConfig{HTTPProxy: "p:1", NoProxy: "*"}).ProxyFunc()
	u, _ := ParseURL("http://anything.example/")
	if p, _ := all(&u); p != nil {
		t.Error("NO_PROXY=* still proxied")
	}
	if _, err := (&ProxyConfig{HTTPProxy: "socks5://p:1"}).ProxyFunc(); err == nil {
		t.Error("socks5 proxy accepted")
	}
}

func TestProxyConfigFromEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "http://lower:1")
	t.Setenv("HTTPS_PROXY", "http://upper:2")
	t.Setenv("https_proxy", "http://ignored:3")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "skip.example")
	t.Setenv("REQUEST_METHOD", "")
	c := ProxyConfigFromEnvironment()
	if c.HTTPProxy != "http://lower:1" || c.HTTPSProxy != "http://upper:2" || c.NoProxy != "skip.example" {
		t.Errorf("%+v", c)
	}
	t.Setenv("REQUEST_METHOD", "GET")
	if c := ProxyConfigFromEnvironment(); c.HTTPProxy != "" {
		t.Error("HTTP_PROXY used in a CGI environment")
	}
}
