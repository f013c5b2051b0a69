package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testcert"

	"github.com/hop-http/hop/server"
)

// startHopTLS serves h over TLS and records the SNI and ALPN offers it receives.
func startHopTLS(t *testing.T, h server.HandlerFunc) (string, func() []string) {
	tc := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1")
	var mu sync.Mutex
	var hellos, states []string
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("server connection states: %q", states)
			mu.Unlock()
		}
	})
	url := startHop(t, h, func(s *server.Server) {
		s.ConnState = func(info server.ConnInfo, st server.ConnState) {
			mu.Lock()
			states = append(states, fmt.Sprintf("%s %v %v", time.Now().Format("15:04:05.000000"), st, info.Remote))
			mu.Unlock()
		}
		s.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{tc.TLS},
			GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
				mu.Lock()
				hellos = append(hellos, hi.ServerName+" "+strings.Join(hi.SupportedProtos, ","))
				mu.Unlock()
				return nil, nil
			},
		}
	})
	return url, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), hellos...)
	}
}

func TestTLS(t *testing.T) {
	url, hellos := startHopTLS(t, echoConn)
	tc := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1")
	port := url[strings.LastIndexByte(url, ':')+1:]
	named := "https://hop.test:" + port
	override := map[string][]netip.Addr{"hop.test:" + port: {netip.MustParseAddr("127.0.0.1")}}

	t.Run("verified with given roots, SNI and ALPN", func(t *testing.T) {
		var states []string
		cl := newClient(t, &Client{TLSConfig: &tls.Config{RootCAs: tc.Pool}, Resolve: override,
			Trace: &Trace{TLSDone: func(s *tls.ConnectionState, err error) {
				if err == nil {
					states = append(states, tls.VersionName(s.Version)+" "+s.NegotiatedProtocol)
				}
			}}})
		r := get(t, cl, named+"/x")
		if r.Status != 200 || r.TLS == nil || r.TLS.NegotiatedProtocol != "http/1.1" {
			t.Fatalf("status %d TLS %+v", r.Status, r.TLS)
		}
		if r2 := get(t, cl, named+"/y"); !r2.Reused {
			t.Error("TLS connection not reused")
		}
		if fmt.Sprint(states) != "[TLS 1.3 http/1.1]" {
			t.Errorf("handshakes %v", states)
		}
		h := hellos()
		if len(h) == 0 || h[len(h)-1] != "hop.test http/1.1" {
			t.Errorf("server saw hellos %q, want SNI hop.test and ALPN http/1.1", h)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		cl := newClient(t, &Client{Resolve: override})
		var req Request
		req.SetURL(named + "/")
		var resp Response
		err := cl.Do(&req, &resp)
		var e *Error
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &e) || e.Op != "tls" || !errors.As(err, &ua) {
			t.Fatalf("err = %v, want a TLS verification error", err)
		}
	})
	t.Run("wrong name", func(t *testing.T) {
		other := "https://other.test:" + port
		cl := newClient(t, &Client{TLSConfig: &tls.Config{RootCAs: tc.Pool},
			Resolve: map[string][]netip.Addr{"other.test:" + port: {netip.MustParseAddr("127.0.0.1")}}})
		var req Request
		req.SetURL(other + "/")
		var resp Response
		var he x509.HostnameError
		if err := cl.Do(&req, &resp); !errors.As(err, &he) {
			t.Fatalf("err = %v, want a hostname error", err)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		cl := newClient(t, &Client{InsecureSkipVerify: true, Resolve: override})
		if r := get(t, cl, named+"/"); r.Status != 200 {
			t.Fatal(r.Status)
		}
	})
	t.Run("IP address: no SNI, verified against the IP SAN", func(t *testing.T) {
		cl := newClient(t, &Client{TLSConfig: &tls.Config{RootCAs: tc.Pool}})
		if r := get(t, cl, url+"/"); r.Status != 200 {
			t.Fatal(r.Status)
		}
		h := hellos()
		if h[len(h)-1] != " http/1.1" {
			t.Errorf("hello %q: an IP address must not be sent as SNI", h[len(h)-1])
		}
	})
	t.Run("session resumption", func(t *testing.T) {
		var resumed []bool
		cl := newClient(t, &Client{TLSConfig: &tls.Config{RootCAs: tc.Pool}, Resolve: override,
			Trace: &Trace{TLSDone: func(s *tls.ConnectionState, err error) {
				if err == nil {
					resumed = append(resumed, s.DidResume)
				}
			}}})
		for i := 0; i < 3; i++ {
			var req Request
			req.SetURL(named + "/")
			req.Close = true // a new connection, and so a new handshake, each time
			var resp Response
			if err := cl.Do(&req, &resp); err != nil {
				t.Fatal(err)
			}
		}
		if fmt.Sprint(resumed) != "[false true true]" {
			t.Errorf("resumed %v, want [false true true]", resumed)
		}
		cl2 := newClient(t, &Client{TLSConfig: &tls.Config{RootCAs: tc.Pool}, Resolve: override,
			DisableTLSResumption: true})
		for i := 0; i < 2; i++ {
			var req Request
			req.SetURL(named + "/")
			req.Close = true
			var resp Response
			if err := cl2.Do(&req, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.TLS.DidResume {
				t.Error("resumed with DisableTLSResumption")
			}
		}
	})
}

// A TLS server that closes an idle connection sends close_notify and FIN: the client
// notices before reuse.
func TestTLSLiveness(t *testing.T) {
	tc := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tc.TLS}})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rr := &reqReader{c: c}
				if _, err := rr.next(nil); err != nil {
					return
				}
				c.Write([]byte(okResponse("x")))
				time.Sleep(20 * time.Millisecond)
				c.Close()
				closed <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	url := "https://" + ln.Addr().String()
	var retries int
	cl := newClient(t, &Client{TLSConfig: &tls.Config{RootCAs: tc.Pool}, LivenessCheckMinIdle: -1,
		Trace: &Trace{Retry: func(int, error) { retries++ }}})
	get(t, cl, url+"/")
	<-closed
	waitIdleClosed(t, cl)
	if r := get(t, cl, url+"/"); r.Reused || retries != 0 {
		t.Errorf("reused=%v retries=%d: the closed TLS connection was not noticed", r.Reused, retries)
	}
}
