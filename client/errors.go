package client

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hop-http/hop/internal/neterr"
	"github.com/hop-http/hop/resolve"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrNoResponse: the connection was closed or reset before any byte of the
	// response arrived. On a reused connection an idempotent request is retried; a
	// POST or PATCH without Idempotency-Key is not, and the caller gets this error.
	ErrNoResponse = errors.New("connection closed before any response byte")
	// ErrTruncated: the connection ended before the end of the response body.
	ErrTruncated = fmt.Errorf("hop/client: truncated response body: %w", io.ErrUnexpectedEOF)
	// ErrBodyTooLarge: a response body exceeded Client.MaxResponseBody in Do.
	ErrBodyTooLarge = errors.New("hop/client: response body larger than MaxResponseBody")
	// ErrPoolTimeout: no connection to the origin became available within
	// Client.PoolWaitTimeout.
	ErrPoolTimeout = errors.New("hop/client: timed out waiting for a connection (per-host limit reached)")
	// ErrPoolFull: the per-host limit was reached and the wait queue is full.
	ErrPoolFull = errors.New("hop/client: per-host connection limit reached and wait queue full")
	// ErrClientClosed: the Client was closed.
	ErrClientClosed = errors.New("hop/client: client closed")
	// ErrTooManyRedirects: more than Client.MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("hop/client: too many redirects")
	// ErrNotIdempotent: a pipeline was given a request that is not idempotent.
	ErrNotIdempotent = errors.New("hop/client: only idempotent requests may be pipelined")
	// ErrBodyLength: a streamed request body ended before its declared length.
	ErrBodyLength = errors.New("hop/client: request body shorter than its declared length")
	// ErrUnrequestedUpgrade: the server switched protocols (101) although the request
	// did not ask to (it had no Upgrade field, or was pipelined).
	ErrUnrequestedUpgrade = errors.New("hop/client: server switched protocols (101) without being asked to")
	// ErrProxyAuthRequired: a proxy answered 407 Proxy Authentication Required to a
	// CONNECT, after the credentials of the proxy URL (if any) were tried. The error is
	// a *ProxyError holding the proxy's challenges.
	ErrProxyAuthRequired = errors.New("hop/client: proxy authentication required")
	// ErrBadALPN: the TLS server chose an application protocol other than http/1.1.
	ErrBadALPN = errors.New("hop/client: server negotiated an ALPN protocol other than http/1.1")
	// ErrHTTP10Chunked: a body of unknown length cannot be sent in an HTTP/1.0 request.
	ErrHTTP10Chunked = errors.New("hop/client: HTTP/1.0 request body needs a known length")
)

// Error is the error of a failed request: what was being done, on which connection,
// and the cause.
type Error struct {
	Method string // request method
	URL    string // request URL, password redacted
	// Op is the phase that failed: "resolve", "connect", "proxy", "tls",
	// "write request", "read response", "read body", "pool".
	Op string
	// ConnID is the connection's number (0 when no connection was made).
	ConnID uint64
	// Reused reports that the connection had carried earlier requests.
	Reused bool
	// NoResponse reports that the connection failed before any response byte; such
	// an error matches ErrNoResponse.
	NoResponse bool
	// Note explains a decision, such as why the request was not retried.
	Note string
	Err  error // the cause
}

// Error describes the failure in one line.
func (e *Error) Error() string {
	s := "hop/client: " + e.Method + " " + e.URL
	var re *resolve.Error
	if e.Op != "resolve" || !errors.As(e.Err, &re) {
		s += ": " + e.Op // (a resolve.Error says "resolve NAME" itself)
	}
	if e.ConnID != 0 {
		if e.Reused {
			s += " on reused conn #"
		} else {
			s += " on conn #"
		}
		s += strconv.FormatUint(e.ConnID, 10)
	}
	if e.NoResponse {
		s += ": " + ErrNoResponse.Error()
	}
	if e.Note != "" {
		s += " (" + e.Note + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoResponse) true for NoResponse errors.
func (e *Error) Is(target error) bool { return target == ErrNoResponse && e.NoResponse }

// Timeout reports whether the cause is a timeout.
func (e *Error) Timeout() bool { return neterr.IsTimeout(e.Err) }

// ProxyError is the error of a CONNECT tunnel that a proxy refused: its status and,
// for 407 Proxy Authentication Required, its challenges. A 407 matches
// ErrProxyAuthRequired.
type ProxyError struct {
	Proxy  string // the proxy URL, password redacted
	Target string // the tunnel's "host:port"
	Status int    // the proxy's status code
	Reason string // its reason phrase
	// Authenticate holds the values of the Proxy-Authenticate fields: the schemes the
	// proxy accepts, with their realms.
	Authenticate []string
}

// Error says which proxy refused which tunnel, and how.
func (e *ProxyError) Error() string {
	s := "proxy " + e.Proxy + " refused CONNECT " + e.Target + ": " + strconv.Itoa(e.Status) + " " + e.Reason
	if len(e.Authenticate) > 0 {
		s += " (Proxy-Authenticate: " + strings.Join(e.Authenticate, ", ") + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrProxyAuthRequired) true for a 407.
func (e *ProxyError) Is(target error) bool { return target == ErrProxyAuthRequired && e.Status == 407 }

// DialError is the error of a [Dialer]: the phase that failed ("resolve", "connect"
// or "tls"), the address being dialed and the cause.
type DialError struct {
	Op      string // "resolve", "connect" or "tls"
	Address string // "host:port"
	Err     error  // the cause; a *resolve.Error when name resolution failed
}

// Error describes the failure in one line.
func (e *DialError) Error() string {
	var re *resolve.Error
	if errors.As(e.Err, &re) {
		return e.Err.Error() // "resolve NAME: cause" names the phase and the host
	}
	return e.Op + " " + e.Address + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the cause is a timeout.
func (e *DialError) Timeout() bool { return neterr.IsTimeout(e.Err) }

// connErr is the internal error of a failed exchange, before it is described.
type connErr struct {
	op         string
	noResponse bool // no byte of the response arrived (and the request may be re-sent)
	err        error
}

func (e *connErr) Error() string { return e.op + ": " + e.err.Error() }
func (e *connErr) Unwrap() error { return e.err }
