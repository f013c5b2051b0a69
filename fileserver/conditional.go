package fileserver

import (
	"time"

	"github.com/hop-http/hop/internal/httpcond"
	"github.com/hop-http/hop/server"
)

// preconditions evaluates the conditional fields of r against the selected
// representation (package httpcond, RFC 9110 §13.2.2): 0 to proceed, 304 or 412.
// Only GET and HEAD reach it (ServeHOP answers 405 to the rest).
func preconditions(r *server.Request, etag []byte, mod time.Time) int {
	return httpcond.Preconditions(&r.Header, etag, mod)
}

// ifRange reports whether a Range request should be honoured (RFC 9110 §13.1.5).
func ifRange(r *server.Request, etag []byte, mod time.Time) bool {
	return httpcond.IfRange(&r.Header, etag, mod)
}
