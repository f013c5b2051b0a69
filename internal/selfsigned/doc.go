// Package selfsigned makes throw-away TLS certificates for local development: an
// ECDSA P-256 key and a self-signed certificate for localhost, 127.0.0.1 and ::1 that
// lives only in memory. It backs `hop serve --tls-self-signed`. The certificate signs
// itself and nothing else; it is meant to be trusted explicitly (curl -k, a test's own
// pool), never installed.
package selfsigned
