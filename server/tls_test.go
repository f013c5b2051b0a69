package server_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testcert"

	"github.com/hop-http/hop/server"
)

// TestTLS: ALPN negotiates http/1.1, requests see the TLS state, the connection is
// kept alive across requests and closed cleanly (close_notify, then EOF).
func TestTLS(t *testing.T) {
	tc := testcert.New(t)
	cert, pool := tc.TLS, tc.Pool
	ts := startServer(t, &server.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			st := r.TLS()
			if st == nil {
				w.WriteString("no TLS")
				return
			}
			fmt.Fprintf(w, "%s %s conn=%d req=%d", st.NegotiatedProtocol, r.Path(), r.ConnID(), r.ConnRequests())
		}),
	})
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", ts.addr, &tls.Config{
		RootCAs:    pool,
		ServerName: "127.0.0.1",
		NextProtos: []string{"h2", "http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := nc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("NegotiatedProtocol %q, want http/1.1", p)
	}
	c := newClient(t, nc)
	r1 := c.roundTrip("GET", get("/one"))
	r2 := c.roundTrip("GET", get("/two"))
	id := strings.Fields(string(r1.Body))[2]
	if string(r1.Body) != "http/1.1 /one "+id+" req=1" || string(r2.Body) != "http/1.1 /two "+id+" req=2" {
		t.Errorf("responses %q, %q: want both on one kept-alive TLS connection", r1.Body, r2.Body)
	}
	// Pipelined over TLS.
	c.write(get("/p1") + get("/p2"))
	for i, want := range []string{"/p1 " + id + " req=3", "/p2 " + id + " req=4"} {
		if r := c.mustResponse("GET"); !strings.HasSuffix(string(r.Body), want) {
			t.Errorf("pipelined %d: %s", i, r)
		}
	}
	r3 := c.roundTrip("GET", head("GET /bye HTTP/1.1", "Host: test", "Connection: close"))
	if !r3.closes() {
		t.Errorf("last response: %s", r3)
	}
	c.expectClosed()

	// A bad request over TLS is answered and the connection closed cleanly too.
	nc2, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", ts.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c2 := newClient(t, nc2)
	if r := c2.roundTrip("GET", "GET / HTTP/1.1\r\nHost : x\r\n\r\n"); r.Status != 400 || !r.closes() {
		t.Errorf("bad request over TLS: %s", r)
	}
	c2.expectClosed()
}

// TestTLSWithNetHTTPClient: net/http's client reuses one TLS connection.
func TestTLSWithNetHTTPClient(t *testing.T) {
	tc := testcert.New(t)
	cert, pool := tc.TLS, tc.Pool
	var opened atomic.Int64
	ts := startServer(t, &server.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ConnState: func(_ server.ConnInfo, st server.ConnState) {
			if st == server.StateNew {
				opened.Add(1)
			}
		},
		Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil && r.TLS.HandshakeComplete)
		})),
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: ioWait}
	for i := range 20 {
		resp, err := hc.Get("https://" + ts.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "HTTP/1.1 true" || resp.ProtoMajor != 1 {
			t.Fatalf("request %d: %s %q", i, resp.Proto, b)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("%d TLS connections for 20 sequential requests, want 1", n)
	}
}

// TestTLSHandshakeFailure: a client that does not speak TLS is dropped without
// affecting the server.
func TestTLSHandshakeFailure(t *testing.T) {
	tc := testcert.New(t)
	cert, pool := tc.TLS, tc.Pool
	ts := startServer(t, &server.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler:   textHandler,
	})
	c := dial(t, ts.addr)
	c.write(get("/plain"))
	if r, err := c.readResponse("GET"); err == nil && r.Status == 200 {
		t.Errorf("plain HTTP on a TLS port was served: %s", r)
	}
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", ts.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if r := newClient(t, nc).roundTrip("GET", get("/ok")); r.Status != 200 {
		t.Errorf("after a failed handshake: %s", r)
	}
}

// TestTLSContextWatch: a handler that watches its context over TLS does not lose the
// pipelined request that arrives meanwhile, and notices the client leaving.
func TestTLSContextWatch(t *testing.T) {
	tc := testcert.New(t)
	cert, pool := tc.TLS, tc.Pool
	canceled := make(chan struct{}, 1)
	started := make(chan struct{}, 1)
	ts := startServer(t, &server.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			ctx := r.Context()
			if string(r.Path()) == "/hang" {
				started <- struct{}{}
				select {
				case <-ctx.Done():
					canceled <- struct{}{}
				case <-time.After(3 * ioWait):
				}
				return
			}
			select {
			case <-ctx.Done():
				w.WriteString("canceled")
			case <-time.After(150 * time.Millisecond):
				w.WriteString("ok " + string(r.Path()))
			}
		}),
	})
	dialTLS := func() *client {
		nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", ts.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		return newClient(t, nc)
	}
	c := dialTLS()
	c.write(get("/1"))
	time.Sleep(50 * time.Millisecond)
	c.write(get("/2") + get("/3"))
	for _, want := range []string{"ok /1", "ok /2", "ok /3"} {
		if r := c.mustResponse("GET"); string(r.Body) != want {
			t.Errorf("got %s, want %q", r, want)
		}
	}
	c2 := dialTLS()
	c2.write(get("/hang"))
	waitFor(t, started, "the handler")
	c2.nc.Close()
	waitFor(t, canceled, "the context to be canceled")
}

// TestTLSIdleModes: a TLS connection survives waiting idle however the server holds
// it (goroutine, parked at once, parked after a grace period), including a request
// that arrives split across TLS records while the connection is idle, and is closed
// by IdleTimeout.
func TestTLSIdleModes(t *testing.T) {
	tc := testcert.New(t)
	cert, pool := tc.TLS, tc.Pool
	for _, mode := range idleModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel() // sleep-bound: the modes wait side by side
			s := &server.Server{
				TLSConfig:   &tls.Config{Certificates: []tls.Certificate{cert}},
				IdleTimeout: 1500 * time.Millisecond,
				Handler:     textHandler,
			}
			mode.set(s)
			ts := startServer(t, s)
			nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", ts.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(t, nc)
			for i := 1; i <= 3; i++ {
				if r := c.roundTrip("GET", get("/")); !strings.HasSuffix(string(r.Body), fmt.Sprintf("req=%d", i)) {
					t.Fatalf("request %d: %s", i, r)
				}
				time.Sleep(150 * time.Millisecond)
			}
			// One request in two records with a pause between them.
			c.write("GET /split HTTP/1.1\r\nHo")
			time.Sleep(150 * time.Millisecond)
			c.write("st: test\r\n\r\n" + get("/after"))
			for _, want := range []string{"GET /split", "GET /after"} {
				if r := c.mustResponse("GET"); !strings.HasPrefix(string(r.Body), want+" ") {
					t.Errorf("got %s, want %q", r, want)
				}
			}
			// IdleTimeout (1.5 s) closes it; the bound only catches a missing timeout.
			if err := c.closeState(ioWait); err != nil {
				t.Errorf("idle TLS connection: %v", err)
			}
		})
	}
}

// TestTLSCloseLingers: a TLS client ends a connection it asked to close with its own
// close_notify, after the response. The server lingers for it instead of closing at
// once (as it does on plain TCP, where nothing more may follow), so the alert meets an
// open socket and the client sees a clean end of stream, not a reset.
func TestTLSCloseLingers(t *testing.T) {
	tc := testcert.New(t)
	ts := startServer(t, &server.Server{
		TLSConfig:     &tls.Config{Certificates: []tls.Certificate{tc.TLS}},
		Handler:       textHandler,
		LingerTimeout: ioWait,
	})
	raw, err := net.DialTimeout("tcp", ts.addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	nc := tls.Client(raw, &tls.Config{RootCAs: tc.Pool, ServerName: "127.0.0.1"})
	c := newClient(t, nc)
	if r := c.roundTrip("GET", head("GET / HTTP/1.1", "Host: test", "Connection: close")); r.Status != 200 || !r.closes() {
		t.Fatalf("response %s", r)
	}
	time.Sleep(100 * time.Millisecond) // a server that closes at once is gone by now
	nc.CloseWrite()                    // close_notify: a closed socket answers it with a reset
	time.Sleep(100 * time.Millisecond)
	raw.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := raw.Write([]byte{0}); err != nil {
		t.Fatalf("write after close_notify: %v (the server reset the connection)", err)
	}
	raw.(*net.TCPConn).CloseWrite() // FIN
	raw.SetReadDeadline(time.Now().Add(ioWait))
	buf := make([]byte, 512)
	for {
		_, err := raw.Read(buf) // what is left of the server's records, then its FIN
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("after close_notify: %v, want a clean end of stream", err)
		}
	}
}

// A TLSConfig offering h2 (as one copied from a net/http setup does) never negotiates
// it: the server speaks HTTP/1.1 only, so a client that offers h2 gets http/1.1 (it got
// h2 and sent HTTP/2 frames to an HTTP/1.1 server).
func TestTLSNeverNegotiatesH2(t *testing.T) {
	tc := testcert.New(t)
	conf := &tls.Config{Certificates: []tls.Certificate{tc.TLS}, NextProtos: []string{"h2", "http/1.1", "acme-tls/1"}}
	ts := startServer(t, &server.Server{TLSConfig: conf, Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.NegotiatedProtocol)
	}))})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tc.Pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: ioWait}).Get("https://" + ts.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "HTTP/1.1 http/1.1" || resp.ProtoMajor != 1 {
		t.Errorf("%s %q, want HTTP/1.1 over ALPN http/1.1", resp.Proto, b)
	}
	if len(conf.NextProtos) != 3 || conf.NextProtos[0] != "h2" {
		t.Errorf("the caller's config was changed: %v", conf.NextProtos)
	}
}
