package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"
)

func TestCertificateCoversLocalHosts(t *testing.T) {
	cert, err := Certificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", cert.PrivateKey)
	}
	if v := leaf.NotAfter.Sub(time.Now()); v <= 0 || v > DefaultValidity {
		t.Errorf("validity left %v, want within (0, %v]", v, DefaultValidity)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("VerifyHostname(%q): %v", h, err)
		}
	}
	if err := leaf.VerifyHostname("example.com"); err == nil {
		t.Error("certificate unexpectedly valid for example.com")
	}
}

func TestCertificatesDiffer(t *testing.T) {
	a, err := Certificate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if a.Leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) == 0 {
		t.Error("two certificates share a serial number")
	}
}

// TestHandshake trusts the certificate as a root and completes a TLS handshake over
// loopback with it.
func TestHandshake(t *testing.T) {
	cert, err := Certificate()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "ok")
	}()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "ok" {
		t.Fatalf("read %q, %v", b, err)
	}
}

func ExampleCertificate() {
	cert, err := Certificate()
	if err != nil {
		panic(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	_ = conf // pass to server.Server.TLSConfig
}
