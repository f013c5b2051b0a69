package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/hop-http/hop/internal/testnet"
)

// TestBodyWaits: BodyWaits is true exactly when the next body read would wait for the
// network — the server paused with nothing of the body buffered — for each framing,
// and false once the body ended.
func TestBodyWaits(t *testing.T) {
	for _, tc := range []struct {
		name, head, first, rest, want string
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "hello", "world", "helloworld"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n", "5\r\nworld\r\n0\r\n\r\n", "helloworld"},
		{"chunked, data CRLF held back", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello", "\r\n5\r\nworld\r\n0\r\n\r\n", "helloworld"},
		{"close-delimited", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "hello", "world", "helloworld"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goOn := make(chan struct{})
			addr := testnet.Raw(t, func(c net.Conn, _ int) {
				testnet.SkipHead(c)
				io.WriteString(c, tc.head+tc.first)
				<-goOn
				io.WriteString(c, tc.rest)
				if tc.name == "close-delimited" {
					c.Close()
				}
			})
			cl := &Client{}
			defer cl.Close()
			var req Request
			var resp Response
			req.SetURL("http://" + addr + "/")
			if err := cl.DoStream(&req, &resp); err != nil {
				t.Fatal(err)
			}
			defer resp.Close()
			body := resp.BodyReader()
			buf := make([]byte, 5)
			if _, err := io.ReadFull(body, buf); err != nil || string(buf) != "hello" {
				t.Fatalf("first part %q, %v", buf, err)
			}
			if !resp.BodyWaits() {
				t.Error("BodyWaits false with the server paused and nothing buffered")
			}
			close(goOn)
			rest, err := io.ReadAll(body)
			if err != nil || "hello"+string(rest) != tc.want {
				t.Fatalf("rest %q, %v", rest, err)
			}
			if resp.BodyWaits() {
				t.Error("BodyWaits true after the end of the body")
			}
		})
	}
}

// TestBodyWaitsBuffered: with the rest of the body already buffered, the next read
// does not wait.
func TestBodyWaitsBuffered(t *testing.T) {
	for _, resp := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhelloworld",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
	} {
		addr := testnet.Canned(t, []byte(resp))
		cl := &Client{}
		var req Request
		var r Response
		req.SetURL("http://" + addr + "/")
		if err := cl.DoStream(&req, &r); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.BodyReader(), buf); err != nil {
			t.Fatal(err)
		}
		if r.BodyWaits() {
			t.Errorf("%q: BodyWaits true with the rest buffered", resp)
		}
		r.Close()
		cl.Close()
	}
}

// countingConn counts the Read calls made on a connection.
type countingConn struct {
	net.Conn
	reads *int
}

func (c countingConn) Read(p []byte) (int, error) { *c.reads++; return c.Conn.Read(p) }

// A long chunked body is read in pieces larger than the 4 KiB read buffer the head
// needs: 8 MiB took about 2,050 reads, now about 260 (a proxy streaming a chunked
// upstream body pays one read per piece).
func TestChunkedBodyLargeReads(t *testing.T) {
	const size = 8 << 20
	chunk := strings.Repeat("x", 64<<10)
	addr := testnet.Raw(t, func(c net.Conn, _ int) {
		testnet.SkipHead(c)
		bw := bufio.NewWriterSize(c, 256<<10)
		io.WriteString(bw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		for range size / len(chunk) {
			fmt.Fprintf(bw, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		io.WriteString(bw, "0\r\n\r\n")
		bw.Flush()
	})
	reads := 0
	cl := &Client{Dial: func(ctx context.Context, network, a string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, a)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &reads}, nil
	}}
	defer cl.Close()
	var req Request
	var resp Response
	req.SetURL("http://" + addr + "/")
	if err := cl.DoStream(&req, &resp); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.BodyReader())
	resp.Close()
	if err != nil || n != size {
		t.Fatalf("body: %d bytes, %v", n, err)
	}
	if reads > size/(16<<10) {
		t.Errorf("%d reads for a %d MiB chunked body, want at most %d", reads, size>>20, size/(16<<10))
	}
	t.Logf("%d reads", reads)
}
