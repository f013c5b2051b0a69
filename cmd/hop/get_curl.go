package main

// What makes hop get answer like curl: the transfer facts behind -w (recorded from
// the client's trace with curl's timing rules), the -w formatter, curl's exit codes
// and the -O file name.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/neterr"
	"github.com/hop-http/hop/wire"
)

// transferInfo holds what curl reports about one transfer (one URL, redirects
// included), recorded from the client's trace.
//
// curl's times are seconds from the start of the transfer, and every phase of a
// redirected transfer adds up: for each request of the chain, the time from that
// request's start to the moment the phase ended is added to the phase's total
// (lib/progress.c, Curl_pgrsTimeWas). A phase that did not happen adds nothing (no
// connect on a reused connection), a phase that did adds at least 1 µs. The name
// lookup counts as done at once on a reused connection, as in curl.
type transferInfo struct {
	mu sync.Mutex

	start    time.Time // the transfer began
	hopStart time.Time // the current request of the chain began
	end      time.Time // the transfer ended (set by finish)

	namelookup, connect, appconnect, pretransfer, starttransfer time.Duration
	redirect                                                    time.Duration // start → the last redirect
	// per request of the chain: whether the phase was counted already
	lookedUp, connected, tlsDone, preDone, firstByte bool
	attempts                                         int
	// connectedAt is when TCP connected; curl counts it only once the connection is
	// complete (after TLS), so a failed handshake reports no connect time.
	connectedAt time.Time

	numConnects   int
	sizeHeader    int64
	sizeRequest   int64
	sizeUpload    int64
	method        string         // of the last request sent
	remote, local netip.AddrPort // of the last connection
	scheme        string         // "HTTP" or "HTTPS" once connected
	connectCode   int            // status of the proxy's answer to CONNECT
	heads         [][]byte       // response heads received, re-serialized (for -i)
}

func newTransferInfo() *transferInfo {
	now := time.Now()
	return &transferInfo{start: now, hopStart: now}
}

// add adds the time since the current request began to *phase, once per request.
func (t *transferInfo) add(phase *time.Duration, done *bool) { t.addAt(phase, done, time.Now()) }

// addAt adds the time from the current request's start to at.
func (t *transferInfo) addAt(phase *time.Duration, done *bool, at time.Time) {
	if *done {
		return
	}
	*done = true
	d := at.Sub(t.hopStart)
	if d < time.Microsecond {
		d = time.Microsecond
	}
	*phase += d
}

// trace returns a Trace that records into t and passes every event on to next (which
// may be nil). keepHeads keeps the response heads for -i.
func (t *transferInfo) trace(next *client.Trace, keepHeads bool) *client.Trace {
	if next == nil {
		next = &client.Trace{}
	}
	tr := *next
	locked := func(f func()) {
		t.mu.Lock()
		f()
		t.mu.Unlock()
	}
	tr.GetConn = func(origin string) {
		locked(func() {
			if t.attempts > 0 { // a redirect or a retry: a new request of the chain
				t.hopStart = time.Now()
				t.lookedUp, t.connected, t.tlsDone, t.preDone, t.firstByte = false, false, false, false, false
			}
			t.attempts++
		})
		if next.GetConn != nil {
			next.GetConn(origin)
		}
	}
	tr.DNSDone = func(i client.DNSInfo) {
		if i.Err == nil {
			locked(func() { t.add(&t.namelookup, &t.lookedUp) })
		}
		if next.DNSDone != nil {
			next.DNSDone(i)
		}
	}
	tr.ConnectDone = func(a netip.AddrPort, err error) {
		if err == nil {
			locked(func() {
				t.connectedAt = time.Now()
				t.numConnects++
				t.remote = a
				t.scheme = "HTTP"
			})
		}
		if next.ConnectDone != nil {
			next.ConnectDone(a, err)
		}
	}
	tr.ProxyConnect = func(proxy, target string, err error) {
		if err == nil {
			locked(func() { t.connectCode = 200 })
		}
		if next.ProxyConnect != nil {
			next.ProxyConnect(proxy, target, err)
		}
	}
	tr.TLSStart = func() {
		locked(func() { t.scheme = "HTTPS" })
		if next.TLSStart != nil {
			next.TLSStart()
		}
	}
	tr.TLSDone = func(s *tls.ConnectionState, err error) {
		if err == nil {
			locked(func() {
				t.addAt(&t.connect, &t.connected, t.connectedAt)
				t.add(&t.appconnect, &t.tlsDone)
			})
		}
		if next.TLSDone != nil {
			next.TLSDone(s, err)
		}
	}
	tr.GotConn = func(i client.ConnInfo) {
		locked(func() {
			if i.Reused {
				t.add(&t.namelookup, &t.lookedUp)
			} else if !t.connectedAt.IsZero() {
				t.addAt(&t.connect, &t.connected, t.connectedAt) // plain TCP: complete now
			}
			if a, ok := addrPort(i.RemoteAddr); ok {
				t.remote = a
			}
			if a, ok := addrPort(i.LocalAddr); ok {
				t.local = a
			}
			t.scheme = "HTTP"
			if i.TLS != nil {
				t.scheme = "HTTPS"
			}
		})
		if next.GotConn != nil {
			next.GotConn(i)
		}
	}
	tr.WroteHead = func(h []byte) {
		locked(func() {
			t.add(&t.pretransfer, &t.preDone)
			t.sizeRequest += int64(len(h))
			if m, _, ok := bytes.Cut(h, []byte(" ")); ok {
				t.method = string(m)
			}
		})
		if next.WroteHead != nil {
			next.WroteHead(h)
		}
	}
	tr.FirstByte = func() {
		locked(func() { t.add(&t.starttransfer, &t.firstByte) })
		if next.FirstByte != nil {
			next.FirstByte()
		}
	}
	tr.GotHead = func(h []byte) {
		var shown []byte
		if keepHeads {
			shown = rawHead(h)
		}
		locked(func() {
			t.sizeHeader += int64(len(h))
			if keepHeads {
				t.heads = append(t.heads, shown)
			}
		})
		if next.GotHead != nil {
			next.GotHead(h)
		}
	}
	tr.Redirect = func(status int, to string) {
		locked(func() { t.redirect = time.Since(t.start) })
		if next.Redirect != nil {
			next.Redirect(status, to)
		}
	}
	return &tr
}

// requestSent counts the body of the last request once it was written (curl's
// size_request counts the bodies it sends with the head).
func (t *transferInfo) requestSent(bodyLen int64) {
	t.mu.Lock()
	t.sizeRequest += bodyLen
	t.sizeUpload = bodyLen
	t.mu.Unlock()
}

// finish marks the end of the transfer.
func (t *transferInfo) finish() {
	t.mu.Lock()
	if t.end.IsZero() {
		t.end = time.Now()
	}
	t.mu.Unlock()
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ap := tcp.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}

// rawHead is a response head the way -i shows it: as received, byte for byte (curl
// prints the lines the server sent, odd whitespace included), without the empty line
// a server may send before it (a stray CRLF after a previous body).
func rawHead(h []byte) []byte {
	if len(h) >= 2 && h[0] == '\r' && h[1] == '\n' {
		h = h[2:]
	}
	return append([]byte(nil), h...)
}

// appendHead appends a response head: the reason phrase as the server sent it (even
// when empty), the fields in order.
func appendHead(b []byte, minor uint8, status int, reason []byte, h *wire.Header) []byte {
	if len(reason) > 0 {
		b = wire.AppendStatusLine(b, minor, status, string(reason))
	} else {
		// AppendStatusLine puts the standard phrase in place of an empty one: give it
		// a placeholder and take it out again, keeping the space before it.
		b = wire.AppendStatusLine(b, minor, status, "-")
		b = append(b[:len(b)-len("-\r\n")], "\r\n"...)
	}
	b = wire.AppendHeader(b, h)
	return append(b, "\r\n"...)
}

// curl's exit codes for the failures hop get tells apart (curl's CURLcode values).
const (
	exitUnsupportedProtocol = 1
	exitURLMalformat        = 3
	exitProxyResolve        = 5
	exitResolve             = 6
	exitConnect             = 7
	exitWeirdReply          = 8
	exitPartialFile         = 18
	exitHTTPError           = 22
	exitWrite               = 23
	exitRead                = 26
	exitTimeout             = 28
	exitTLSConnect          = 35
	exitTooManyRedirects    = 47
	exitGotNothing          = 52
	exitSend                = 55
	exitRecv                = 56
	exitPeerVerification    = 60
	exitBadContentEncoding  = 61
)

// Errors of hop get's own, with their exit codes.
type (
	// writeError: the body could not be written to its destination (23).
	writeError struct{ err error }
	// decodeError: --compressed could not decode the body (61).
	decodeError struct{ err error }
	// httpError: -f and a status of 400 or more (22).
	httpError struct{ status int }
)

func (e *writeError) Error() string  { return "writing the output: " + e.err.Error() }
func (e *writeError) Unwrap() error  { return e.err }
func (e *decodeError) Error() string { return "decoding the body: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }
func (e *httpError) Error() string {
	return "The requested URL returned error: " + strconv.Itoa(e.status) // curl's words
}

// exitCode returns curl's exit code for a failed request; proxied says the request
// went through a proxy (a name that cannot be resolved is then the proxy's, 5).
func exitCode(err error, proxied bool) int {
	var (
		we  *writeError
		de  *decodeError
		bre *bodyReadError
		he  *httpError
		ue  *client.URLError
		ce  *client.Error
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		hne x509.HostnameError
		cie x509.CertificateInvalidError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &we):
		return exitWrite
	case errors.As(err, &de):
		return exitBadContentEncoding
	case errors.As(err, &he):
		return exitHTTPError
	case errors.As(err, &bre):
		switch {
		case errors.Is(err, client.ErrTruncated):
			return exitPartialFile
		case neterr.IsTimeout(err):
			return exitTimeout
		}
		return exitRecv
	case errors.As(err, &ue):
		if strings.HasPrefix(ue.Reason, "unsupported scheme") {
			return exitUnsupportedProtocol
		}
		return exitURLMalformat
	case errors.Is(err, client.ErrTooManyRedirects):
		return exitTooManyRedirects
	case neterr.IsTimeout(err):
		return exitTimeout
	}
	if !errors.As(err, &ce) {
		return 1
	}
	if ce.Timeout() {
		return exitTimeout
	}
	switch ce.Op {
	case "resolve":
		if proxied {
			return exitProxyResolve
		}
		return exitResolve
	case "connect", "pool":
		return exitConnect
	case "proxy":
		return exitRecv // curl: "CONNECT tunnel failed"
	case "tls":
		if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) {
			return exitPeerVerification
		}
		return exitTLSConnect
	case "write request":
		return exitSend
	case "read request body":
		return exitRead
	case "read response":
		var wireErr *wire.Error
		switch {
		case ce.NoResponse:
			return exitGotNothing
		case errors.Is(err, wire.ErrInvalidStatusLine) || errors.Is(err, wire.ErrInvalidVersion):
			return exitUnsupportedProtocol // not an HTTP/1.x answer (curl: HTTP/0.9 refused)
		case errors.As(err, &wireErr):
			return exitWeirdReply
		}
		return exitRecv
	case "read body":
		if errors.Is(err, client.ErrTruncated) {
			return exitPartialFile
		}
		return exitRecv
	}
	return 1
}

// remoteName is the file name -O uses for raw: the last segment of the URL's path,
// as written (curl's rule: after the last "/" or "\"); "" when the path ends with
// "/" or the URL has none.
func remoteName(raw string) (string, error) {
	var u client.URL
	if err := u.Set(rawURL(raw)); err != nil {
		return "", err
	}
	p := u.Path
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.LastIndexByte(p, '\\'); i >= 0 {
		p = p[i+1:]
	}
	return p, nil
}

// writeOutVar is what -w knows about one request.
type writeOutVar func(r *getResult, w io.Writer)

// writeOutVars are curl's -w variables that hop get supports (curl 7.88's names).
var writeOutVars = map[string]writeOutVar{
	"content_type": func(r *getResult, w io.Writer) {
		if r.status() != 0 {
			w.Write(r.resp.Header.Get("Content-Type"))
		}
	},
	"errormsg": func(r *getResult, w io.Writer) {
		if r.err != nil {
			io.WriteString(w, r.err.Error())
		}
	},
	"exitcode":           func(r *getResult, w io.Writer) { fmt.Fprint(w, r.code) },
	"filename_effective": func(r *getResult, w io.Writer) { io.WriteString(w, r.dest.filename()) },
	"http_code":          func(r *getResult, w io.Writer) { fmt.Fprintf(w, "%03d", r.status()) },
	"response_code":      func(r *getResult, w io.Writer) { fmt.Fprintf(w, "%03d", r.status()) },
	"http_connect":       func(r *getResult, w io.Writer) { fmt.Fprintf(w, "%03d", r.info.connectCode) },
	"http_version": func(r *getResult, w io.Writer) {
		switch {
		case r.status() == 0:
			io.WriteString(w, "0")
		case r.resp.Minor == 0:
			io.WriteString(w, "1")
		default:
			io.WriteString(w, "1.1")
		}
	},
	"local_ip":   func(r *getResult, w io.Writer) { writeIP(w, r.info.local) },
	"local_port": func(r *getResult, w io.Writer) { fmt.Fprint(w, r.info.local.Port()) },
	"method": func(r *getResult, w io.Writer) {
		m := r.info.method
		if m == "" {
			m = r.method
		}
		io.WriteString(w, m)
	},
	"num_connects": func(r *getResult, w io.Writer) { fmt.Fprint(w, r.info.numConnects) },
	"num_headers": func(r *getResult, w io.Writer) {
		n := 0
		if r.status() != 0 {
			n = r.resp.Header.Len()
		}
		fmt.Fprint(w, n)
	},
	"num_redirects": func(r *getResult, w io.Writer) {
		n := 0
		if r.resp != nil {
			n = r.resp.Redirects
		}
		fmt.Fprint(w, n)
	},
	"proxy_ssl_verify_result": func(r *getResult, w io.Writer) { io.WriteString(w, "0") },
	"redirect_url": func(r *getResult, w io.Writer) {
		if r.status() == 0 {
			return
		}
		switch r.resp.Status {
		case 301, 302, 303, 307, 308:
			if loc := r.resp.Header.Get("Location"); len(loc) > 0 {
				if next, err := r.resp.URL.Resolve(string(loc)); err == nil {
					io.WriteString(w, next.String())
				}
			}
		}
	},
	"referer":     func(r *getResult, w io.Writer) {},
	"remote_ip":   func(r *getResult, w io.Writer) { writeIP(w, r.info.remote) },
	"remote_port": func(r *getResult, w io.Writer) { fmt.Fprint(w, r.info.remote.Port()) },
	"scheme":      func(r *getResult, w io.Writer) { io.WriteString(w, r.info.scheme) },
	"size_download": func(r *getResult, w io.Writer) {
		fmt.Fprint(w, r.bytes)
	},
	"size_header":  func(r *getResult, w io.Writer) { fmt.Fprint(w, r.info.sizeHeader) },
	"size_request": func(r *getResult, w io.Writer) { fmt.Fprint(w, r.info.sizeRequest) },
	"size_upload":  func(r *getResult, w io.Writer) { fmt.Fprint(w, r.info.sizeUpload) },
	"speed_download": func(r *getResult, w io.Writer) {
		fmt.Fprint(w, speed(r.bytes, r.info.end.Sub(r.info.start)))
	},
	"speed_upload": func(r *getResult, w io.Writer) {
		fmt.Fprint(w, speed(r.info.sizeUpload, r.info.end.Sub(r.info.start)))
	},
	"time_appconnect":    func(r *getResult, w io.Writer) { writeSeconds(w, r.info.appconnect) },
	"time_connect":       func(r *getResult, w io.Writer) { writeSeconds(w, r.info.connect) },
	"time_namelookup":    func(r *getResult, w io.Writer) { writeSeconds(w, r.info.namelookup) },
	"time_pretransfer":   func(r *getResult, w io.Writer) { writeSeconds(w, r.info.pretransfer) },
	"time_redirect":      func(r *getResult, w io.Writer) { writeSeconds(w, r.info.redirect) },
	"time_starttransfer": func(r *getResult, w io.Writer) { writeSeconds(w, r.info.starttransfer) },
	"time_total":         func(r *getResult, w io.Writer) { writeSeconds(w, r.info.end.Sub(r.info.start)) },
	"url":                func(r *getResult, w io.Writer) { io.WriteString(w, r.given) },
	"url_effective": func(r *getResult, w io.Writer) {
		switch {
		case r.resp != nil && r.resp.URL.Host != "":
			io.WriteString(w, r.resp.URL.String())
		case r.attempted:
			io.WriteString(w, r.url)
		}
	},
	"urlnum": func(r *getResult, w io.Writer) { fmt.Fprint(w, r.n) },
}

// writeSeconds writes d as curl does: seconds with six decimals.
func writeSeconds(w io.Writer, d time.Duration) {
	us := max(d.Microseconds(), 0)
	fmt.Fprintf(w, "%d.%06d", us/1e6, us%1e6)
}

func writeIP(w io.Writer, a netip.AddrPort) {
	if a.IsValid() {
		io.WriteString(w, a.Addr().String())
	}
}

// speed is curl's average rate: bytes per second over the whole transfer, in whole
// bytes.
func speed(n int64, d time.Duration) int64 {
	us := d.Microseconds()
	if us < 1 {
		return n * 1_000_000
	}
	if n < math.MaxInt64/1_000_000 {
		return n * 1_000_000 / us
	}
	return n / max(us/1_000_000, 1)
}

// writeOut expands a -w format for r, as curl does: %{name} variables (names in any
// case), %header{name} for a response field, %{stdout} and %{stderr} to switch the
// stream, %{onerror} to stop unless the request failed, %% for "%", and the escapes
// \n, \r and \t. An unknown variable prints nothing and a warning on stderr; anything
// else is copied.
func writeOut(format []byte, r *getResult, stdout, stderr io.Writer) {
	w := stdout
	for len(format) > 0 {
		c := format[0]
		switch {
		case c == '%' && len(format) > 1 && format[1] == '%':
			io.WriteString(w, "%")
			format = format[2:]
		case c == '%' && len(format) > 1 && format[1] == '{':
			end := bytes.IndexByte(format, '}')
			if end < 0 {
				io.WriteString(w, "%{")
				format = format[2:]
				continue
			}
			name := strings.ToLower(string(format[2:end]))
			format = format[end+1:]
			switch name {
			case "stdout":
				w = stdout
			case "stderr":
				w = stderr
			case "onerror":
				if r.code == 0 {
					return
				}
			default:
				if v := writeOutVars[name]; v != nil {
					v(r, w)
				} else {
					fmt.Fprintf(stderr, "hop get: unknown --write-out variable: '%s'\n", name)
				}
			}
		case c == '%' && bytes.HasPrefix(format[1:], []byte("header{")):
			rest := format[len("%header{"):]
			end := bytes.IndexByte(rest, '}')
			if end < 0 {
				io.WriteString(w, "%header{")
				format = rest
				continue
			}
			if r.status() != 0 {
				w.Write(r.resp.Header.Get(string(rest[:end])))
			}
			format = rest[end+1:]
		case c == '%' && len(format) > 1:
			w.Write(format[:2]) // not a variable: printed as it is
			format = format[2:]
		case c == '\\' && len(format) > 1:
			switch format[1] {
			case 'n':
				io.WriteString(w, "\n")
			case 'r':
				io.WriteString(w, "\r")
			case 't':
				io.WriteString(w, "\t")
			default:
				w.Write(format[:2])
			}
			format = format[2:]
		default:
			end := bytes.IndexAny(format[1:], `%\`)
			if end < 0 {
				end = len(format) - 1
			}
			w.Write(format[:end+1])
			format = format[end+1:]
		}
	}
}
