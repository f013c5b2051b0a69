package fileserver

import (
	"bytes"
	"time"

	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// preconditions evaluates the conditional fields of r against the selected
// representation's entity tag and modification time in the order of RFC 9110 §13.2.2.
// It returns 0 to proceed, 304 (Not Modified) or 412 (Precondition Failed). A zero mod
// means the representation has no modification date, so date conditions are ignored.
// Only GET and HEAD reach it (ServeHOP answers 405 to the rest), so a matching
// If-None-Match is always a 304, never the 412 of other methods.
func preconditions(r *server.Request, etag []byte, mod time.Time) int {
	h := &r.Header
	mod = mod.Truncate(time.Second)
	// Step 1 and 2: If-Match, else If-Unmodified-Since.
	if h.Has("If-Match") {
		if !matchList(h, "If-Match", etag, true) {
			return 412
		}
	} else if v := singleValue(h, "If-Unmodified-Since"); v != nil && !mod.IsZero() {
		if t, ok := httpdate.Parse(v); ok && mod.After(t) {
			return 412
		}
	}
	// Step 3 and 4: If-None-Match, else If-Modified-Since (GET and HEAD only).
	if h.Has("If-None-Match") {
		if matchList(h, "If-None-Match", etag, false) {
			return 304
		}
	} else if !mod.IsZero() {
		if v := singleValue(h, "If-Modified-Since"); v != nil {
			if t, ok := httpdate.Parse(v); ok && !mod.After(t) {
				return 304
			}
		}
	}
	return 0
}

// ifRange reports whether a Range request should be honoured: true without If-Range,
// else only when If-Range names the current representation by strong entity tag or by
// its exact Last-Modified date (RFC 9110 §13.1.5).
func ifRange(r *server.Request, etag []byte, mod time.Time) bool {
	v := singleValue(&r.Header, "If-Range")
	if v == nil {
		return !r.Header.Has("If-Range") // several If-Range fields: ignore the range
	}
	if len(v) > 0 && (v[0] == '"' || bytes.HasPrefix(v, []byte("W/"))) {
		weak, opaque, rest, ok := nextETag(v)
		if !ok || len(wire.TrimOWS(rest)) != 0 {
			return false
		}
		ew, eo, _, _ := nextETag(etag)
		return !weak && !ew && bytes.Equal(opaque, eo)
	}
	t, ok := httpdate.Parse(v)
	return ok && !mod.IsZero() && mod.Truncate(time.Second).Equal(t)
}

// singleValue returns the value of a field that must occur once, or nil when it is
// absent or repeated.
func singleValue(h *wire.Header, name string) []byte {
	i := h.Index(name, 0)
	if i < 0 || h.Index(name, i+1) >= 0 {
		return nil
	}
	_, v := h.At(i)
	return v
}

// matchList reports whether any entity tag listed in the fields named name matches
// etag ("*" matches any current representation). strong selects the strong
// comparison (If-Match), else the weak one (If-None-Match).
func matchList(h *wire.Header, name string, etag []byte, strong bool) bool {
	ew, eo, _, ok := nextETag(etag)
	if !ok {
		return false
	}
	found := false
	h.Values(name, func(v []byte) {
		for !found {
			v = skipListSep(v)
			if len(v) == 0 {
				return
			}
			if v[0] == '*' {
				found = true
				return
			}
			weak, opaque, rest, ok := nextETag(v)
			if !ok {
				return // malformed: stop reading this field
			}
			v = rest
			if strong && (weak || ew) {
				continue
			}
			found = bytes.Equal(opaque, eo)
		}
	})
	return found
}

func skipListSep(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t' || v[0] == ',') {
		v = v[1:]
	}
	return v
}

// nextETag parses one entity-tag at the start of v: [W/] DQUOTE *etagc DQUOTE. It
// returns whether it is weak, the opaque tag with its quotes, and the rest.
func nextETag(v []byte) (weak bool, opaque, rest []byte, ok bool) {
	if len(v) >= 2 && v[0] == 'W' && v[1] == '/' {
		weak, v = true, v[2:]
	}
	if len(v) < 2 || v[0] != '"' {
		return false, nil, nil, false
	}
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c == '"' {
			return weak, v[:i+1], v[i+1:], true
		}
		if c < 0x21 || c == 0x7f { // etagc is %x21 / %x23-7E / obs-text
			return false, nil, nil, false
		}
	}
	return false, nil, nil, false
}
