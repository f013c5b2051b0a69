package server_test

import (
	"testing"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// TestRequestPathQuery: Path and Query for every request-target form.
func TestRequestPathQuery(t *testing.T) {
	tests := []struct {
		method, target string
		path, query    string
		hasQuery       bool
	}{
		{"GET", "/", "/", "", false},
		{"GET", "/a/b", "/a/b", "", false},
		{"GET", "/a/b?x=1&y=2", "/a/b", "x=1&y=2", true},
		{"GET", "/a?", "/a", "", true},
		{"GET", "/a?b?c", "/a", "b?c", true},
		{"GET", "http://example.com/a/b?q=1", "/a/b", "q=1", true},
		{"GET", "http://example.com", "/", "", false},
		{"GET", "http://example.com?q=1", "/", "q=1", true},
		{"GET", "https://user@example.com:8443/x", "/x", "", false},
		{"OPTIONS", "*", "*", "", false},
		{"CONNECT", "example.com:443", "example.com:443", "", false},
	}
	for _, tt := range tests {
		r := &server.Request{Request: wire.Request{Method: []byte(tt.method), Target: []byte(tt.target)}}
		if got := string(r.Path()); got != tt.path {
			t.Errorf("%s %s: Path %q, want %q", tt.method, tt.target, got, tt.path)
		}
		q := r.Query()
		if string(q) != tt.query || (q != nil) != tt.hasQuery {
			t.Errorf("%s %s: Query %q (nil %v), want %q (present %v)", tt.method, tt.target, q, q == nil, tt.query, tt.hasQuery)
		}
	}
}
