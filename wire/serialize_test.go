package wire

import (
	"math"
	"strconv"
	"testing"
)

func TestAppendStatusLine(t *testing.T) {
	tests := []struct {
		minor  uint8
		code   int
		reason string
		want   string
	}{
		{1, 200, "", "HTTP/1.1 200 OK\r\n"},
		{1, 404, "", "HTTP/1.1 404 Not Found\r\n"},
		{1, 100, "", "HTTP/1.1 100 Continue\r\n"},
		{1, 505, "", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
		{0, 200, "", "HTTP/1.0 200 OK\r\n"},
		{0, 431, "", "HTTP/1.0 431 Request Header Fields Too Large\r\n"},
		{1, 200, "Fine", "HTTP/1.1 200 Fine\r\n"},
		{0, 302, "Moved", "HTTP/1.0 302 Moved\r\n"},
		{1, 299, "", "HTTP/1.1 299 Status\r\n"},
		{1, 599, "", "HTTP/1.1 599 Status\r\n"},
		{1, 600, "", "HTTP/1.1 600 Status\r\n"},
		{1, 999, "Custom", "HTTP/1.1 999 Custom\r\n"},
		{2, 200, "", "HTTP/1.1 200 OK\r\n"},
	}
	for _, tt := range tests {
		if got := string(AppendStatusLine([]byte("x"), tt.minor, tt.code, tt.reason)); got != "x"+tt.want {
			t.Errorf("AppendStatusLine(%d, %d, %q) = %q, want %q", tt.minor, tt.code, tt.reason, got, tt.want)
		}
	}
	// The precomputed lines equal the general path for every known code.
	for code, text := range statusText {
		want := "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
		if got := string(AppendStatusLine(nil, 1, code, "")); got != want {
			t.Errorf("%d: %q, want %q", code, got, want)
		}
		if got := string(AppendStatusLine(nil, 1, code, text)); got != want {
			t.Errorf("%d with reason: %q, want %q", code, got, want)
		}
	}
	if StatusText(418) != "Status" || StatusText(200) != "OK" || StatusText(-1) != "Status" {
		t.Error("StatusText")
	}
	// A serialized status line parses back.
	var p Parser
	var r Response
	line := AppendStatusLine(nil, 1, 503, "")
	line = append(line, "Content-Length: 0\r\n\r\n"...)
	if _, err := p.ParseResponse(line, &r, []byte("GET")); err != nil || r.Status != 503 || string(r.Reason) != "Service Unavailable" {
		t.Errorf("round trip: %v %d %q", err, r.Status, r.Reason)
	}
}

func TestAppendRequestAndFields(t *testing.T) {
	b := AppendRequestLine(nil, "GET", "/index.html?q=1", 1)
	b = AppendRequestLine(b, []byte("POST"), []byte("*"), 0)
	if got := string(b); got != "GET /index.html?q=1 HTTP/1.1\r\nPOST * HTTP/1.0\r\n" {
		t.Errorf("AppendRequestLine: %q", got)
	}
	b = AppendField(nil, "Host", "example.com")
	b = AppendField(b, []byte("X-Empty"), []byte(""))
	if got := string(b); got != "Host: example.com\r\nX-Empty: \r\n" {
		t.Errorf("AppendField: %q", got)
	}
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "Content-Length: 0\r\n"},
		{13, "Content-Length: 13\r\n"},
		{math.MaxInt64, "Content-Length: 9223372036854775807\r\n"},
		{-1, "Content-Length: -1\r\n"},
	} {
		if got := string(AppendIntField(nil, "Content-Length", tt.n)); got != tt.want {
			t.Errorf("AppendIntField(%d) = %q", tt.n, got)
		}
	}
	var h Header
	h.Add("Host", "a")
	h.Add("Accept", "*/*")
	if got := string(AppendHeader([]byte("GET / HTTP/1.1\r\n"), &h)); got != "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n" {
		t.Errorf("AppendHeader: %q", got)
	}
	if got := AppendHeader(nil, &Header{}); len(got) != 0 {
		t.Errorf("AppendHeader of empty: %q", got)
	}
}

func TestAppendChunks(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{string(AppendChunk(nil, []byte("hello"))), "5\r\nhello\r\n"},
		{string(AppendChunk([]byte("x"), nil)), "x"},
		{string(AppendChunk(nil, make([]byte, 255))), "ff\r\n" + string(make([]byte, 255)) + "\r\n"},
		{string(AppendChunkHeader(nil, 0x1abc)), "1abc\r\n"},
		{string(AppendChunkHeader(nil, 16)), "10\r\n"},
		{string(AppendLastChunk(nil, nil)), "0\r\n\r\n"},
		{string(AppendLastChunk(nil, &Header{})), "0\r\n\r\n"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %q, want %q", i, tt.got, tt.want)
		}
	}
	var tr Header
	tr.Add("Checksum", "x")
	if got := string(AppendLastChunk(nil, &tr)); got != "0\r\nChecksum: x\r\n\r\n" {
		t.Errorf("AppendLastChunk with trailer: %q", got)
	}
}

// TestAppendAllocs: serializing into a buffer with room allocates nothing.
func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	var h Header
	h.Add("Server", "hop")
	h.Add("Content-Type", "text/plain")
	n := testing.AllocsPerRun(100, func() {
		b := AppendStatusLine(buf[:0], 1, 200, "")
		b = AppendStatusLine(b, 0, 299, "")
		b = AppendRequestLine(b, "GET", "/", 1)
		b = AppendField(b, "Date", "Mon, 01 Jan 2024 00:00:00 GMT")
		b = AppendIntField(b, "Content-Length", 13)
		b = AppendHeader(b, &h)
		b = AppendChunk(b, []byte("hello"))
		_ = AppendLastChunk(b, &h)
	})
	if n != 0 {
		t.Errorf("%v allocs", n)
	}
}
