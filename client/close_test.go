package client

import (
	"bufio"
	"io"
	"net"
	"net/textproto"
	"testing"
	"time"
)

// A connection that is not kept is closed gracefully: the client shuts down its write
// side and reads until the server's FIN before it closes, so that what the server
// sends after the response (TLS's close_notify, a session ticket, late bytes) meets an
// open socket instead of drawing a reset that the server sees as an error.
func TestCloseWaitsForServerEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		lateErr error // writing after the response
		eof     error // reading after the server's own FIN
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{lateErr: err}
			return
		}
		defer c.Close()
		tp := textproto.NewReader(bufio.NewReader(c))
		for {
			line, err := tp.ReadLine()
			if err != nil {
				done <- result{lateErr: err}
				return
			}
			if line == "" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		// A client that closes at once is gone by now; bytes sent to it draw a reset,
		// and the write after that fails.
		time.Sleep(150 * time.Millisecond)
		io.WriteString(c, "late")
		time.Sleep(150 * time.Millisecond)
		_, late := io.WriteString(c, "later")
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, eof := c.Read(make([]byte, 16))
		done <- result{late, eof}
	}()
	cl := newClient(t, &Client{})
	resp := get(t, cl, "http://"+ln.Addr().String()+"/")
	if resp.Status != 200 || string(resp.Body) != "ok" {
		t.Fatalf("status %d body %q", resp.Status, resp.Body)
	}
	r := <-done
	if r.lateErr != nil {
		t.Errorf("server's write after the response: %v (the client reset the connection)", r.lateErr)
	}
	if r.eof != io.EOF {
		t.Errorf("server's read after its FIN: %v, want EOF (the client's FIN)", r.eof)
	}
}
