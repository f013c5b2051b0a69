package wire

// Framing says how a message body is delimited (RFC 9112 §6).
type Framing uint8

// Body framings.
const (
	FramingNone    Framing = iota // no body
	FramingLength                 // exactly ContentLength bytes
	FramingChunked                // chunked transfer coding, ends with the last chunk and trailers
	FramingClose                  // a response body that runs until the connection closes
)

func (f Framing) String() string {
	switch f {
	case FramingNone:
		return "none"
	case FramingLength:
		return "content-length"
	case FramingChunked:
		return "chunked"
	default:
		return "close-delimited"
	}
}

// Request is a parsed request head. Byte slices point into the buffer given to
// [Parser.ParseRequest] and are valid until that buffer is reused.
type Request struct {
	Method []byte // token, e.g. GET
	Target []byte // request-target as sent (origin, absolute, authority or asterisk form)
	Major  uint8  // HTTP major version (always 1)
	Minor  uint8  // HTTP minor version (0 or 1; higher minors are treated as 1)
	Header Header // all fields in order
	Host   []byte // the Host field value (nil when absent)

	Framing       Framing // FramingNone, FramingLength or FramingChunked
	ContentLength int64   // body length when Framing is FramingLength, else 0
	KeepAlive     bool    // the client wants the connection kept after this exchange
	Expect100     bool    // Expect: 100-continue in an HTTP/1.1 request
	Upgrade       bool    // Connection: upgrade with an Upgrade field
	HeadLen       int     // bytes of the head, including the final CRLF
}

// Response is a parsed response head. Byte slices point into the buffer given to
// [Parser.ParseResponse] and are valid until that buffer is reused.
type Response struct {
	Major, Minor uint8  // HTTP version
	Status       int    // status code, 100-999
	Reason       []byte // reason phrase, possibly empty
	Header       Header // all fields in order

	Framing       Framing // how the body is delimited, given the request method
	ContentLength int64   // body length when Framing is FramingLength, else 0
	// DeclaredLength is the Content-Length the server sent, even when the response has
	// no body (HEAD, 304); -1 when absent.
	DeclaredLength int64
	KeepAlive      bool // the connection may be reused after the body
	// KeepAliveTimeout and KeepAliveMax come from a Keep-Alive field
	// (timeout=N, max=M); 0 when absent.
	KeepAliveTimeout int
	KeepAliveMax     int
	HeadLen          int // bytes of the head, including the final CRLF
}

// IsMethod reports whether the request method is m (methods are case-sensitive).
func (r *Request) IsMethod(m string) bool { return string(r.Method) == m }
