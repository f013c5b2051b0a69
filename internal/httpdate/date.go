// Package httpdate owns the HTTP-date format (RFC 9110 §5.6.7): the cached IMF-fixdate
// used in Date fields, formatted at most once per second and read without locks or
// allocation; formatting any time; and parsing the three formats a recipient accepts.
package httpdate

import (
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/internal/clock"
)

type stamp struct {
	unix int64
	b    []byte
}

var cur atomic.Pointer[stamp]

// Now returns the current time as an HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT"). The
// returned slice must not be modified; it stays valid forever.
func Now() []byte {
	now := clock.Now()
	s := cur.Load()
	if s != nil && s.unix == now.Unix() {
		return s.b
	}
	ns := &stamp{unix: now.Unix(), b: Append(make([]byte, 0, 29), now)}
	cur.Store(ns)
	return ns.b
}

// Append appends t formatted as an IMF-fixdate, the HTTP-date senders generate.
func Append(dst []byte, t time.Time) []byte {
	dst = t.UTC().AppendFormat(dst, time.RFC1123)
	// RFC1123 prints "UTC"; HTTP requires "GMT".
	copy(dst[len(dst)-3:], "GMT")
	return dst
}

// Layouts of the three HTTP-date formats, in the order Parse tries them.
const (
	imfFixdate  = "Mon, 02 Jan 2006 15:04:05 GMT"  // the preferred format
	rfc850Date  = "Monday, 02-Jan-06 15:04:05 GMT" // obsolete RFC 850
	asctimeDate = "Mon Jan _2 15:04:05 2006"       // obsolete ANSI C asctime()
)

// Parse parses an HTTP-date in any of the three formats a recipient must accept
// (RFC 9110 §5.6.7). ok is false when v is none of them. The shape of each format is
// checked first (fixed widths, single spaces, two-digit hours), since time.Parse
// alone would take "2:01:18" or doubled spaces.
func Parse(v []byte) (t time.Time, ok bool) {
	s := string(v)
	for _, layout := range [...]string{imfFixdate, rfc850Date, asctimeDate} {
		if !shaped(v, layout) {
			continue
		}
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// shaped reports whether v has the fixed layout of format: the same length (the
// weekday of RFC 850 aside) and digits, spaces and punctuation in the same places.
func shaped(v []byte, layout string) bool {
	if layout == rfc850Date {
		// Weekday is variable: check from the comma on against ", 02-Jan-06 15:04:05 GMT".
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		v, layout = v[i:], layout[len("Monday"):]
	}
	if len(v) != len(layout) {
		return false
	}
	for i := 0; i < len(v); i++ {
		l, c := layout[i], v[i]
		switch {
		case l >= '0' && l <= '9':
			if c < '0' || c > '9' {
				return false
			}
		case l == '_': // asctime's space-padded day
			if c != ' ' && !(c >= '0' && c <= '9') {
				return false
			}
		case l == ' ' || l == ',' || l == ':' || l == '-':
			if c != l {
				return false
			}
		}
	}
	return true
}
