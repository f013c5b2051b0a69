package plainclient

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const good = "HTTP/1.1 200 OK\r\nServer: s\r\nDate: Sat, 21 Nov 2026 05:56:57 GMT\r\n" +
	"Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

func TestReaderSplitsAndPipelines(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    func(io.Reader) io.Reader
		size int
	}{
		{"whole", func(r io.Reader) io.Reader { return r }, 4096},
		{"one byte at a time", iotest.OneByteReader, 4096},
		{"half reads", iotest.HalfReader, 4096},
		{"buffer of two responses", iotest.HalfReader, 2*len(good) + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := NewReader(tc.r(strings.NewReader(strings.Repeat(good, 5))), tc.size)
			for i := 0; i < 5; i++ {
				var resp Response
				if err := rd.Read(&resp); err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				if string(resp.Raw) != good {
					t.Fatalf("response %d: %q", i, resp.Raw)
				}
				if err := Check(&resp, true); err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
			}
			var resp Response
			if err := rd.Read(&resp); err != io.EOF {
				t.Fatalf("after the last response: %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	var resp Response
	if err := NewReader(strings.NewReader(good[:len(good)-3]), 4096).Read(&resp); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated: %v, want io.ErrUnexpectedEOF", err)
	}
	if err := NewReader(strings.NewReader(good), 64).Read(&resp); !errors.Is(err, ErrTooLarge) {
		t.Errorf("small buffer: %v, want ErrTooLarge", err)
	}
	if err := NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 4096).Read(&resp); err == nil {
		t.Error("chunked response accepted")
	}
	if err := NewReader(strings.NewReader("garbage\r\n\r\n"), 4096).Read(&resp); err == nil {
		t.Error("garbage accepted")
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		keep      bool
		ok        bool
	}{
		{"good", good, true, true},
		{"keep-alive expected closed", good, false, false},
		{"closed but no Server", strings.Replace(good, "Server: s", "Connection: close", 1), false, false},
		{"close with server", strings.Replace(good, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1), false, true},
		{"status", strings.Replace(good, "200 OK", "404 Not Found", 1), true, false},
		{"type", strings.Replace(good, "text/plain", "text/html", 1), true, false},
		{"body", strings.Replace(good, "Hello, World!", "Hello, world!", 1), true, false},
		{"no server", strings.Replace(good, "Server: s\r\n", "", 1), true, false},
		{"bad date", strings.Replace(good, "Sat, 21 Nov 2026 05:56:57 GMT", "yesterday", 1), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp Response
			if err := NewReader(strings.NewReader(tc.raw), 4096).Read(&resp); err != nil {
				t.Fatal(err)
			}
			if err := Check(&resp, tc.keep); (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	const accept = "Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n"
	if r := string(Request("h", false)); r != "GET /plaintext HTTP/1.1\r\nHost: h\r\n"+accept+"Connection: keep-alive\r\n\r\n" {
		t.Errorf("keep-alive request %q", r)
	}
	if r := string(Request("h:1", true)); r != "GET /plaintext HTTP/1.1\r\nHost: h:1\r\n"+accept+"Connection: close\r\n\r\n" {
		t.Errorf("close request %q", r)
	}
}
