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
