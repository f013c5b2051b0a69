package policy

import (
	"github.com/hop-http/hop/wire"
)

// MaxDelta is the largest delta-seconds value the cache represents (RFC 9111 §1.2.2):
// larger values, and calculations that overflow, are taken as 2^31 seconds.
const MaxDelta = 1 << 31

// Absent marks a directive argument that was not present.
const Absent = -1

// Response holds the cache directives of a response (RFC 9111 §5.2.2, RFC 5861),
// read from Cache-Control or, when a valid CDN-Cache-Control is present, from that
// field alone (RFC 9213). Numeric arguments are seconds, [Absent] when missing.
type Response struct {
	MaxAge, SMaxAge                    int64
	StaleWhileRevalidate, StaleIfError int64

	NoStore, NoCache, Private, Public bool
	MustRevalidate, ProxyRevalidate   bool
	MustUnderstand, NoTransform       bool
	Immutable                         bool
	// NoCacheFields and PrivateFields are the field-name lists of the qualified forms
	// no-cache="..." and private="..." (the text inside the quotes), nil otherwise.
	NoCacheFields, PrivateFields []byte
	// InvalidFreshness is set when max-age or s-maxage had an argument that is not
	// delta-seconds: the response is then treated as stale (RFC 9111 §4.2.1).
	InvalidFreshness bool
	// Targeted reports that the directives came from CDN-Cache-Control.
	Targeted bool
}

// Request holds the cache directives of a request (RFC 9111 §5.2.1, RFC 5861 §4).
// Numeric arguments are seconds, [Absent] when missing; a max-stale without argument
// is [MaxDelta].
type Request struct {
	MaxAge, MaxStale, MinFresh, StaleIfError int64

	NoCache, NoStore, OnlyIfCached bool
}

// TargetedField is the CDN-Cache-Control field (RFC 9213), which hop's cache, acting
// for a CDN, obeys instead of Cache-Control and Expires.
const TargetedField = "CDN-Cache-Control"

// ParseResponse reads the response directives of h: from CDN-Cache-Control when it is
// present and a valid Structured Field dictionary (RFC 9213 §2.1: an invalid one is
// ignored), else from Cache-Control. A directive repeated in Cache-Control keeps its
// first occurrence (hop's choice); a key repeated in CDN-Cache-Control takes its last
// value, as in any Structured Field dictionary (RFC 8941 §3.2).
func ParseResponse(h *wire.Header) Response {
	d := Response{MaxAge: Absent, SMaxAge: Absent, StaleWhileRevalidate: Absent, StaleIfError: Absent}
	if h.Has(TargetedField) && parseTargeted(h, &d) {
		d.Targeted = true
		return d
	}
	d = Response{MaxAge: Absent, SMaxAge: Absent, StaleWhileRevalidate: Absent, StaleIfError: Absent}
	forEachDirective(h, "Cache-Control", func(name, arg []byte, hasArg, quoted bool) {
		d.set(name, arg, hasArg, quoted)
	})
	return d
}

// set applies one directive; name is compared case-insensitively.
func (d *Response) set(name, arg []byte, hasArg, quoted bool) {
	seconds := func(v *int64, freshness bool) {
		if *v != Absent {
			return // first occurrence wins
		}
		n, ok := deltaSeconds(arg, hasArg)
		if !ok {
			if freshness {
				d.InvalidFreshness = true
			}
			return
		}
		*v = n
	}
	switch {
	case wire.EqualFold(name, "max-age"):
		seconds(&d.MaxAge, true)
	case wire.EqualFold(name, "s-maxage"):
		seconds(&d.SMaxAge, true)
	case wire.EqualFold(name, "stale-while-revalidate"):
		seconds(&d.StaleWhileRevalidate, false)
	case wire.EqualFold(name, "stale-if-error"):
		seconds(&d.StaleIfError, false)
	case wire.EqualFold(name, "no-store"):
		d.NoStore = true
	case wire.EqualFold(name, "no-cache"):
		if hasArg && quoted && len(trimList(arg)) > 0 {
			if !d.NoCache && d.NoCacheFields == nil {
				d.NoCacheFields = arg
			}
		} else {
			d.NoCache, d.NoCacheFields = true, nil
		}
	case wire.EqualFold(name, "private"):
		if hasArg && quoted && len(trimList(arg)) > 0 {
			if !d.Private && d.PrivateFields == nil {
				d.PrivateFields = arg
			}
		} else {
			d.Private, d.PrivateFields = true, nil
		}
	case wire.EqualFold(name, "public"):
		d.Public = true
	case wire.EqualFold(name, "must-revalidate"):
		d.MustRevalidate = true
	case wire.EqualFold(name, "proxy-revalidate"):
		d.ProxyRevalidate = true
	case wire.EqualFold(name, "must-understand"):
		d.MustUnderstand = true
	case wire.EqualFold(name, "no-transform"):
		d.NoTransform = true
	case wire.EqualFold(name, "immutable"):
		d.Immutable = true
	}
}

// ParseRequest reads the request directives of h from Cache-Control; a request
// without Cache-Control but with Pragma: no-cache is taken as no-cache (RFC 9111
// §5.4).
func ParseRequest(h *wire.Header) Request {
	d := Request{MaxAge: Absent, MaxStale: Absent, MinFresh: Absent, StaleIfError: Absent}
	if !h.Has("Cache-Control") {
		d.NoCache = h.HasToken("Pragma", "no-cache")
		return d
	}
	forEachDirective(h, "Cache-Control", func(name, arg []byte, hasArg, _ bool) {
		seconds := func(v *int64) {
			if *v == Absent {
				if n, ok := deltaSeconds(arg, hasArg); ok {
					*v = n
				}
			}
		}
		switch {
		case wire.EqualFold(name, "max-age"):
			seconds(&d.MaxAge)
		case wire.EqualFold(name, "max-stale"):
			if !hasArg {
				d.MaxStale = MaxDelta
			} else {
				seconds(&d.MaxStale)
			}
		case wire.EqualFold(name, "min-fresh"):
			seconds(&d.MinFresh)
		case wire.EqualFold(name, "stale-if-error"):
			seconds(&d.StaleIfError)
		case wire.EqualFold(name, "no-cache"):
			d.NoCache = true
		case wire.EqualFold(name, "no-store"):
			d.NoStore = true
		case wire.EqualFold(name, "only-if-cached"):
			d.OnlyIfCached = true
		}
	})
	return d
}

// forEachDirective calls fn for every directive in the fields named field, in order:
// its name, its argument (without the quotes when quoted) and whether it had one.
// List elements come from wire.ForEachToken; an element that opens a quoted string
// is joined with the following ones until the string closes, so that commas inside
// quotes (no-cache="A, B") do not split a directive. Elements without a valid token
// name are skipped.
func forEachDirective(h *wire.Header, field string, fn func(name, arg []byte, hasArg, quoted bool)) {
	h.Values(field, func(v []byte) {
		start := -1 // offset in v of an element whose quoted string is still open
		wire.ForEachToken(v, func(e []byte) bool {
			off := cap(v) - cap(e) // e is a sub-slice of v
			if start >= 0 {
				e = v[start : off+len(e)]
			}
			if quoteOpen(e) {
				if start < 0 {
					start = off
				}
				return true
			}
			start = -1
			directive(e, fn)
			return true
		})
	})
}

// directive splits one element name[=arg] and calls fn for it.
func directive(e []byte, fn func(name, arg []byte, hasArg, quoted bool)) {
	name, arg, hasArg := e, []byte(nil), false
	for i, c := range e {
		if c == '=' {
			name, arg, hasArg = e[:i], e[i+1:], true
			break
		}
	}
	if !wire.IsToken(name) {
		return
	}
	quoted := false
	if hasArg && len(arg) > 0 && arg[0] == '"' {
		if len(arg) < 2 || arg[len(arg)-1] != '"' {
			return
		}
		arg, quoted = arg[1:len(arg)-1], true
	}
	fn(name, arg, hasArg, quoted)
}

// quoteOpen reports whether b ends inside a quoted string (quoted-pair escapes
// honoured).
func quoteOpen(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case in && b[i] == '\\':
			i++
		case b[i] == '"':
			in = !in
		}
	}
	return in
}

// deltaSeconds parses a delta-seconds argument: 1*DIGIT (wire.ParseDigits, which
// saturates), clamped to MaxDelta.
func deltaSeconds(arg []byte, hasArg bool) (int64, bool) {
	if !hasArg {
		return 0, false
	}
	n, ok := wire.ParseDigits(arg)
	return min(n, MaxDelta), ok
}

// trimList reports the non-empty part of a field-name list.
func trimList(b []byte) []byte {
	var out []byte
	wire.ForEachToken(b, func(t []byte) bool {
		out = t
		return false
	})
	return out
}

// ListHas reports whether the comma-separated field-name list names name
// (case-insensitively), as for no-cache="Set-Cookie" or Vary.
func ListHas(list []byte, name []byte) bool {
	found := false
	wire.ForEachToken(list, func(t []byte) bool {
		found = wire.EqualFold(t, name)
		return !found
	})
	return found
}
