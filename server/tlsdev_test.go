package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedTLSConfigServesHTTP11(t *testing.T) {
	conf, err := SelfSignedTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{TLSConfig: conf, Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.WriteString(r.TLS().NegotiatedProtocol)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(b), "http/1.1") {
		t.Fatalf("response %q", b)
	}
	if got := c.ConnectionState().PeerCertificates[0].DNSNames; len(got) == 0 || got[0] != "localhost" {
		t.Fatalf("certificate names %v", got)
	}
}
