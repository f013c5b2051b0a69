// Package testcert owns the TLS certificates of hop's tests: one self-signed
// certificate (from internal/selfsigned) per test binary and set of hosts, with the
// pool that trusts it and its PEM encoding. It is imported only by _test files.
package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/selfsigned"
)

// Cert is a certificate with what clients and external programs need to trust it.
type Cert struct {
	TLS     tls.Certificate
	Pool    *x509.CertPool // trusts TLS
	CertPEM []byte         // for nginx and --cacert
	KeyPEM  []byte
}

var (
	mu    sync.Mutex
	cache = map[string]*Cert{}
)

// New returns the certificate for hosts (default: localhost, 127.0.0.1, ::1), made once
// per test binary.
func New(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	if len(hosts) == 0 {
		hosts = selfsigned.Hosts
	}
	key := strings.Join(hosts, ",")
	mu.Lock()
	defer mu.Unlock()
	if c := cache[key]; c != nil {
		return c
	}
	cert, err := selfsigned.CertificateFor(hosts, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := selfsigned.Pool(cert)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := selfsigned.PEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cert{TLS: cert, Pool: pool, CertPEM: certPEM, KeyPEM: keyPEM}
	cache[key] = c
	return c
}
