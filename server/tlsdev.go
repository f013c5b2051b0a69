package server

import (
	"crypto/tls"

	"github.com/hop-http/hop/internal/selfsigned"
)

// SelfSignedTLSConfig returns a TLS configuration for development: a fresh ECDSA
// P-256 certificate for localhost, 127.0.0.1 and ::1 that nobody trusts, and ALPN
// http/1.1. Clients must skip verification (curl -k) or trust the certificate
// explicitly. Never use it in production.
func SelfSignedTLSConfig() (*tls.Config, error) {
	cert, err := selfsigned.Certificate()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}, nil
}
