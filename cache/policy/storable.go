package policy

import (
	"time"

	"github.com/hop-http/hop/wire"
)

// NotStorable says why a response may not be stored (RFC 9111 §3); the zero value,
// Storable, means it may.
type NotStorable uint8

// Reasons a response is not stored.
const (
	Storable             NotStorable = iota
	ReasonMethod                     // only GET responses are stored
	ReasonStatus                     // not a final status the cache stores (1xx, 206, 304, or unknown with must-understand)
	ReasonRequestNoStore             // the request said no-store
	ReasonNoStore                    // the response said no-store
	ReasonPrivate                    // private, in a shared cache
	ReasonAuthorization              // the request carried Authorization without public, s-maxage or must-revalidate
	ReasonNoFreshness                // nothing makes the response cacheable (no explicit freshness, status not heuristic)
	ReasonVaryStar                   // Vary: * never matches a later request
	ReasonNoUse                      // stale on arrival with no validator and no stale window: storing helps no one
)

var reasonText = [...]string{
	Storable:             "storable",
	ReasonMethod:         "method",
	ReasonStatus:         "status",
	ReasonRequestNoStore: "request no-store",
	ReasonNoStore:        "no-store",
	ReasonPrivate:        "private",
	ReasonAuthorization:  "authorization",
	ReasonNoFreshness:    "no freshness",
	ReasonVaryStar:       "vary *",
	ReasonNoUse:          "no use",
}

func (r NotStorable) String() string { return reasonText[r] }

// CanStore decides whether a shared cache may store the response (status, header h,
// directives d) to a GET-or-not request (method, header reqH, directives rd)
// (RFC 9111 §3 and §3.5).
func CanStore(method []byte, reqH *wire.Header, rd *Request, status int, h *wire.Header, d *Response) NotStorable {
	if string(method) != "GET" {
		return ReasonMethod
	}
	if status < 200 || status == 206 || status == 304 {
		return ReasonStatus
	}
	if d.MustUnderstand {
		if !understoodStatus(status) {
			return ReasonStatus
		}
	} else if d.NoStore {
		return ReasonNoStore
	}
	if rd.NoStore {
		return ReasonRequestNoStore
	}
	if d.Private {
		return ReasonPrivate
	}
	if reqH.Has("Authorization") && !d.Public && !d.MustRevalidate && d.SMaxAge == Absent {
		return ReasonAuthorization
	}
	if VaryStar(h) {
		return ReasonVaryStar
	}
	explicit := d.Public || d.MaxAge != Absent || d.SMaxAge != Absent || d.InvalidFreshness ||
		(!d.Targeted && h.Has("Expires"))
	if !explicit && !heuristicStatus(status) {
		return ReasonNoFreshness
	}
	return Storable
}

// Worthless reports whether a stored response could never be reused: it is stale
// already, has no validator and no stale-while-revalidate or stale-if-error window.
func Worthless(h *wire.Header, d *Response, lifetime, initialAge time.Duration) bool {
	return lifetime <= initialAge && !h.Has("ETag") && !h.Has("Last-Modified") &&
		d.StaleWhileRevalidate <= 0 && d.StaleIfError <= 0
}

// StoredField reports whether the field named name of a response with header h and
// directives d is kept when the response is stored: not hop-by-hop (wire.IsHopByHop,
// and Proxy-Authentication-Info, which describes the proxy connection's
// authentication: RFC 9111 §3.1), not named by Connection, not named by a qualified
// private directive. Age is dropped too: the cache regenerates it.
func StoredField(name []byte, h *wire.Header, d *Response) bool {
	if wire.IsHopByHop(name) || wire.EqualFold(name, "Proxy-Authentication-Info") {
		return false
	}
	if wire.EqualFold(name, "Age") {
		return false
	}
	if d.PrivateFields != nil && ListHas(d.PrivateFields, name) {
		return false
	}
	named := false
	h.Values("Connection", func(v []byte) { named = named || ListHas(v, name) })
	return !named
}
