package policy

import (
	"bytes"

	"github.com/hop-http/hop/internal/httpcond"
	"github.com/hop-http/hop/wire"
)

// conditionalFields are the precondition fields of a client request that the cache
// replaces with its own when it validates a stored response.
var conditionalFields = [...]string{"If-None-Match", "If-Modified-Since"}

// SetValidators makes out, the header of a request being forwarded, conditional on
// the validators of the stored response header stored (RFC 9111 §4.3.1): the
// client's If-None-Match and If-Modified-Since are replaced by If-None-Match with the
// stored ETag and If-Modified-Since with the stored Last-Modified. It reports whether
// the request became conditional.
func SetValidators(out *wire.Header, stored *wire.Header) bool {
	for _, n := range conditionalFields {
		out.Del(n)
	}
	etag, lm := stored.Get("ETag"), stored.Get("Last-Modified")
	if etag != nil {
		wire.Add(out, "If-None-Match", etag)
	}
	if lm != nil {
		wire.Add(out, "If-Modified-Since", lm)
	}
	return etag != nil || lm != nil
}

// Bypass reports whether a request must go to the origin whatever the cache holds:
// preconditions the cache does not evaluate (If-Match, If-Unmodified-Since; RFC 9110
// §13.2.1 leaves them to the origin).
func Bypass(reqH *wire.Header) bool {
	return reqH.Has("If-Match") || reqH.Has("If-Unmodified-Since")
}

// Matches304 reports whether a 304 answer with header nm selects the stored response
// with header stored (RFC 9111 §4.3.4): by a matching ETag (weak comparison: the cache
// sent the tag itself), else by an equal Last-Modified, else — when the 304 carries
// neither — the one response the cache asked about.
func Matches304(nm, stored *wire.Header) bool {
	if e := nm.Get("ETag"); e != nil {
		s := stored.Get("ETag")
		_, eo, _, ok1 := httpcond.NextETag(e)
		_, so, _, ok2 := httpcond.NextETag(s)
		return ok1 && ok2 && bytes.Equal(eo, so)
	}
	if lm := nm.Get("Last-Modified"); lm != nil {
		return bytes.Equal(lm, stored.Get("Last-Modified"))
	}
	return true
}

// MatchesHEAD reports whether a 200 answer with header h to a HEAD request may
// freshen the stored GET response with header stored and a body of storedSize bytes
// (RFC 9111 §4.3.5): every validator h carries (ETag, Last-Modified) has the stored
// value, and so has Content-Length when h carries one. Otherwise the stored response
// is to be considered stale.
func MatchesHEAD(h, stored *wire.Header, storedSize int64) bool {
	if e := h.Get("ETag"); e != nil {
		weak1, eo, _, ok1 := httpcond.NextETag(e)
		weak2, so, _, ok2 := httpcond.NextETag(stored.Get("ETag"))
		if !ok1 || !ok2 || weak1 != weak2 || !bytes.Equal(eo, so) {
			return false
		}
	}
	if lm := h.Get("Last-Modified"); lm != nil && !bytes.Equal(lm, stored.Get("Last-Modified")) {
		return false
	}
	if v := h.Get("Content-Length"); v != nil {
		if n, ok := wire.ParseContentLength(v); !ok || n != storedSize {
			return false
		}
	}
	return true
}

// Freshen writes into dst the stored response header stored updated by the header
// nm of a 304 (or of a HEAD response; RFC 9111 §3.2, §4.3.4, §4.3.5): every field
// nm carries replaces the stored fields of that name, except the fields a cache
// never stores and Content-Length; the stored order is kept, new fields follow.
// d are nm's directives, for the fields that private="..." keeps out of storage.
func Freshen(dst, stored, nm *wire.Header, d *Response) {
	dst.Reset()
	for i := 0; i < stored.Len(); i++ {
		name, value := stored.At(i)
		if updatable(name, nm, d) && nm.Index(string(name), 0) >= 0 {
			continue
		}
		wire.Add(dst, name, value)
	}
	for i := 0; i < nm.Len(); i++ {
		name, value := nm.At(i)
		if updatable(name, nm, d) {
			wire.Add(dst, name, value)
		}
	}
}

// updatable reports whether a field of a 304 may update the stored response.
func updatable(name []byte, nm *wire.Header, d *Response) bool {
	return StoredField(name, nm, d) && !wire.EqualFold(name, "Content-Length")
}

// Invalidates reports whether a response with status to a request with method
// invalidates stored responses for its target (RFC 9111 §4.4): an unsafe method
// answered with a non-error status.
func Invalidates(method []byte, status int) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return false
	}
	return status >= 200 && status < 400
}
