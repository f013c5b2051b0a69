package wire

import (
	"bytes"
	"testing"
)

var (
	wrkRequest     = []byte("GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n")
	browserRequest = []byte("GET /static/app.js?v=3 HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Referer: https://www.example.com/\r\n" +
		"Connection: keep-alive\r\n" +
		"Cookie: session=4f1d9c0a7b2e4e8f; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"If-None-Match: \"5e8f-1a2b3c\"\r\n" +
		"\r\n")
)

func benchParseRequest(b *testing.B, in []byte) {
	var p Parser
	var r Request
	if _, err := p.ParseRequest(in, &r); err != nil { // warm the field table
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := p.ParseRequest(in, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	b.Run("wrk", func(b *testing.B) { benchParseRequest(b, wrkRequest) })
	b.Run("browser", func(b *testing.B) { benchParseRequest(b, browserRequest) })
	b.Run("browser-split", func(b *testing.B) {
		// The head in three reads, as a slow client sends it.
		var p Parser
		var r Request
		in := browserRequest
		cuts := []int{len(in) / 3, 2 * len(in) / 3, len(in)}
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			for _, c := range cuts {
				if _, err := p.ParseRequest(in[:c], &r); err != nil && err != ErrNeedMore {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkParseResponse(b *testing.B) {
	in := []byte("HTTP/1.1 200 OK\r\nServer: hop\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n")
	var p Parser
	var r Response
	get := []byte("GET")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := p.ParseResponse(in, &r, get); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunked(b *testing.B) {
	var enc []byte
	chunk := bytes.Repeat([]byte("x"), 4096)
	for range 16 {
		enc = AppendChunk(enc, chunk)
	}
	enc = AppendLastChunk(enc, nil)
	var d ChunkedDecoder
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		d.Reset()
		src := enc
		for !d.Done() {
			n, _, err := d.Decode(src)
			if err != nil || n == 0 {
				b.Fatal(err, n)
			}
			src = src[n:]
		}
	}
}

func BenchmarkAppendResponseHead(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out := AppendStatusLine(buf[:0], 1, 200, "")
		out = AppendField(out, "Server", "hop")
		out = AppendField(out, "Content-Type", "text/plain")
		out = AppendIntField(out, "Content-Length", 13)
		_ = append(out, "\r\n"...)
	}
}

// BenchmarkParseTarget: the request-target forms (the parser runs this on every
// request; the proxy runs it again on absolute-form targets).
func BenchmarkParseTarget(b *testing.B) {
	for _, tt := range []struct{ name, method, target string }{
		{"origin", "GET", "/plaintext"},
		{"origin-query", "GET", "/search/results?q=http%2F1.1+parser&page=2&sort=desc"},
		{"absolute", "GET", "http://upstream.example:8080/api/v1/items?id=42"},
		{"authority", "CONNECT", "example.com:443"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			m, t := []byte(tt.method), []byte(tt.target)
			b.SetBytes(int64(len(t)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseTarget(m, t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestParseZeroAllocs keeps the benchmarks' 0 allocs/op a test.
func TestParseZeroAllocs(t *testing.T) {
	var p Parser
	var r Request
	for _, in := range [][]byte{wrkRequest, browserRequest} {
		if _, err := p.ParseRequest(in, &r); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = p.ParseRequest(in, &r) }); n != 0 {
			t.Errorf("%q: %v allocs per parse", in[:20], n)
		}
	}
	var d ChunkedDecoder
	enc := []byte("5;a=b\r\nhello\r\n0\r\nChecksum: 1\r\nX: y\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() {
		d.Reset()
		src := enc
		for !d.Done() {
			n, _, _ := d.Decode(src)
			src = src[n:]
		}
	}); n != 0 {
		t.Errorf("chunked: %v allocs", n)
	}
	for _, tg := range []string{"/a/b?c", "http://h.example:8080/x?y", "*"} {
		m, b := []byte("GET"), []byte(tg)
		if tg == "*" {
			m = []byte("OPTIONS")
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseTarget(m, b) }); n != 0 {
			t.Errorf("ParseTarget(%q): %v allocs", tg, n)
		}
	}
	for _, a := range []string{"user@h.example:8080", "10.0.0.1:1"} {
		b := []byte(a)
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseAuthority(b) }); n != 0 {
			t.Errorf("ParseAuthority(%q): %v allocs", a, n)
		}
	}
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _, _ = AppendUnescaped(dst[:0], "/caf%C3%A9/x", PathPolicy) }); n != 0 {
		t.Errorf("AppendUnescaped: %v allocs", n)
	}
}
