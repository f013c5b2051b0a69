package wire

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The fuzz targets take the input's first byte(s) as parameters (where to split the
// input, which request method a response answers) and the rest as the bytes on the
// wire. Seeds: hand-written messages plus the conformance corpus.

// corpusSeeds returns the raw inputs of the conformance corpus of one kind.
func corpusSeeds(f *testing.F, kind string) [][]byte {
	var out [][]byte
	for _, c := range loadCorpus(f) {
		if c.Kind == kind {
			out = append(out, c.raw)
		}
	}
	return out
}

// checkError asserts that err is ErrNeedMore or an *Error with a status a server sends.
func checkError(t *testing.T, err error) {
	t.Helper()
	if err == nil || err == ErrNeedMore {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	switch e.Status {
	case 400, 413, 414, 417, 431, 501, 505:
	default:
		t.Fatalf("error %v has status %d", err, e.Status)
	}
}

type fieldList [][2]string

func headerFields(h *Header) fieldList {
	var out fieldList
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		out = append(out, [2]string{string(n), string(v)})
	}
	return out
}

// requestView is everything a parse yields, in comparable form.
type requestView struct {
	N, HeadLen                    int
	Err                           error
	Method, Target, Host          string
	Form                          TargetForm
	Path, Query                   string
	HasQuery                      bool
	HostNil                       bool
	Major, Minor                  uint8
	Framing                       Framing
	ContentLength                 int64
	KeepAlive, Expect100, Upgrade bool
	Fields                        fieldList
}

func viewRequest(n int, err error, r *Request) requestView {
	if err != nil {
		return requestView{Err: err}
	}
	return requestView{
		N: n, HeadLen: r.HeadLen, Method: string(r.Method), Target: string(r.Target),
		Form: r.Form, Path: string(r.Path()), Query: string(r.Query()), HasQuery: r.Query() != nil,
		Host: string(r.Host), HostNil: r.Host == nil, Major: r.Major, Minor: r.Minor,
		Framing: r.Framing, ContentLength: r.ContentLength, KeepAlive: r.KeepAlive,
		Expect100: r.Expect100, Upgrade: r.Upgrade, Fields: headerFields(&r.Header),
	}
}

// parseRequestReads parses in delivered in reads ending at the given offsets.
func parseRequestReads(lim Limits, in []byte, reads ...int) requestView {
	p := Parser{Limits: lim}
	var r Request
	n, err := 0, ErrNeedMore
	for _, end := range reads {
		if n, err = p.ParseRequest(in[:end], &r); err != ErrNeedMore {
			break
		}
	}
	return viewRequest(n, err, &r)
}

// fuzzLimits picks the default limits or small ones (so that fuzzing reaches them).
func fuzzLimits(sel byte) Limits {
	if sel&1 == 0 {
		return Limits{}
	}
	return Limits{MaxRequestLine: 40, MaxHeaderBytes: 80, MaxHeaderFields: 4, MaxChunkLine: 12, MaxTrailerBytes: 24}
}

func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p?q HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nExpect: 100-continue\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET http://u@a.example/x HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX:  v \t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n x\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/2.0\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add(append([]byte{byte(i * 7), byte(i)}, s...))
	}
	for i, raw := range corpusSeeds(f, "request") {
		f.Add(append([]byte{byte(i), byte(i)}, raw...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		in := data[2:]
		split := int(data[0]) % (len(in) + 1)
		lim := fuzzLimits(data[1])

		p := Parser{Limits: lim}
		var r Request
		n, err := p.ParseRequest(in, &r)
		checkError(t, err)
		whole := viewRequest(n, err, &r)
		if got := parseRequestReads(lim, in, split, len(in)); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d:\n got %+v\nwant %+v", split, got, whole)
		}
		if len(in) <= 256 {
			reads := make([]int, len(in))
			for i := range reads {
				reads[i] = i + 1
			}
			if got := parseRequestReads(lim, in, reads...); !reflect.DeepEqual(got, whole) {
				t.Fatalf("one byte per read:\n got %+v\nwant %+v", got, whole)
			}
		}
		if err != nil {
			return
		}
		if n <= 0 || n > len(in) || r.HeadLen != n || !bytes.HasSuffix(in[:n], []byte("\r\n\r\n")) && !bytes.Equal(in[:n], []byte("\r\n")) {
			t.Fatalf("head length %d of %d", n, len(in))
		}
		// Re-serialized, the request parses to the same fields.
		out := AppendRequestLine(nil, r.Method, r.Target, r.Minor)
		out = AppendHeader(out, &r.Header)
		out = append(out, "\r\n"...)
		p2 := Parser{Limits: Limits{MaxRequestLine: len(out), MaxHeaderBytes: len(out)}}
		var r2 Request
		n2, err2 := p2.ParseRequest(out, &r2)
		again := viewRequest(n2, err2, &r2)
		whole.N, whole.HeadLen = len(out), len(out)
		if !reflect.DeepEqual(again, whole) {
			t.Fatalf("re-serialized %q:\n got %+v\nwant %+v", out, again, whole)
		}
	})
}

type responseView struct {
	N                           int
	Err                         error
	Major, Minor                uint8
	Status                      int
	Reason                      string
	Framing                     Framing
	ContentLength               int64
	KeepAlive                   bool
	KeepAliveTimeout, KeepAlMax int
	Fields                      fieldList
}

func viewResponse(n int, err error, r *Response) responseView {
	if err != nil {
		return responseView{Err: err}
	}
	return responseView{
		N: n, Major: r.Major, Minor: r.Minor, Status: r.Status, Reason: string(r.Reason),
		Framing: r.Framing, ContentLength: r.ContentLength, KeepAlive: r.KeepAlive,
		KeepAliveTimeout: r.KeepAliveTimeout, KeepAlMax: r.KeepAliveMax, Fields: headerFields(&r.Header),
	}
}

var fuzzMethods = []string{"GET", "HEAD", "CONNECT", "POST"}

func FuzzParseResponse(f *testing.F) {
	seeds := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 301\r\nLocation: /\r\n\r\n",
		"\r\nHTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 200 Ori\xebntatieprobleem\r\nContent-Length: 0\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add(append([]byte{byte(i * 5), byte(i)}, s...))
	}
	for i, raw := range corpusSeeds(f, "response") {
		f.Add(append([]byte{byte(i), 0}, raw...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		in := data[2:]
		split := int(data[0]) % (len(in) + 1)
		method := []byte(fuzzMethods[int(data[1])%len(fuzzMethods)])

		lim := fuzzLimits(data[1] >> 2)

		reads := func(ends ...int) responseView {
			p := Parser{Limits: lim}
			var r Response
			n, err := 0, ErrNeedMore
			for _, end := range ends {
				if n, err = p.ParseResponse(in[:end], &r, method); err != ErrNeedMore {
					break
				}
			}
			return viewResponse(n, err, &r)
		}
		p := Parser{Limits: lim}
		var r Response
		n, err := p.ParseResponse(in, &r, method)
		checkError(t, err)
		whole := viewResponse(n, err, &r)
		if got := reads(split, len(in)); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d:\n got %+v\nwant %+v", split, got, whole)
		}
		if len(in) <= 256 {
			ends := make([]int, len(in))
			for i := range ends {
				ends[i] = i + 1
			}
			if got := reads(ends...); !reflect.DeepEqual(got, whole) {
				t.Fatalf("one byte per read:\n got %+v\nwant %+v", got, whole)
			}
		}
		if err != nil {
			return
		}
		if r.Status < 100 || r.Status > 999 || n > len(in) {
			t.Fatalf("status %d, head %d of %d", r.Status, n, len(in))
		}
		// Re-serialized (with the standard reason when there was none), it parses the same.
		out := AppendStatusLine(nil, r.Minor, r.Status, string(r.Reason))
		out = AppendHeader(out, &r.Header)
		out = append(out, "\r\n"...)
		p3 := Parser{Limits: Limits{MaxRequestLine: len(out), MaxHeaderBytes: len(out)}}
		var r3 Response
		n3, err3 := p3.ParseResponse(out, &r3, method)
		again := viewResponse(n3, err3, &r3)
		whole.N = len(out)
		if len(whole.Reason) == 0 {
			whole.Reason = StatusText(r.Status)
		}
		if !reflect.DeepEqual(again, whole) {
			t.Fatalf("re-serialized %q:\n got %+v\nwant %+v", out, again, whole)
		}
	})
}

type chunkedView struct {
	Body    string
	Used    int
	Err     error
	Done    bool
	Trailer fieldList
}

func decodeView(lim Limits, in []byte, reads ...int) chunkedView {
	d := ChunkedDecoder{Limits: lim}
	var v chunkedView
	var body []byte
	for _, end := range reads {
		for !d.Done() {
			n, data, err := d.Decode(in[v.Used:end])
			if n < 0 || v.Used+n > end || len(data) > n {
				panic(fmt.Sprintf("Decode returned %d bytes consumed, %d data, of %d", n, len(data), end-v.Used))
			}
			v.Used += n
			body = append(body, data...)
			if err != nil {
				v.Err = err
				v.Body = string(body)
				return v
			}
			if n == 0 {
				break
			}
		}
	}
	v.Body, v.Done, v.Trailer = string(body), d.Done(), headerFields(&d.Trailer)
	return v
}

func FuzzChunked(f *testing.F) {
	seeds := []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"1a;ext=\"q\\\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n",
		"5 ; a = b\r\nhello\r\n000\r\n\r\n",
		"ffffffffffffffff\r\n",
		"5\r\nhelloX\r\n",
		"0\r\nA: b\r\n c\r\n\r\n",
		"3\nabc\r\n0\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add(append([]byte{byte(i * 3)}, s...))
	}
	for i, raw := range append(corpusSeeds(f, "request"), corpusSeeds(f, "response")...) {
		if j := bytes.Index(raw, []byte("\r\n\r\n")); j >= 0 && bytes.Contains(bytes.ToLower(raw[:j]), []byte("chunked")) {
			f.Add(append([]byte{byte(i)}, raw[j+4:]...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		in := data[1:]
		split := int(data[0]) % (len(in) + 1)
		lim := fuzzLimits(data[0] >> 7)
		whole := decodeView(lim, in, len(in))
		checkError(t, whole.Err)
		if got := decodeView(lim, in, split, len(in)); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d:\n got %+v\nwant %+v", split, got, whole)
		}
		if !whole.Done || whole.Err != nil {
			return
		}
		// Re-encoded, the body and trailers decode the same.
		var tr Header
		for _, f := range whole.Trailer {
			tr.Add(f[0], f[1])
		}
		out := AppendChunk(nil, []byte(whole.Body))
		out = AppendLastChunk(out, &tr)
		again := decodeView(Limits{MaxTrailerBytes: len(out), MaxHeaderFields: len(whole.Trailer) + 1}, out, len(out))
		whole.Used = len(out)
		if !reflect.DeepEqual(again, whole) {
			t.Fatalf("re-encoded %q:\n got %+v\nwant %+v", out, again, whole)
		}
	})
}

// URI seeds: request-targets, authorities and escapes of every shape the parsers know,
// plus the corpus's URL cases.
func uriSeeds(f *testing.F) []string {
	seeds := []string{
		"/", "/a/b?c=d&e", "/a?", "/a%2Fb%41", "/a%00", "/a%0d%0a", "/a\\b", "/a%5c", "/a%zz", "/100%",
		"*", "a.example:443", "[::1]:8080", "u@h:1", "h:0", "h:65536", "h:", ":80", "[fe80::1%25eth0]:1",
		"[fe80::1%eth0]", "[v1.x]", "[::1", "[::1]x", "http://a.example/x?y", "HTTPS://A:1", "http:/x",
		"http:///x", "http://u:p@h/", "urn:isbn:0451450523", "mailto:a@b", "//h/p", "a:b:c", "%41%",
		"http://h/#f", "http://[2001:DB8::1]/", "x%25y%2f", "%E2%82%AC", "a+b%20c",
	}
	for _, c := range loadCorpus(f) {
		if c.Kind == "url" {
			seeds = append(seeds, string(c.raw))
		}
	}
	return seeds
}

// FuzzParseTarget: ParseTarget never panics, fails only with 400s, agrees with the
// request parser (which scans the same target inside a request line), and what it
// accepts is split losslessly into parts that obey the path policy.
func FuzzParseTarget(f *testing.F) {
	for i, s := range uriSeeds(f) {
		f.Add(byte(i), s)
	}
	methods := []string{"GET", "CONNECT", "OPTIONS", "POST"}
	f.Fuzz(func(t *testing.T, sel byte, target string) {
		method := methods[int(sel)%len(methods)]
		tg, err := ParseTarget([]byte(method), []byte(target))
		checkError(t, err)
		if err != nil && StatusOf(err) != 400 {
			t.Fatalf("%q: %v is not a 400", target, err)
		}
		// The parser sees the same target in a request line (with a Host, so that only
		// the target decides; an empty Host is fine for absolute and authority forms).
		in := method + " " + target + " HTTP/1.1\r\nHost: h\r\n\r\n"
		p := Parser{Limits: Limits{MaxRequestLine: len(in) + 1}}
		var r Request
		_, perr := p.ParseRequest([]byte(in), &r)
		if strings.ContainsAny(target, " \r\n") {
			return // the line splits elsewhere: a different request
		}
		if (perr == nil) != (err == nil) || err != nil && perr != err && perr != ErrInvalidTarget {
			t.Fatalf("%s %q: ParseTarget %v, parser %v", method, target, err, perr)
		}
		if err != nil {
			return
		}
		if r.Form != tg.Form {
			t.Fatalf("%q: parser form %v, ParseTarget %v", target, r.Form, tg.Form)
		}
		switch tg.Form {
		case FormOrigin, FormAbsolute:
			if e := checkEscapes(tg.Path, PathPolicy); e != nil {
				t.Fatalf("%q: path %q breaks the policy: %v", target, tg.Path, e)
			}
			rest := string(tg.Path)
			if tg.HasQuery {
				rest += "?" + string(tg.Query)
			}
			if !strings.HasSuffix(target, rest) {
				t.Fatalf("%q: path %q query %q do not end the target", target, tg.Path, tg.Query)
			}
			if q := r.Query(); string(q) != string(tg.Query) || (q != nil) != tg.HasQuery {
				t.Fatalf("%q: Request.Query %q, ParseTarget %q (%v)", target, q, tg.Query, tg.HasQuery)
			}
		case FormAuthority:
			if method != "CONNECT" || tg.Authority.PortNumber == 0 || string(r.Path()) != target {
				t.Fatalf("%q: authority-form %+v", target, tg.Authority)
			}
		case FormAsterisk:
			if method != "OPTIONS" || target != "*" {
				t.Fatalf("%q: asterisk-form for %s", target, method)
			}
		default:
			t.Fatalf("%q: form %v", target, tg.Form)
		}
		if tg.HasAuthority && tg.Authority.HasUserInfo {
			t.Fatalf("%q: userinfo accepted", target)
		}
	})
}

// FuzzParseAuthority: the parts are the input in order ([ userinfo "@" ] host
// [ ":" [ port ] ]), the port is in range, an IP literal is an IPv6 address, the string
// and []byte forms agree, and each part passes its own rule again.
func FuzzParseAuthority(f *testing.F) {
	for _, s := range uriSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAuthority(s)
		b, errb := ParseAuthority([]byte(s))
		if (err == nil) != (errb == nil) || err != nil && err.Error() != errb.Error() {
			t.Fatalf("%q: string %v, []byte %v", s, err, errb)
		}
		if err != nil {
			var ae *AuthorityError
			if !errors.As(err, &ae) || ae.Reason == "" {
				t.Fatalf("%q: %v is not an *AuthorityError", s, err)
			}
			return
		}
		if string(b.UserInfo) != a.UserInfo || string(b.Host) != a.Host || string(b.Port) != a.Port ||
			b.HasUserInfo != a.HasUserInfo || b.PortNumber != a.PortNumber {
			t.Fatalf("%q: string %+v, []byte %+v", s, a, b)
		}
		var re string
		if a.HasUserInfo {
			re = a.UserInfo + "@"
		}
		re += a.Host
		if len(s) > len(re) {
			re += ":" + a.Port
		}
		if re != s {
			t.Fatalf("%q: parts %+v recompose to %q", s, a, re)
		}
		if a.Port != "" && (a.PortNumber < 1 || a.PortNumber > 65535 || strconv.Itoa(a.PortNumber) != strings.TrimLeft(a.Port, "0")) {
			t.Fatalf("%q: port %q = %d", s, a.Port, a.PortNumber)
		}
		if strings.HasPrefix(a.Host, "[") {
			lit := strings.TrimSuffix(a.Host[1:], "]")
			if i := strings.Index(lit, "%25"); i >= 0 {
				lit = lit[:i]
			}
			if ip, err := netip.ParseAddr(lit); err != nil || !ip.Is6() {
				t.Fatalf("%q: IP literal %q: %v", s, a.Host, err)
			}
		} else if strings.ContainsAny(a.Host, ":@[]/?#") {
			t.Fatalf("%q: host %q", s, a.Host)
		}
	})
}

// FuzzSplitURI: the components, with their delimiters, are the input again.
func FuzzSplitURI(f *testing.F) {
	for _, s := range uriSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := SplitURI(s)
		var re string
		if u.HasScheme {
			re += u.Scheme + ":"
		}
		if u.HasAuthority {
			re += "//" + u.Authority
		}
		re += u.Path
		if u.HasQuery {
			re += "?" + u.Query
		}
		if u.HasFragment {
			re += "#" + u.Fragment
		}
		if re != s {
			t.Fatalf("%q: %+v recomposes to %q", s, u, re)
		}
		if b := SplitURI([]byte(s)); string(b.Path) != u.Path || string(b.Authority) != u.Authority || b.HasScheme != u.HasScheme {
			t.Fatalf("%q: []byte split differs", s)
		}
		if u.HasScheme && (schemeEnd(u.Scheme+":") != len(u.Scheme) || strings.ContainsAny(u.Scheme, ":/?#")) {
			t.Fatalf("%q: scheme %q", s, u.Scheme)
		}
	})
}

// FuzzUnescape: the strict decoder agrees with net/url's PathUnescape, checking agrees
// with decoding, the lenient decoder never fails, KeepSlash keeps exactly the encoded
// slashes, and every policy refuses what it says it refuses.
func FuzzUnescape(f *testing.F) {
	for i, s := range uriSeeds(f) {
		f.Add(byte(i), s)
	}
	f.Fuzz(func(t *testing.T, sel byte, s string) {
		pol := EscapePolicy{Strict: sel&1 != 0, NoControl: sel&2 != 0, NoBackslash: sel&4 != 0, KeepSlash: sel&8 != 0}
		out, err := AppendUnescaped(nil, s, pol)
		if e := checkEscapes(s, pol); e != err {
			t.Fatalf("%q %+v: decode %v, check %v", s, pol, err, e)
		}
		if err != nil {
			if err != ErrInvalidEscape && err != ErrControlChar && err != ErrBackslash {
				t.Fatalf("%q: error %v", s, err)
			}
			if _, uerr := url.PathUnescape(s); pol == (EscapePolicy{Strict: true}) && uerr == nil {
				t.Fatalf("%q: %v, but net/url decodes it", s, err)
			}
			return
		}
		if pol.NoControl && strings.ContainsFunc(string(out), func(r rune) bool { return r < 0x20 || r == 0x7f }) ||
			pol.NoBackslash && strings.Contains(string(out), "\\") {
			t.Fatalf("%q %+v: %q holds what the policy refuses", s, pol, out)
		}
		lenient, lerr := AppendUnescaped(nil, s, EscapePolicy{})
		if lerr != nil {
			t.Fatalf("%q: lenient decoding failed: %v", s, lerr)
		}
		if pol.KeepSlash {
			// No slash comes from an escape, and only "%2F" escapes stay encoded.
			if bytes.Count(out, []byte("/")) != strings.Count(s, "/") ||
				len(out)-len(lenient) != 2*(bytes.Count(lenient, []byte("/"))-strings.Count(s, "/")) {
				t.Fatalf("%q: KeepSlash %q, decode %q", s, out, lenient)
			}
		} else if !bytes.Equal(out, lenient) {
			t.Fatalf("%q %+v: %q, lenient %q", s, pol, out, lenient)
		}
		if pol == (EscapePolicy{Strict: true}) {
			want, uerr := url.PathUnescape(s)
			if uerr != nil || want != string(out) {
				t.Fatalf("%q: %q, net/url %q %v", s, out, want, uerr)
			}
		}
	})
}
