package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testcert"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

// testProxy is a forward proxy built on net/http (an independent peer): absolute-form
// requests are forwarded, CONNECT opens a tunnel. Host names ending in ".test" are
// sent to 127.0.0.1. It records what it was asked.
type testProxy struct {
	url   string
	mu    sync.Mutex
	log   []string
	auths []string
	// want, when set, is the Proxy-Authorization the proxy requires: requests without
	// it get 407 with a Basic challenge.
	want string
}

func startProxy(t *testing.T, want ...string) *testProxy {
	p := &testProxy{}
	if len(want) > 0 {
		p.want = want[0]
	}
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
		if p.want != "" && r.Header.Get("Proxy-Authorization") != p.want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="hop test"`)
			w.WriteHeader(407)
			w.Write([]byte("credentials, please"))
			return
		}
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

// Plain http through a proxy: absolute-form requests on a pooled connection. The proxy
// asks for credentials (407): the request is sent again once with those of the proxy
// URL, and every later request carries them from the start.
func TestProxyHTTP(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	const alice = "Basic YWxpY2U6c0BjcmV0" // alice:s@cret
	px := startProxy(t, alice)
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
		// The first request's second try rode on the connection of the 407.
		if !r.Reused || r.ConnID != 1 {
			t.Errorf("request %d reused=%v conn #%d: the connection to the proxy is pooled", i, r.Reused, r.ConnID)
		}
	}
	log, auths := px.seen()
	want := "GET http://origin.test:" + port + "/via?x=1"
	if len(log) != 3 || log[0] != want || log[1] != want {
		t.Errorf("proxy saw %q, want absolute-form %q three times", log, want)
	}
	if strings.Join(auths, "|") != "|"+alice+"|"+alice {
		t.Errorf("Proxy-Authorization %q, want none, then the URL's credentials", auths)
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
	var pe *ProxyError
	if !errors.As(err, &pe) || pe.Status != 502 || pe.Target != "127.0.0.1:1" || errors.Is(err, ErrProxyAuthRequired) ||
		!strings.Contains(err.Error(), "refused CONNECT 127.0.0.1:1: 502 Bad Gateway") {
		t.Fatalf("err = %v", err)
	}
}

// A 407 is surfaced with its challenge: as the response for plain http, as a
// *ProxyError matching ErrProxyAuthRequired for CONNECT. Without credentials in the
// proxy URL (or with wrong ones, after one retry) nothing more is tried.
func TestProxyAuthRequired(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	px := startProxy(t, "Basic c2VjcmV0OnNlY3JldA==")
	for _, user := range []string{"", "bob:wrong@"} {
		fn, _ := FixedProxy(strings.Replace(px.url, "http://", "http://"+user, 1))
		cl := newClient(t, &Client{Proxy: fn})
		r := get(t, cl, "http://origin.test:"+port+"/")
		if r.Status != 407 || string(r.Header.Get("Proxy-Authenticate")) != `Basic realm="hop test"` || string(r.Body) != "credentials, please" {
			t.Errorf("user %q: %d %q %q", user, r.Status, r.Header.Get("Proxy-Authenticate"), r.Body)
		}
		var req Request
		req.SetURL("https://origin.test:" + port + "/")
		var resp Response
		err := cl.Do(&req, &resp)
		var pe *ProxyError
		if !errors.Is(err, ErrProxyAuthRequired) || !errors.As(err, &pe) || pe.Status != 407 ||
			len(pe.Authenticate) != 1 || pe.Authenticate[0] != `Basic realm="hop test"` {
			t.Errorf("user %q: CONNECT err = %v", user, err)
		}
	}
	log, auths := px.seen()
	// Without credentials: one try each. With wrong ones: the GET is tried again with
	// them, and the CONNECT (through the same proxy) sends them at once.
	const bob = "Basic Ym9iOndyb25n"
	if len(log) != 5 || strings.Join(auths, "|") != "|||"+bob+"|"+bob {
		t.Errorf("proxy saw %q with %q", log, auths)
	}
}

// CONNECT through a proxy that asks for credentials: the tunnel is opened again on a
// new connection with those of the proxy URL, and later tunnels send them at once.
//
// The credentials are the proxy's: the requests sent inside the tunnel go to the
// origin, which must never see them.
func TestProxyConnectAuth(t *testing.T) {
	var mu sync.Mutex
	var originSaw []string
	url, _ := startHopTLS(t, func(w *server.ResponseWriter, r *server.Request) {
		mu.Lock()
		originSaw = append(originSaw, string(r.Target)+" "+string(r.Header.Get("Proxy-Authorization")))
		mu.Unlock()
		echoConn(w, r)
	})
	port := url[strings.LastIndexByte(url, ':')+1:]
	const alice = "Basic YWxpY2U6czNjcmV0" // alice:s3cret
	px := startProxy(t, alice)
	fn, _ := FixedProxy(strings.Replace(px.url, "http://", "http://alice:s3cret@", 1))
	var retries []string
	cl := newClient(t, &Client{Proxy: fn, MaxIdleConnsPerHost: -1,
		TLSConfig: &tls.Config{RootCAs: testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1").Pool},
		Trace:     &Trace{Retry: func(_ int, err error) { retries = append(retries, err.Error()) }}})
	for i := 0; i < 2; i++ {
		r := get(t, cl, "https://hop.test:"+port+"/s")
		if r.Status != 200 || string(r.Body) != "GET /s " {
			t.Fatalf("%d %q", r.Status, r.Body)
		}
	}
	log, auths := px.seen()
	if len(log) != 3 || strings.Join(auths, "|") != "|"+alice+"|"+alice {
		t.Errorf("proxy saw %q with %q", log, auths)
	}
	if len(retries) != 1 || !strings.Contains(retries[0], "407") {
		t.Errorf("retries %q", retries)
	}
	// Pipelined requests through the tunnel do not carry them either.
	reqs, resps := make([]*Request, 2), make([]*Response, 2)
	for i := range reqs {
		reqs[i], resps[i] = &Request{}, &Response{}
		reqs[i].SetURL("https://hop.test:" + port + "/p")
	}
	if err := cl.DoPipeline(reqs, resps, 2); err != nil || resps[1].Status != 200 {
		t.Fatalf("pipeline: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(originSaw, "|") != "/s |/s |/p |/p " {
		t.Errorf("the origin saw (target, Proxy-Authorization) %q, want no credentials", originSaw)
	}
}

// A 407 from inside a CONNECT tunnel comes from the origin, not from the proxy: it is
// the response, and the proxy's credentials are not sent to the origin to answer it,
// even once the proxy has asked for them.
func TestProxyTunnelOrigin407(t *testing.T) {
	var mu sync.Mutex
	var originSaw []string
	url, _ := startHopTLS(t, func(w *server.ResponseWriter, r *server.Request) {
		mu.Lock()
		originSaw = append(originSaw, string(r.Header.Get("Proxy-Authorization")))
		mu.Unlock()
		w.Header().Set("Proxy-Authenticate", `Basic realm="origin"`)
		w.WriteHeader(407)
	})
	port := url[strings.LastIndexByte(url, ':')+1:]
	roots := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1").Pool
	const alice = "Basic YWxpY2U6czNjcmV0" // alice:s3cret
	// The proxy asks for the credentials (they are on for the pool), or not (the
	// origin's challenge would turn them on).
	for _, want := range []string{alice, ""} {
		px := startProxy(t, want)
		fn, _ := FixedProxy(strings.Replace(px.url, "http://", "http://alice:s3cret@", 1))
		cl := newClient(t, &Client{Proxy: fn, TLSConfig: &tls.Config{RootCAs: roots}})
		for i := 0; i < 2; i++ {
			if r := get(t, cl, "https://hop.test:"+port+"/"); r.Status != 407 || r.Retries != 0 {
				t.Fatalf("proxy wants %q: status %d after %d retries, want the origin's 407 as it came",
					want, r.Status, r.Retries)
			}
		}
		mu.Lock()
		if len(originSaw) != 2 || originSaw[0] != "" || originSaw[1] != "" {
			t.Errorf("proxy wants %q: the origin saw Proxy-Authorization %q, want none", want, originSaw)
		}
		originSaw = nil
		mu.Unlock()
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

// The CONNECT through a proxy ends when the request's context does: a proxy that never
// answers does not hold a canceled request for the whole ConnectTimeout.
func TestProxyConnectCanceled(t *testing.T) {
	silent := testnet.Raw(t, func(c net.Conn, _ int) {
		io.Copy(io.Discard, c) // the CONNECT, never answered
	})
	fn, _ := FixedProxy("http://" + silent)
	cl := newClient(t, &Client{Proxy: fn, ConnectTimeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var req Request
	req.SetURL("https://origin.test/")
	req.Ctx = ctx
	start := time.Now()
	err := cl.Do(&req, &Response{})
	if took := time.Since(start); !errors.Is(err, context.Canceled) || took > 5*time.Second {
		t.Errorf("after %v: %v, want context.Canceled soon after the cancellation", took, err)
	}
}
