// Package neterr owns how hop classifies network errors that several packages
// (client, resolve, proxy) must agree on: whether an error means a timeout.
package neterr

import (
	"context"
	"errors"
	"os"
)

// IsTimeout reports whether err is, or wraps, a timeout: a deadline on a connection
// (os.ErrDeadlineExceeded), a context's deadline (context.DeadlineExceeded), or any
// error whose Timeout method says so (net.Error, the resolver's and client's errors).
func IsTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
