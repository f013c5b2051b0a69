package server

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// Fields with CR/LF in a handler's header are dropped, so a value taken from a request
// cannot inject a field or a second response.
func TestResponseSplittingFieldsDropped(t *testing.T) {
	c := serveTest(t, func(w *ResponseWriter, r *Request) {
		w.Header().Set("X-Echo", "a\r\nSet-Cookie: evil=1")
		w.Header().Set("Bad Name", "x")
		w.Header().Set("X-Ok", "fine")
		w.WriteString("ok")
	}, nil)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	h := head.String()
	if strings.Contains(h, "evil") || strings.Contains(h, "X-Echo") || strings.Contains(h, "Bad Name") {
		t.Fatalf("invalid fields were sent:\n%s", h)
	}
	if !strings.Contains(h, "X-Ok: fine\r\n") {
		t.Fatalf("valid field missing:\n%s", h)
	}
}

// A buffered write past SetContentLength fails, and the response becomes a 500.
func TestSetContentLengthOverrunWhileBuffered(t *testing.T) {
	errc := make(chan error, 1)
	c := serveTest(t, func(w *ResponseWriter, r *Request) {
		w.SetContentLength(3)
		w.WriteString("abc")
		_, err := w.Write([]byte("d"))
		errc <- err
	}, nil)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 500") {
		t.Fatalf("status line %q, want a 500: the declared framing cannot be met", line)
	}
	if err := <-errc; err != ErrContentLength {
		t.Fatalf("Write past the declared length: %v", err)
	}
}

// ReadFrom for a HEAD request with a declared length neither sends nor reads the file.
func TestReadFromHEADDoesNotReadFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Repeat("x", 100000))
	f.Seek(0, io.SeekStart)
	offset := make(chan int64, 1)
	c := serveTest(t, func(w *ResponseWriter, r *Request) {
		w.SetContentLength(100000)
		w.ReadFrom(f)
		off, _ := f.Seek(0, io.SeekCurrent)
		offset <- off
	}, nil)
	fmt.Fprint(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	head, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "HTTP/1.1 200") {
		t.Fatalf("%q %v", head, err)
	}
	if off := <-offset; off != 0 {
		t.Fatalf("the file was read (%d bytes) for a HEAD request", off)
	}
}
