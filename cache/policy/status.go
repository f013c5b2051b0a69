package policy

import (
	"strconv"
	"time"
)

// Fwd is the fwd parameter of Cache-Status (RFC 9211 §2.2): why the request went
// forward. FwdNone means it did not (a hit).
type Fwd uint8

// Forward reasons.
const (
	FwdNone     Fwd = iota
	FwdBypass       // the cache was configured not to handle the request, or it cannot (If-Match …)
	FwdMethod       // the method is not cacheable
	FwdURIMiss      // nothing stored for the URI
	FwdVaryMiss     // something stored for the URI, but no variant matches
	FwdMiss         // a stored response was unusable (e.g. refused by a qualified no-cache)
	FwdRequest      // the request's directives (no-cache, max-age …) required it
	FwdStale        // the stored response was stale and was validated
)

var fwdText = [...]string{"", "bypass", "method", "uri-miss", "vary-miss", "miss", "request", "stale"}

func (f Fwd) String() string { return fwdText[f] }

// CacheStatus is one member of a Cache-Status field (RFC 9211).
type CacheStatus struct {
	Hit       bool          // served from the cache without going forward
	Fwd       Fwd           // why it went forward (with FwdStatus, the status received)
	FwdStatus int           // status of the forwarded response, 0 when not sent
	Stored    bool          // the response was stored
	Collapsed bool          // the request was collapsed into another one to the origin
	TTL       time.Duration // freshness left; negative when served stale
	HasTTL    bool
	Detail    string // extra token, e.g. "stale-if-error", "only-if-cached"
}

// AppendCacheStatus appends the list member for cache name, e.g.
// `hop; hit; ttl=376` or `hop; fwd=uri-miss; fwd-status=200; stored; ttl=60`.
// TTL is rounded down to whole seconds.
func AppendCacheStatus(dst []byte, name string, s *CacheStatus) []byte {
	dst = append(dst, name...)
	if s.Hit {
		dst = append(dst, "; hit"...)
	}
	if s.Fwd != FwdNone {
		dst = append(dst, "; fwd="...)
		dst = append(dst, s.Fwd.String()...)
		if s.FwdStatus > 0 {
			dst = append(dst, "; fwd-status="...)
			dst = strconv.AppendInt(dst, int64(s.FwdStatus), 10)
		}
	}
	if s.Stored {
		dst = append(dst, "; stored"...)
	}
	if s.Collapsed {
		dst = append(dst, "; collapsed"...)
	}
	if s.HasTTL {
		dst = append(dst, "; ttl="...)
		dst = strconv.AppendInt(dst, int64(s.TTL/time.Second), 10)
	}
	if s.Detail != "" {
		dst = append(dst, "; detail="...)
		dst = append(dst, s.Detail...)
	}
	return dst
}
