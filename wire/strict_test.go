package wire

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// parseRequestWhole parses in as one read.
func parseRequestWhole(lim Limits, in string) (*Request, int, error) {
	p := Parser{Limits: lim}
	r := new(Request)
	n, err := p.ParseRequest([]byte(in), r)
	return r, n, err
}

// parseRequestBytewise feeds in one byte per read, as a slow socket would, and returns
// the first result other than ErrNeedMore with the number of bytes that had arrived.
func parseRequestBytewise(lim Limits, in string) (r *Request, n int, err error, at int) {
	p := Parser{Limits: lim}
	r = new(Request)
	buf := []byte(in)
	for at = 1; at <= len(buf); at++ {
		n, err = p.ParseRequest(buf[:at], r)
		if err != ErrNeedMore {
			return r, n, err, at
		}
	}
	return r, n, err, len(buf)
}

func parseResponseWhole(in, method string) (*Response, int, error) {
	var p Parser
	r := new(Response)
	n, err := p.ParseResponse([]byte(in), r, []byte(method))
	return r, n, err
}

func parseResponseBytewise(in, method string) (*Response, int, error) {
	var p Parser
	r := new(Response)
	buf := []byte(in)
	for at := 1; at <= len(buf); at++ {
		n, err := p.ParseResponse(buf[:at], r, []byte(method))
		if err != ErrNeedMore {
			return r, n, err
		}
	}
	return r, 0, ErrNeedMore
}

// hreq builds an HTTP/1.1 request with Host plus the given field lines.
func hreq(fields ...string) string {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: example.com\r\n")
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// TestStrictRequest has one row per rule of DESIGN.md's strictness policy (and per
// request error in errors.go): the exact *Error and its status, with the head in one
// read and one byte per read.
func TestStrictRequest(t *testing.T) {
	tests := []struct {
		rule   string
		in     string
		want   *Error
		status int
	}{
		// Line endings and folding.
		{"bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", ErrBareLF, 400},
		{"bare LF after field", "GET / HTTP/1.1\r\nHost: a\n\r\n", ErrBareLF, 400},
		{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", ErrBareLF, 400},
		{"bare CR inside a field value", hreq("X: a\rb"), ErrInvalidFieldValue, 400},
		{"bare CR starting a line", "GET / HTTP/1.1\r\nHost: a\r\n\rX: y\r\n\r\n", ErrInvalidFieldName, 400},
		{"obs-fold with SP", hreq("X: a", " b"), ErrObsFold, 400},
		{"obs-fold with HTAB", hreq("X: a", "\tb"), ErrObsFold, 400},
		{"whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", ErrObsFold, 400},

		// Field names and values.
		{"SP between name and colon", hreq("X : a"), ErrSpaceBeforeColon, 400},
		{"HTAB between name and colon", hreq("X\t: a"), ErrSpaceBeforeColon, 400},
		{"invalid token char in name", hreq("X@Y: a"), ErrInvalidFieldName, 400},
		{"empty field name", hreq(": a"), ErrInvalidFieldName, 400},
		{"non-ASCII in name", hreq("X\xffY: a"), ErrInvalidFieldName, 400},
		{"field without colon", hreq("X-No-Colon"), ErrMissingColon, 400},
		{"NUL in value", hreq("X: a\x00b"), ErrInvalidFieldValue, 400},
		{"control char in value", hreq("X: a\x0cb"), ErrInvalidFieldValue, 400},
		{"DEL in value", hreq("X: a\x7f"), ErrInvalidFieldValue, 400},
		{"invalid Connection token", hreq("Connection: close, @"), ErrInvalidFieldValue, 400},

		// Request line.
		{"invalid token char in method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidMethod, 400},
		{"space before method", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidMethod, 400},
		{"two empty lines before request line", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidMethod, 400},
		{"method only", "GET\r\nHost: a\r\n\r\n", ErrInvalidRequestLine, 400},
		{"HTTP/0.9 request", "GET /\r\n\r\n", ErrHTTP09, 400},
		{"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"control char in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"non-ASCII in target", "GET /\xce\xb4 HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"asterisk-form not OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"CONNECT without port", "CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"absolute-form double @", "GET http://a:b@@h/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"absolute-form http without host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"absolute-form http without authority", "GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"absolute-form with userinfo", "GET http://u:p@a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrInvalidTarget, 400},
		{"absolute-form with empty userinfo", "GET http://@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrInvalidTarget, 400},
		{"absolute-form port 0", "GET http://a.example:0/ HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrInvalidTarget, 400},
		{"absolute-form port 65536", "GET http://a.example:65536/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"CONNECT port 0", "CONNECT a.example:0 HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"CONNECT port 70000", "CONNECT a.example:70000 HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"CONNECT with userinfo", "CONNECT u@a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"fragment in origin-form", "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"fragment after a query", "GET /a?b=\"c\"#d HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"fragment in absolute-form", "GET http://a/#x HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidTarget, 400},
		{"backslash in path", "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", ErrBackslash, 400},
		{"encoded backslash in path", "GET /..%5c..%5cwin.ini HTTP/1.1\r\nHost: a\r\n\r\n", ErrBackslash, 400},
		{"encoded NUL in path", "GET /a%00.html HTTP/1.1\r\nHost: a\r\n\r\n", ErrControlChar, 400},
		{"encoded CRLF in path", "GET /a%0d%0aX-Injected:%20true HTTP/1.1\r\nHost: a\r\n\r\n", ErrControlChar, 400},
		{"encoded DEL in path", "GET /a%7F HTTP/1.1\r\nHost: a\r\n\r\n", ErrControlChar, 400},
		{"malformed escape in path", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidEscape, 400},
		{"truncated escape in path", "GET /100% HTTP/1.1\r\nHost: a\r\n\r\n", ErrInvalidEscape, 400},
		{"encoded NUL in absolute-form path", "GET http://a/%00 HTTP/1.1\r\nHost: a\r\n\r\n", ErrControlChar, 400},
		{"lower-case protocol name", "GET / http/1.1\r\nHost: a\r\n\r\n", ErrInvalidVersion, 400},
		{"two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", ErrInvalidVersion, 400},
		{"trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ErrInvalidVersion, 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ErrVersionNotSupported, 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", ErrVersionNotSupported, 505},
		{"HTTP/0.9 version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", ErrVersionNotSupported, 505},

		// Host.
		{"missing Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", ErrMissingHost, 400},
		{"repeated Host", hreq("Host: example.com"), ErrRepeatedHost, 400},
		{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ErrInvalidHost, 400},
		{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", ErrInvalidHost, 400},
		{"Host with bad port", "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", ErrInvalidHost, 400},
		{"Host with unclosed IP literal", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", ErrInvalidHost, 400},
		{"empty Host, origin-form", "GET / HTTP/1.1\r\nHost: \r\n\r\n", ErrInvalidHost, 400},
		{"empty Host, asterisk-form", "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n", ErrInvalidHost, 400},
		{"Host port 0", "GET / HTTP/1.1\r\nHost: a:0\r\n\r\n", ErrInvalidHost, 400},
		{"Host port 65536", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", ErrInvalidHost, 400},
		{"Host with two values", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", ErrInvalidHost, 400},
		{"Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ErrInvalidHost, 400},
		{"Host IPvFuture", "GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n", ErrInvalidHost, 400},
		{"Host bad IPv6", "GET / HTTP/1.1\r\nHost: [1.2.3.4]\r\n\r\n", ErrInvalidHost, 400},

		// Content-Length.
		{"Content-Length with sign", hreq("Content-Length: +5"), ErrInvalidContentLength, 400},
		{"negative Content-Length", hreq("Content-Length: -5"), ErrInvalidContentLength, 400},
		{"hex Content-Length", hreq("Content-Length: 0x5"), ErrInvalidContentLength, 400},
		{"Content-Length with inner space", hreq("Content-Length: 4 2"), ErrInvalidContentLength, 400},
		{"empty Content-Length", hreq("Content-Length:"), ErrInvalidContentLength, 400},
		{"Content-Length overflow", hreq("Content-Length: 9223372036854775808"), ErrInvalidContentLength, 400},
		{"Content-Length trailing comma", hreq("Content-Length: 5,"), ErrInvalidContentLength, 400},
		{"Content-Length differing list", hreq("Content-Length: 5, 6"), ErrInvalidContentLength, 400},
		{"Content-Length leading zero", hreq("Content-Length: 005"), ErrInvalidContentLength, 400},
		{"Content-Length double zero", hreq("Content-Length: 00"), ErrInvalidContentLength, 400},
		{"Content-Length octal-looking", hreq("Content-Length: 0200"), ErrInvalidContentLength, 400},
		{"Content-Length leading zero in a list", hreq("Content-Length: 5, 05"), ErrInvalidContentLength, 400},
		{"differing Content-Length repeats", hreq("Content-Length: 5", "Content-Length: 6"), ErrConflictingLength, 400},

		// Transfer-Encoding.
		{"TE with CL", hreq("Transfer-Encoding: chunked", "Content-Length: 5"), ErrTEAndCL, 400},
		{"CL with TE", hreq("Content-Length: 5", "Transfer-Encoding: chunked"), ErrTEAndCL, 400},
		{"final coding not chunked", hreq("Transfer-Encoding: chunked, gzip"), ErrTENotChunked, 400},
		{"final coding unknown", hreq("Transfer-Encoding: pigeons"), ErrTENotChunked, 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEInHTTP10, 400},
		{"chunked twice", hreq("Transfer-Encoding: chunked, chunked"), ErrInvalidTE, 400},
		{"chunked twice in two fields", hreq("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), ErrInvalidTE, 400},
		{"coding with parameter", hreq("Transfer-Encoding: chunked;q=1"), ErrInvalidTE, 400},
		{"unknown coding before chunked", hreq("Transfer-Encoding: pigeons, chunked"), ErrUnknownTE, 501},
		{"unsupported coding before chunked", hreq("Transfer-Encoding: gzip, chunked"), ErrUnknownTE, 501},

		// CONNECT has no content.
		{"CONNECT with Content-Length", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\n\r\n", ErrConnectContent, 400},
		{"CONNECT with Transfer-Encoding", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n", ErrConnectContent, 400},
		{"HTTP/1.0 CONNECT with Content-Length", "CONNECT a:443 HTTP/1.0\r\nContent-Length: 10\r\n\r\n", ErrConnectContent, 400},

		// Over-long parts of the request line.
		{"method filling the request line", strings.Repeat("A", DefaultMaxRequestLine) + " / HTTP/1.1\r\nHost: a\r\n\r\n", ErrMethodTooLong, 400},
		{"target filling the request line", "GET /" + strings.Repeat("a", DefaultMaxRequestLine) + " HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLineTooLong, 414},

		// Expect.
		{"unknown expectation", hreq("Expect: 200-ok"), ErrExpectation, 417},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			if tt.want.Status != tt.status {
				t.Fatalf("%v has status %d, the policy says %d", tt.want, tt.want.Status, tt.status)
			}
			_, n, err := parseRequestWhole(Limits{}, tt.in)
			if err != tt.want || n != 0 {
				t.Errorf("one read: %d, %v; want %v", n, err, tt.want)
			}
			if StatusOf(err) != tt.status {
				t.Errorf("StatusOf = %d, want %d", StatusOf(err), tt.status)
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.status {
				t.Errorf("not an *Error with status %d: %#v", tt.status, err)
			}
			if _, _, err, _ := parseRequestBytewise(Limits{}, tt.in); err != tt.want {
				t.Errorf("one byte per read: %v; want %v", err, tt.want)
			}
		})
	}
}

// TestStrictEarly checks that a head is refused as soon as the byte that makes it
// invalid whatever follows has arrived, without waiting for an LF (the input ends
// there: no LF ever comes), and with the error the complete line would get.
func TestStrictEarly(t *testing.T) {
	tests := []struct {
		in   string
		want *Error
		at   int // bytes received when the error is reported
	}{
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrInvalidMethod, 1}, // a TLS ClientHello
		{"GET / HTTP/1.1\r\n Host: a", ErrObsFold, 17},
		{"GET / HTTP/1.1\r\nHost: a\r\n\rabc", ErrInvalidFieldName, 27},
		{"GET / HTTP/1.1\r\n@bc", ErrInvalidFieldName, 17},
		{"\r\n\r", ErrInvalidMethod, 3},
		{"\rX", ErrInvalidMethod, 2},
		// Request line: a byte no method, target or version may hold.
		{"GE(T / HTTP/1.1", ErrInvalidMethod, 3},
		{"GET\t/ HTTP/1.1", ErrInvalidMethod, 4},
		{"   \r\n\r\n", ErrInvalidMethod, 1},
		{"GET  / HTTP/1.1", ErrInvalidTarget, 5},
		{"GET /\x00test HTTP/1.1", ErrInvalidTarget, 6},
		{"GET /caf\xc3\xa9 HTTP/1.1", ErrInvalidTarget, 9},
		{"GET /a#frag HTTP/1.1", ErrInvalidTarget, 7},
		{"GET \r", ErrInvalidTarget, 5},
		{"GET /x\rY", ErrInvalidTarget, 8},
		{"GET / http/1.1", ErrInvalidVersion, 7},
		{"GET / HTTP/ 1.1", ErrInvalidVersion, 12},
		{"GET / HTTP/01.01", ErrInvalidVersion, 13},
		{"GET / HTTP/1\r", ErrInvalidVersion, 13},
		{"GET / HTTP/1.1 ", ErrInvalidVersion, 15},
		{"GET / HTTP/1.1\rHost: a", ErrInvalidVersion, 16}, // a bare CR ending the line
		// Field lines: a NUL, a bare CR or an invalid name byte before the colon.
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Test: val\x00ue", ErrInvalidFieldValue, 37},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Test: val\rue", ErrInvalidFieldValue, 38},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Test: abc\x07", ErrInvalidFieldValue, 37},
		{"GET / HTTP/1.1\r\nHost: a\r\nBad[Name: v", ErrInvalidFieldName, 29},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-T\xc3\xabst", ErrInvalidFieldName, 29},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Test : v", ErrSpaceBeforeColon, 32},
		{"GET / HTTP/1.1\r\nHost: a\r\n: empty-name", ErrInvalidFieldName, 26},
		{"GET / HTTP/1.1\r\nHost: a\r\nNoColon\rX", ErrInvalidFieldName, 34},
		{"GET / HTTP/1.1\r\nHost: a\r\n\n", ErrBareLF, 26},
	}
	for _, tt := range tests {
		_, _, err, at := parseRequestBytewise(Limits{}, tt.in)
		if err != tt.want || at != tt.at {
			t.Errorf("%q: %v after %d bytes, want %v after %d", tt.in, err, at, tt.want, tt.at)
		}
		if _, _, err := parseRequestWhole(Limits{}, tt.in); err != tt.want {
			t.Errorf("%q in one read: %v, want %v", tt.in, err, tt.want)
		}
	}
	// A response that is not HTTP/1.x is refused at the first wrong byte, and one with
	// a control character at that byte.
	for _, in := range []string{"HTTX", "HTTP/1.1 200 O\x01", "HTTP/1.1 200 OK\rX"} {
		var p Parser
		var r Response
		if _, err := p.ParseResponse([]byte(in), &r, nil); err != ErrInvalidStatusLine {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestStrictTolerated covers what the policy tolerates.
func TestStrictTolerated(t *testing.T) {
	t.Run("one empty line before the request line", func(t *testing.T) {
		in := "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
		for _, bytewise := range []bool{false, true} {
			var r *Request
			var n int
			var err error
			if bytewise {
				r, n, err, _ = parseRequestBytewise(Limits{}, in)
			} else {
				r, n, err = parseRequestWhole(Limits{}, in)
			}
			if err != nil || n != len(in) || string(r.Method) != "GET" || r.HeadLen != len(in) {
				t.Errorf("bytewise=%v: %d %v %q", bytewise, n, err, r.Method)
			}
		}
	})
	t.Run("OWS around field values", func(t *testing.T) {
		r, _, err := parseRequestWhole(Limits{}, "GET / HTTP/1.1\r\nHost: \t a.example \t\r\nX:b\r\nY: \t\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Host) != "a.example" || string(r.Header.Get("Host")) != "a.example" ||
			string(r.Header.Get("X")) != "b" || r.Header.Get("Y") == nil || len(r.Header.Get("Y")) != 0 {
			t.Errorf("Host %q X %q Y %q", r.Host, r.Header.Get("X"), r.Header.Get("Y"))
		}
	})
	t.Run("case-insensitive names and codings", func(t *testing.T) {
		r, _, err := parseRequestWhole(Limits{}, "POST / HTTP/1.1\r\nhOsT: a\r\nTRANSFER-encoding: Gzip, CHUNKED\r\n\r\n")
		if err != ErrUnknownTE { // gzip is recognized case-insensitively, and not implemented
			t.Fatalf("%v", err)
		}
		r, _, err = parseRequestWhole(Limits{}, "POST / HTTP/1.1\r\nhOsT: a\r\nTRANSFER-encoding: CHUNKED\r\nconnection: CLOSE\r\nEXPECT: 100-Continue\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Host) != "a" || r.Framing != FramingChunked || r.KeepAlive || !r.Expect100 {
			t.Errorf("%+v", r)
		}
		r, _, err = parseRequestWhole(Limits{}, "POST / HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: 5\r\n\r\n")
		if err != nil || r.Framing != FramingLength || r.ContentLength != 5 {
			t.Errorf("%v %+v", err, r)
		}
	})
	t.Run("identical Content-Length values", func(t *testing.T) {
		for _, f := range [][]string{
			{"Content-Length: 5, 5"},
			{"Content-Length: 5,5 ,  5"},
			{"Content-Length: 5", "Content-Length: 5"},
			{"Content-Length: 5", "Content-Length: 5, 5"},
		} {
			r, _, err := parseRequestWhole(Limits{}, hreq(f...))
			if err != nil || r.Framing != FramingLength || r.ContentLength != 5 {
				t.Errorf("%q: %v %v %d", f, err, r.Framing, r.ContentLength)
			}
		}
	})
	t.Run("HTTP/1.0 without Host, higher minor", func(t *testing.T) {
		r, _, err := parseRequestWhole(Limits{}, "GET / HTTP/1.0\r\n\r\n")
		if err != nil || r.Minor != 0 || r.Host != nil || r.KeepAlive {
			t.Errorf("%v %+v", err, r)
		}
		r, _, err = parseRequestWhole(Limits{}, "GET / HTTP/1.9\r\nHost: a\r\n\r\n")
		if err != nil || r.Minor != 1 {
			t.Errorf("%v %+v", err, r)
		}
	})
	t.Run("lower-case and unknown methods are tokens", func(t *testing.T) {
		for _, m := range []string{"get", "Post", "PURGE", "M-SEARCH", "X!#$%&'*+-.^_`|~"} {
			r, _, err := parseRequestWhole(Limits{}, m+" / HTTP/1.1\r\nHost: a\r\n\r\n")
			if err != nil || string(r.Method) != m {
				t.Errorf("%q: %v %q", m, err, r.Method)
			}
		}
	})
	t.Run("request-target forms", func(t *testing.T) {
		for _, in := range []string{
			"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
			"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
			"GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n",
			"GET http://a.example:8080 HTTP/1.1\r\nHost: a.example\r\n\r\n",
			"GET HTTPS://A.example:443/x%2Fy HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET urn:isbn:0451450523 HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET /a?b=\"c\"&d=%00%zz\\ HTTP/1.1\r\nHost: a\r\n\r\n",    // the query is the application's
			"GET /a%2Fb/%41%7e|^[]{}`\"<> HTTP/1.1\r\nHost: a\r\n\r\n", // visible characters browsers send
			"GET http://a.example/x HTTP/1.1\r\nHost:\r\n\r\n",         // Host is ignored for absolute-form
			"CONNECT a.example:443 HTTP/1.1\r\nHost: \r\n\r\n",
			"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nContent-Length: 0\r\n\r\n",
		} {
			if _, _, err := parseRequestWhole(Limits{}, in); err != nil {
				t.Errorf("%q: %v", in, err)
			}
		}
	})
	t.Run("Host forms", func(t *testing.T) {
		for _, h := range []string{"a", "a:80", "a:", "[::1]", "[::1]:8080", "[fe80::1%25eth0]", "xn--bcher-kva.example", "10.0.0.1:65535", "a:1"} {
			r, _, err := parseRequestWhole(Limits{}, "GET / HTTP/1.1\r\nHost: "+h+"\r\n\r\n")
			if err != nil || string(r.Host) != h || r.Host == nil {
				t.Errorf("Host %q: %v %q", h, err, r.Host)
			}
		}
	})
}

// TestRequestLimits: request line just under and over 8 KiB (414), header section over
// 64 KiB (431), 129 fields (431), complete and incremental; the limit must trigger before
// the LF arrives.
func TestRequestLimits(t *testing.T) {
	// A request line of exactly n bytes including CRLF.
	line := func(n int) string {
		const pre, post = "GET /", " HTTP/1.1\r\n"
		return pre + strings.Repeat("a", n-len(pre)-len(post)) + post
	}
	const host = "Host: a\r\n"
	t.Run("request line at the limit", func(t *testing.T) {
		in := line(DefaultMaxRequestLine) + host + "\r\n"
		if _, n, err := parseRequestWhole(Limits{}, in); err != nil || n != len(in) {
			t.Errorf("one read: %d %v", n, err)
		}
		if _, n, err, _ := parseRequestBytewise(Limits{}, in); err != nil || n != len(in) {
			t.Errorf("bytewise: %d %v", n, err)
		}
	})
	t.Run("request line over the limit", func(t *testing.T) {
		l := line(DefaultMaxRequestLine + 1)
		in := l + host + "\r\n"
		if _, _, err := parseRequestWhole(Limits{}, in); err != ErrRequestLineTooLong || StatusOf(err) != 414 {
			t.Errorf("one read: %v", err)
		}
		_, _, err, at := parseRequestBytewise(Limits{}, in)
		if err != ErrRequestLineTooLong || at >= len(l) {
			t.Errorf("bytewise: %v after %d bytes (LF at %d)", err, at, len(l))
		}
		// Without any LF at all, a line that cannot fit is refused: a 400 while it is
		// still a method, a 414 once the target has begun.
		if _, _, err := parseRequestWhole(Limits{}, strings.Repeat("a", DefaultMaxRequestLine)); err != ErrMethodTooLong {
			t.Errorf("no LF, method: %v", err)
		}
		if _, _, err := parseRequestWhole(Limits{}, "GET /"+strings.Repeat("a", DefaultMaxRequestLine)); err != ErrRequestLineTooLong {
			t.Errorf("no LF, target: %v", err)
		}
		if _, _, err := parseRequestWhole(Limits{}, strings.Repeat("a", DefaultMaxRequestLine-1)); err != ErrNeedMore {
			t.Errorf("no LF, short: %v", err)
		}
	})
	t.Run("configured request line limit", func(t *testing.T) {
		lim := Limits{MaxRequestLine: 100}
		if _, _, err := parseRequestWhole(lim, line(100)+host+"\r\n"); err != nil {
			t.Error(err)
		}
		if _, _, err := parseRequestWhole(lim, line(101)+host+"\r\n"); err != ErrRequestLineTooLong {
			t.Error(err)
		}
		if _, _, err, at := parseRequestBytewise(lim, line(200)); err != ErrRequestLineTooLong || at != 100 {
			t.Errorf("%v at %d", err, at)
		}
	})

	// A header section (field lines plus the final CRLF) of exactly n bytes.
	section := func(n int) string {
		var b strings.Builder
		b.WriteString(host)
		for rest := n - len(host) - 2; rest > 0; {
			l := min(rest, 1000)
			if rest-l > 0 && rest-l < 6 {
				l -= 6 // leave room for a minimal field "X:a\r\n"... plus one
			}
			b.WriteString("X:" + strings.Repeat("v", l-4) + "\r\n")
			rest -= l
		}
		b.WriteString("\r\n")
		if b.Len() != n {
			panic(fmt.Sprint("section ", b.Len(), " != ", n))
		}
		return b.String()
	}
	start := "GET / HTTP/1.1\r\n"
	t.Run("header section at the limit", func(t *testing.T) {
		in := start + section(DefaultMaxHeaderBytes)
		if _, n, err := parseRequestWhole(Limits{}, in); err != nil || n != len(in) {
			t.Errorf("one read: %d %v", n, err)
		}
		if _, _, err, _ := parseRequestBytewise(Limits{}, in); err != nil {
			t.Errorf("bytewise: %v", err)
		}
	})
	t.Run("header section over the limit", func(t *testing.T) {
		in := start + section(DefaultMaxHeaderBytes+1)
		if _, _, err := parseRequestWhole(Limits{}, in); err != ErrHeaderTooLarge || StatusOf(err) != 431 {
			t.Errorf("one read: %v", err)
		}
		// The final CRLF is the byte too many: its CR fills the section, so the LF
		// cannot fit, and the head fails when the CR arrives.
		_, _, err, at := parseRequestBytewise(Limits{}, in)
		if err != ErrHeaderTooLarge || at != len(in)-1 {
			t.Errorf("bytewise: %v at %d of %d", err, at, len(in))
		}
		// A field line crossing the limit is refused when the limit is reached, before
		// its LF.
		in = start + section(DefaultMaxHeaderBytes-10)
		in = in[:len(in)-2] + "Y: 0123456789abcdef\r\n\r\n"
		_, _, err, at = parseRequestBytewise(Limits{}, in)
		if err != ErrHeaderTooLarge || at != len(start)+DefaultMaxHeaderBytes {
			t.Errorf("crossing field: %v at %d, want at %d", err, at, len(start)+DefaultMaxHeaderBytes)
		}
		// One huge field: likewise.
		in = start + "X: " + strings.Repeat("v", DefaultMaxHeaderBytes) + "\r\n\r\n"
		_, _, err, at = parseRequestBytewise(Limits{}, in)
		if err != ErrHeaderTooLarge || at != len(start)+DefaultMaxHeaderBytes {
			t.Errorf("one field: %v at %d", err, at)
		}
	})
	fieldsReq := func(n int) string {
		var b strings.Builder
		b.WriteString(start + host)
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "X-%d: v\r\n", i)
		}
		b.WriteString("\r\n")
		return b.String()
	}
	t.Run("128 fields", func(t *testing.T) {
		r, _, err := parseRequestWhole(Limits{}, fieldsReq(128))
		if err != nil || r.Header.Len() != 128 {
			t.Errorf("%v %d", err, r.Header.Len())
		}
		if _, _, err, _ := parseRequestBytewise(Limits{}, fieldsReq(128)); err != nil {
			t.Errorf("bytewise: %v", err)
		}
	})
	t.Run("129 fields", func(t *testing.T) {
		in := fieldsReq(129)
		if _, _, err := parseRequestWhole(Limits{}, in); err != ErrTooManyFields || StatusOf(err) != 431 {
			t.Errorf("one read: %v", err)
		}
		_, _, err, at := parseRequestBytewise(Limits{}, in)
		if err != ErrTooManyFields || at != len(in)-2 {
			t.Errorf("bytewise: %v at %d of %d (the 129th field's LF)", err, at, len(in))
		}
		if _, _, err := parseRequestWhole(Limits{MaxHeaderFields: 200}, in); err != nil {
			t.Errorf("MaxHeaderFields 200: %v", err)
		}
	})
	t.Run("MaxHead", func(t *testing.T) {
		var l Limits
		if l.MaxHead() != DefaultMaxRequestLine+DefaultMaxHeaderBytes+2 {
			t.Error(l.MaxHead())
		}
	})
}

func TestStrictResponse(t *testing.T) {
	tests := []struct {
		rule, in, method string
		want             *Error
	}{
		{"not HTTP", "HTP/1.1 200 OK\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"lower-case HTTP", "http/1.1 200 OK\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"one-digit status", "HTTP/1.1 2 OK\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"status 099", "HTTP/1.1 099 X\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"tab after version", "HTTP/1.1\t200 OK\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"no space before reason", "HTTP/1.1 200OK\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"control char in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", "GET", ErrInvalidStatusLine},
		{"bad version", "HTTP/1.x 200 OK\r\n\r\n", "GET", ErrInvalidVersion},
		{"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", "GET", ErrVersionNotSupported},
		{"status line too long", "HTTP/1.1 200 " + strings.Repeat("r", DefaultMaxRequestLine) + "\r\n\r\n", "GET", ErrStatusLineTooLong},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "GET", ErrBareLF},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "GET", ErrObsFold},
		{"TE with CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "GET", ErrTEAndCL},
		{"TE with CL on 304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "GET", ErrTEAndCL},
		{"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "GET", ErrUnknownTE},
		{"chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "GET", ErrUnknownTE},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "GET", ErrInvalidTE},
		{"empty TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", "GET", ErrInvalidTE},
		{"differing CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "GET", ErrConflictingLength},
		{"invalid CL", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET", ErrInvalidContentLength},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			if _, n, err := parseResponseWhole(tt.in, tt.method); err != tt.want || n != 0 {
				t.Errorf("one read: %d %v; want %v", n, err, tt.want)
			}
			if _, _, err := parseResponseBytewise(tt.in, tt.method); err != tt.want {
				t.Errorf("one byte per read: %v; want %v", err, tt.want)
			}
		})
	}
	if ErrStatusLineTooLong.Status != 400 || ErrInvalidStatusLine.Status != 400 {
		t.Error("status line errors must be 400s")
	}
}

// TestErrorSentinels: every sentinel is a distinct *Error with a status from the set
// the server answers with.
func TestErrorSentinels(t *testing.T) {
	all := map[*Error]int{
		ErrBareLF: 400, ErrObsFold: 400, ErrSpaceBeforeColon: 400, ErrInvalidFieldName: 400,
		ErrInvalidFieldValue: 400, ErrMissingColon: 400, ErrInvalidMethod: 400, ErrInvalidTarget: 400,
		ErrInvalidRequestLine: 400, ErrHTTP09: 400, ErrInvalidVersion: 400, ErrVersionNotSupported: 505,
		ErrMissingHost: 400, ErrRepeatedHost: 400, ErrInvalidHost: 400, ErrInvalidContentLength: 400,
		ErrConflictingLength: 400, ErrTEAndCL: 400, ErrTENotChunked: 400, ErrTEInHTTP10: 400,
		ErrInvalidTE: 400, ErrUnknownTE: 501, ErrExpectation: 417, ErrRequestLineTooLong: 414,
		ErrStatusLineTooLong: 400, ErrHeaderTooLarge: 431, ErrTooManyFields: 431,
		ErrInvalidStatusLine: 400, ErrInvalidChunk: 400, ErrChunkTooLarge: 400,
		ErrTrailerTooLarge: 431, ErrBodyTooLarge: 413,
	}
	reasons := map[string]bool{}
	for e, status := range all {
		if e.Status != status {
			t.Errorf("%q: status %d, want %d", e.Reason, e.Status, status)
		}
		if reasons[e.Reason] {
			t.Errorf("two sentinels share the reason %q", e.Reason)
		}
		reasons[e.Reason] = true
		if !strings.HasPrefix(e.Error(), "hop/wire: ") || StatusOf(e) != status {
			t.Errorf("%q: Error() %q StatusOf %d", e.Reason, e.Error(), StatusOf(e))
		}
		if StatusOf(fmt.Errorf("wrapped: %w", e)) != status {
			t.Errorf("%q: StatusOf does not unwrap", e.Reason)
		}
	}
	if StatusOf(errors.New("other")) != 400 || StatusOf(ErrNeedMore) != 400 {
		t.Error("StatusOf of a non-*Error must be 400")
	}
}

func TestRequestSemantics(t *testing.T) {
	tests := []struct {
		in                         string
		framing                    Framing
		cl                         int64
		keepAlive, expect, upgrade bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", FramingNone, 0, true, false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", FramingNone, 0, false, false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", FramingNone, 0, false, false, false},
		{"GET / HTTP/1.0\r\n\r\n", FramingNone, 0, false, false, false},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", FramingNone, 0, true, false, false},
		{"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", FramingNone, 0, false, false, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", FramingNone, 0, true, false, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n", FramingLength, 12, true, true, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", FramingChunked, 0, true, false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", FramingNone, 0, true, false, true},
		{"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", FramingNone, 0, true, false, false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", FramingNone, 0, true, false, false},
	}
	for _, tt := range tests {
		r, n, err := parseRequestWhole(Limits{}, tt.in)
		if err != nil || n != len(tt.in) || r.HeadLen != n {
			t.Errorf("%q: %d %v", tt.in, n, err)
			continue
		}
		if r.Framing != tt.framing || r.ContentLength != tt.cl || r.KeepAlive != tt.keepAlive ||
			r.Expect100 != tt.expect || r.Upgrade != tt.upgrade {
			t.Errorf("%q: framing %v cl %d keep-alive %v expect %v upgrade %v", tt.in,
				r.Framing, r.ContentLength, r.KeepAlive, r.Expect100, r.Upgrade)
		}
	}
}

func TestResponseFraming(t *testing.T) {
	tests := []struct {
		in, method string
		framing    Framing
		cl         int64
		keepAlive  bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", FramingLength, 5, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", FramingNone, 0, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", FramingNone, 0, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", FramingNone, 0, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", FramingChunked, 0, true},
		{"HTTP/1.1 200 OK\r\n\r\n", "GET", FramingClose, 0, false},
		{"HTTP/1.1 204 No Content\r\n\r\n", "GET", FramingNone, 0, true},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", FramingNone, 0, true},
		{"HTTP/1.1 100 Continue\r\n\r\n", "POST", FramingNone, 0, true},
		{"HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT", FramingNone, 0, true},
		{"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 3\r\n\r\n", "CONNECT", FramingLength, 3, true},
		{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", FramingLength, 5, false},
		{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n", "GET", FramingLength, 5, true},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n", "GET", FramingLength, 5, false},
		{"\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", FramingLength, 5, true},
	}
	for _, tt := range tests {
		for _, bytewise := range []bool{false, true} {
			var r *Response
			var n int
			var err error
			if bytewise {
				r, n, err = parseResponseBytewise(tt.in, tt.method)
			} else {
				r, n, err = parseResponseWhole(tt.in, tt.method)
			}
			if err != nil || n != len(tt.in) {
				t.Errorf("%s %q: %d %v", tt.method, tt.in, n, err)
				continue
			}
			if r.Framing != tt.framing || r.ContentLength != tt.cl || r.KeepAlive != tt.keepAlive {
				t.Errorf("%s %q: framing %v cl %d keep-alive %v", tt.method, tt.in, r.Framing, r.ContentLength, r.KeepAlive)
			}
		}
	}
	r, _, err := parseResponseWhole("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n", "GET")
	if err != nil || r.KeepAliveTimeout != 5 || r.KeepAliveMax != 100 || r.Status != 200 || string(r.Reason) != "OK" {
		t.Errorf("Keep-Alive: %v %+v", err, r)
	}
	r, _, err = parseResponseWhole("HTTP/1.1 404\r\n\r\n", "GET")
	if err != nil || r.Status != 404 || len(r.Reason) != 0 {
		t.Errorf("no reason: %v %+v", err, r)
	}
}

// TestParserReuse: one Parser and one Request across many messages, including after
// errors and with the head split over reads.
func TestParserReuse(t *testing.T) {
	var p Parser
	var r Request
	msgs := []struct {
		in   string
		want error
	}{
		{"GET /a HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n", nil},
		{"GET /b HTTP/1.1\r\nHost : a\r\n\r\n", ErrSpaceBeforeColon},
		{"GET /c HTTP/1.1\r\nHost: c\r\n\r\n", nil},
	}
	for _, m := range msgs {
		buf := []byte(m.in)
		var err error
		for at := 1; at <= len(buf); at += 7 {
			_, err = p.ParseRequest(buf[:min(at, len(buf))], &r)
			if err != ErrNeedMore {
				break
			}
		}
		if err == ErrNeedMore {
			_, err = p.ParseRequest(buf, &r)
		}
		if err != m.want {
			t.Fatalf("%q: %v, want %v", m.in, err, m.want)
		}
	}
	if string(r.Target) != "/c" || r.Header.Len() != 1 || string(r.Header.Get("host")) != "c" {
		t.Errorf("%q %d", r.Target, r.Header.Len())
	}
	// While incomplete, the fields parsed so far are readable.
	p.Reset()
	if _, err := p.ParseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Partial: y"), &r); err != ErrNeedMore {
		t.Fatal(err)
	}
	if r.Header.Len() != 1 || string(r.Header.Get("Host")) != "a" {
		t.Errorf("partial header: %d %q", r.Header.Len(), r.Header.Get("Host"))
	}
}

func TestResponseDeclaredLength(t *testing.T) {
	for _, tt := range []struct {
		raw    string
		method string
		want   int64
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", 5},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", "GET", 7},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", "GET", 5},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", -1},
	} {
		var p Parser
		var r Response
		if _, err := p.ParseResponse([]byte(tt.raw), &r, []byte(tt.method)); err != nil {
			t.Fatalf("%q: %v", tt.raw, err)
		}
		if r.DeclaredLength != tt.want {
			t.Errorf("%q (%s): DeclaredLength %d, want %d", tt.raw, tt.method, r.DeclaredLength, tt.want)
		}
	}
}

func TestIsHeadRequest(t *testing.T) {
	for in, want := range map[string]bool{
		"HEAD / HTTP/1.1\r\n": true, "\r\nHEAD /x": true, "HEAD ": true,
		"GET / HTTP/1.1\r\n": false, "HEADER / HTTP/1.1": false, "head / HTTP/1.1": false,
		"HEAD": false, "": false, "\r\n\r\nHEAD /": false, " HEAD /": false,
	} {
		if got := IsHeadRequest([]byte(in)); got != want {
			t.Errorf("IsHeadRequest(%q) = %v, want %v", in, got, want)
		}
	}
}
