package server

import "github.com/hop-http/hop/wire"

// Trailer fields, in both directions: the response trailers a handler sets are sent
// only when they may be trailers, and the request trailers a handler reads never hold
// fields that would change the message's framing or routing if merged into the header.

func sendableTrailer(name, value []byte) bool {
	return wire.IsToken(name) && wire.ValidFieldValue(value) && !forbiddenTrailer(name)
}

// forbiddenTrailer reports fields that must not be sent as trailers (RFC 9110 §6.5.1):
// framing, routing, connection management, authentication, content format and
// response control.
func forbiddenTrailer(name []byte) bool {
	for _, f := range forbiddenTrailers {
		if len(f) == len(name) && wire.EqualFold(name, f) {
			return true
		}
	}
	return false
}

var forbiddenTrailers = [...]string{
	"content-length", "transfer-encoding", "host", "trailer", "te", "connection",
	"keep-alive", "proxy-connection", "upgrade", "content-type", "content-encoding",
	"content-range", "cache-control", "expires", "location", "retry-after", "vary",
	"age", "date", "www-authenticate", "proxy-authenticate", "authorization",
	"proxy-authorization", "set-cookie", "expect", "range",
}

// dropForbiddenTrailers removes the fields that must not be trailers from h.
func dropForbiddenTrailers(h *wire.Header) {
	for i := h.Len() - 1; i >= 0; i-- {
		if name, _ := h.At(i); forbiddenTrailer(name) {
			h.DelAt(i)
		}
	}
}
