package wire_test

import (
	"fmt"

	"github.com/hop-http/hop/wire"
)

func ExampleParser_ParseRequest() {
	var p wire.Parser
	var r wire.Request
	buf := []byte("GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
	n, err := p.ParseRequest(buf, &r)
	if err != nil {
		fmt.Println("error:", err, "status", wire.StatusOf(err))
		return
	}
	fmt.Printf("%s %s HTTP/%d.%d, host %s, head %d bytes\n", r.Method, r.Target, r.Major, r.Minor, r.Host, n)
	for i := 0; i < r.Header.Len(); i++ {
		name, value := r.Header.At(i)
		fmt.Printf("%s: %s\n", name, value)
	}
	// Output:
	// GET /hello?x=1 HTTP/1.1, host example.com, head 59 bytes
	// Host: example.com
	// Accept: */*
}

// A head that arrives in two reads: the Parser remembers where it stopped, and is
// called again with the same bytes plus what arrived since.
func ExampleParser_ParseRequest_twoReads() {
	var p wire.Parser
	var r wire.Request
	buf := []byte("POST /upload HTTP/1.1\r\nHost: exa")
	_, err := p.ParseRequest(buf, &r)
	fmt.Println(err == wire.ErrNeedMore)

	buf = append(buf, "mple.com\r\nContent-Length: 5\r\n\r\nhello"...)
	n, err := p.ParseRequest(buf, &r)
	fmt.Println(n, err, r.Framing, r.ContentLength, string(buf[n:n+int(r.ContentLength)]))
	// Output:
	// true
	// 63 <nil> content-length 5 hello
}

func ExampleParser_ParseRequest_error() {
	var p wire.Parser
	var r wire.Request
	_, err := p.ParseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), &r)
	fmt.Println(err, wire.StatusOf(err))
	// Output:
	// hop/wire: Transfer-Encoding together with Content-Length 400
}

func ExampleHeader() {
	var h wire.Header
	h.Add("Content-Type", "text/plain")
	h.Add("Connection", "keep-alive, Upgrade")
	h.Add("Set-Cookie", "a=1")
	h.Add("Set-Cookie", "b=2")
	fmt.Println(string(h.Get("content-type")))
	fmt.Println(h.HasToken("Connection", "upgrade"))
	h.Values("set-cookie", func(v []byte) { fmt.Println(string(v)) })
	h.Set("Set-Cookie", "c=3")
	h.Del("Connection")
	fmt.Printf("%q\n", wire.AppendHeader(nil, &h))
	// Output:
	// text/plain
	// true
	// a=1
	// b=2
	// "Content-Type: text/plain\r\nSet-Cookie: c=3\r\n"
}

func ExampleChunkedDecoder() {
	var d wire.ChunkedDecoder
	src := []byte("5;name=\"v\"\r\nhello\r\n7\r\n, world\r\n0\r\nChecksum: 42\r\n\r\nNEXT")
	var body []byte
	for !d.Done() {
		n, data, err := d.Decode(src)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if n == 0 {
			break // a real caller reads more input here
		}
		body = append(body, data...)
		src = src[n:]
	}
	fmt.Printf("%s | Checksum=%s | left %q\n", body, d.Trailer.Get("Checksum"), src)
	// Output:
	// hello, world | Checksum=42 | left "NEXT"
}

func ExampleAppendStatusLine() {
	b := wire.AppendStatusLine(nil, 1, 200, "")
	b = wire.AppendField(b, "Content-Type", "text/plain")
	b = wire.AppendIntField(b, "Content-Length", 13)
	b = append(b, "\r\n"...)
	b = wire.AppendStatusLine(b, 0, 404, "Nope")
	fmt.Printf("%q\n", b)
	// Output:
	// "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHTTP/1.0 404 Nope\r\n"
}

// ParseTarget splits a request-target by its form; the parser has already applied it
// to every request it accepts, and its errors are 400s.
func ExampleParseTarget() {
	for _, t := range []struct{ method, target string }{
		{"GET", "/search?q=hop"},
		{"GET", "http://example.com:8080/a%2Fb"},
		{"CONNECT", "example.com:443"},
		{"GET", "/a#fragment"},
		{"GET", "/..%5c..%5cwin.ini"},
	} {
		tg, err := wire.ParseTarget([]byte(t.method), []byte(t.target))
		if err != nil {
			fmt.Printf("%s %s: %d %v\n", t.method, t.target, wire.StatusOf(err), err)
			continue
		}
		fmt.Printf("%s %s: %v host %q port %d path %q query %q\n", t.method, t.target, tg.Form,
			tg.Authority.Host, tg.Authority.PortNumber, tg.Path, tg.Query)
	}
	// Output:
	// GET /search?q=hop: origin-form host "" port 0 path "/search" query "q=hop"
	// GET http://example.com:8080/a%2Fb: absolute-form host "example.com" port 8080 path "/a%2Fb" query ""
	// CONNECT example.com:443: authority-form host "example.com" port 443 path "" query ""
	// GET /a#fragment: 400 hop/wire: invalid request target
	// GET /..%5c..%5cwin.ini: 400 hop/wire: backslash (raw or percent-encoded)
}

func ExampleParseAuthority() {
	for _, s := range []string{"user:pw@example.com:8080", "[fe80::1%25eth0]:443", "example.com:99999"} {
		a, err := wire.ParseAuthority(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("userinfo %q host %q port %d\n", a.UserInfo, a.Host, a.PortNumber)
	}
	// Output:
	// userinfo "user:pw" host "example.com" port 8080
	// userinfo "" host "[fe80::1%25eth0]" port 443
	// hop/wire: invalid authority: port out of range "99999"
}

// One decoder, with the policy as a parameter: PathPolicy is what the parser and hop
// serve apply to paths; the zero policy decodes what it can and keeps the rest.
func ExampleAppendUnescaped() {
	for _, p := range []string{"/caf%C3%A9/a%2Fb", "/a%00.html", "/100%"} {
		strict, err := wire.AppendUnescaped(nil, p, wire.PathPolicy)
		lenient, _ := wire.AppendUnescaped(nil, p, wire.EscapePolicy{})
		keep, _ := wire.AppendUnescaped(nil, p, wire.EscapePolicy{KeepSlash: true})
		fmt.Printf("%s: strict %q %v, lenient %q, keeping slashes %q\n", p, strict, err, lenient, keep)
	}
	// Output:
	// /caf%C3%A9/a%2Fb: strict "/café/a/b" <nil>, lenient "/café/a/b", keeping slashes "/café/a%2Fb"
	// /a%00.html: strict "/a" hop/wire: control character (raw or percent-encoded), lenient "/a\x00.html", keeping slashes "/a\x00.html"
	// /100%: strict "/100" hop/wire: malformed percent-encoding, lenient "/100%", keeping slashes "/100%"
}
