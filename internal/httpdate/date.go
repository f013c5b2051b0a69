// Package httpdate owns the cached IMF-fixdate used in Date fields: it is formatted at
// most once per second and read without locks or allocation.
package httpdate

import (
	"github.com/hop-http/hop/internal/clock"
	"sync/atomic"
	"time"
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
	ns := &stamp{unix: now.Unix(), b: now.UTC().AppendFormat(make([]byte, 0, 29), time.RFC1123)}
	// RFC1123 prints "UTC"; HTTP requires "GMT".
	copy(ns.b[len(ns.b)-3:], "GMT")
	cur.Store(ns)
	return ns.b
}

// Append appends t formatted as an HTTP-date.
func Append(dst []byte, t time.Time) []byte {
	dst = t.UTC().AppendFormat(dst, time.RFC1123)
	copy(dst[len(dst)-3:], "GMT")
	return dst
}
