package wire

import "errors"

// Error is a protocol error found while parsing. Status is the response status code a
// server answers with (400, 413, 414, 417, 431, 501 or 505); a client treats any *Error
// as a malformed response.
type Error struct {
	Status int    // HTTP status code to answer with
	Reason string // short, stable description
}

func (e *Error) Error() string { return "hop/wire: " + e.Reason }

// ErrNeedMore is returned when the input ends inside a message element; the caller
// supplies more bytes (the same prefix plus what arrived) and calls again.
var ErrNeedMore = errors.New("hop/wire: need more input")

func protoErr(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

// Parse errors. Each is a distinct value so tests and logs can tell them apart.
var (
	ErrBareLF               = protoErr(400, "bare LF line ending")
	ErrObsFold              = protoErr(400, "obsolete line folding")
	ErrSpaceBeforeColon     = protoErr(400, "whitespace between field name and colon")
	ErrInvalidFieldName     = protoErr(400, "invalid character in field name")
	ErrInvalidFieldValue    = protoErr(400, "invalid character in field value")
	ErrMissingColon         = protoErr(400, "field line without colon")
	ErrInvalidMethod        = protoErr(400, "invalid method")
	ErrMethodTooLong        = protoErr(400, "method too long")
	ErrInvalidTarget        = protoErr(400, "invalid request target")
	ErrInvalidEscape        = protoErr(400, "malformed percent-encoding")
	ErrControlChar          = protoErr(400, "control character (raw or percent-encoded)")
	ErrBackslash            = protoErr(400, "backslash (raw or percent-encoded)")
	ErrInvalidRequestLine   = protoErr(400, "malformed request line")
	ErrHTTP09               = protoErr(400, "HTTP/0.9 request")
	ErrInvalidVersion       = protoErr(400, "malformed HTTP version")
	ErrVersionNotSupported  = protoErr(505, "HTTP version not supported")
	ErrMissingHost          = protoErr(400, "missing Host in HTTP/1.1 request")
	ErrRepeatedHost         = protoErr(400, "repeated Host")
	ErrInvalidHost          = protoErr(400, "invalid Host")
	ErrInvalidContentLength = protoErr(400, "invalid Content-Length")
	ErrConflictingLength    = protoErr(400, "differing Content-Length values")
	ErrTEAndCL              = protoErr(400, "Transfer-Encoding together with Content-Length")
	ErrTENotChunked         = protoErr(400, "final transfer coding is not chunked")
	ErrTEInHTTP10           = protoErr(400, "Transfer-Encoding in HTTP/1.0 request")
	ErrInvalidTE            = protoErr(400, "malformed Transfer-Encoding")
	ErrUnknownTE            = protoErr(501, "unsupported transfer coding")
	ErrConnectContent       = protoErr(400, "CONNECT with content")
	ErrExpectation          = protoErr(417, "unsupported expectation")
	ErrRequestLineTooLong   = protoErr(414, "request line too long")
	ErrStatusLineTooLong    = protoErr(400, "status line too long")
	ErrHeaderTooLarge       = protoErr(431, "header section too large")
	ErrTooManyFields        = protoErr(431, "too many header fields")
	ErrInvalidStatusLine    = protoErr(400, "malformed status line")
	ErrInvalidChunk         = protoErr(400, "malformed chunk")
	ErrChunkTooLarge        = protoErr(400, "chunk size overflow")
	ErrTrailerTooLarge      = protoErr(431, "trailer section too large")
	ErrBodyTooLarge         = protoErr(413, "body too large")
)

// StatusOf returns the status code a server answers err with: the Status of an *Error,
// 400 for anything else.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 400
}
