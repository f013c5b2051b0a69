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
	Method []byte     // token, e.g. GET
	Target []byte     // request-target as sent (origin, absolute, authority or asterisk form)
	Form   TargetForm // the form of Target (see ParseTarget for its parts)
	Major  uint8      // HTTP major version (always 1)
	Minor  uint8      // HTTP minor version (0 or 1; higher minors are treated as 1)
	Header Header     // all fields in order
	Host   []byte     // the Host field value (nil when absent)

	Framing       Framing // FramingNone, FramingLength or FramingChunked
	ContentLength int64   // body length when Framing is FramingLength, else 0
	KeepAlive     bool    // the client wants the connection kept after this exchange
	Expect100     bool    // Expect: 100-continue in an HTTP/1.1 request
	Upgrade       bool    // Connection: upgrade with an Upgrade field
	HeadLen       int     // bytes of the head, including the final CRLF
}

// slash is the path of an absolute-form target that has none.
var slash = []byte("/")

// Path returns the path of the request-target, percent-encoded as sent, without the
// query: for an absolute-form target the part after the authority ("/" when empty);
// the authority for CONNECT and "*" for OPTIONS *.
// Like Query, it reads Target and Method, so it also works on a Request built by hand.
func (r *Request) Path() []byte {
	p, _, _ := r.split()
	return p
}

// Query returns the query of the request-target without the "?", or nil when it has
// none.
func (r *Request) Query() []byte {
	_, q, ok := r.split()
	if !ok {
		return nil
	}
	return q
}

// split returns the path and query of Target (see Path).
func (r *Request) split() (path, query []byte, hasQuery bool) {
	t := r.Target
	switch {
	case r.IsMethod("CONNECT") || len(t) == 1 && t[0] == '*':
		return t, nil, false
	case len(t) > 0 && t[0] == '/':
		for i, c := range t {
			if c == '?' {
				return t[:i], t[i+1:], true
			}
		}
		return t, nil, false
	}
	u := SplitURI(t)
	if len(u.Path) == 0 {
		u.Path = slash
	}
	return u.Path, u.Query, u.HasQuery
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
