package loadgen

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/hop-http/hop/internal/testcert"

	"github.com/hop-http/hop/server"
)

func TestTLS(t *testing.T) {
	tc := testcert.New(t)
	cert, pool := tc.TLS, tc.Pool
	url := startServer(t, hello, func(s *server.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	url = strings.Replace(url, "http://", "https://", 1)
	tests := []struct {
		name string
		cfg  Config
		want func(r *Result) bool
	}{
		{"keep-alive", Config{Connections: 2, Requests: 100, TLSConfig: &tls.Config{RootCAs: pool}},
			func(r *Result) bool { return r.Requests == 100 && r.Errors.Total() == 0 && r.ConnectionsOpened == 2 }},
		{"pipelined", Config{Connections: 2, Pipeline: 8, Requests: 100, TLSConfig: &tls.Config{RootCAs: pool}},
			func(r *Result) bool { return r.Requests == 100 && r.Errors.Total() == 0 }},
		{"close", Config{Connections: 2, Close: true, Requests: 20, TLSConfig: &tls.Config{RootCAs: pool}},
			func(r *Result) bool { return r.Requests == 20 && r.Errors.Total() == 0 && r.ConnectionsOpened >= 20 }},
		{"untrusted", Config{Connections: 1, Requests: 3},
			func(r *Result) bool { return r.Requests == 0 && r.Errors.Connect == 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.URL = url
			if res := run(t, cfg); !tt.want(res) {
				t.Errorf("requests %d, errors %+v, opened %d", res.Requests, res.Errors, res.ConnectionsOpened)
			}
		})
	}
}
