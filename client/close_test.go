package client

import (
	"bufio"
	"io"
	"net"
	"net/textproto"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
)

// A connection that is not kept is closed gracefully: the client shuts down its write
// side and reads until the server's FIN before it closes, so that what the server
// sends after the response (TLS's close_notify, a session ticket, late bytes) meets an
// open socket instead of drawing a reset that the server sees as an error. This holds
// for every way a cleanly ended exchange lets go of its connection: the server asked
// to close (Do, DoPipeline), or the client keeps no idle connection
// (MaxIdleConnsPerHost < 0).
func TestCloseWaitsForServerEnd(t *testing.T) {
	const closing = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
	do := func(t *testing.T, cl *Client, url string) *Response { return get(t, cl, url) }
	pipelined := func(t *testing.T, cl *Client, url string) *Response {
		var req Request
		req.SetURL(url)
		resp := &Response{}
		if err := cl.DoPipeline([]*Request{&req}, []*Response{resp}, 4); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, tc := range []struct {
		name   string
		cl     *Client
		answer string
		run    func(*testing.T, *Client, string) *Response
	}{
		{"Do", &Client{}, closing, do},
		{"DoPipeline", &Client{}, closing, pipelined},
		{"no idle connections kept", &Client{MaxIdleConnsPerHost: -1},
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", do},
	} {
		t.Run(tc.name, func(t *testing.T) { testCloseWaitsForServerEnd(t, tc.cl, tc.answer, tc.run) })
	}
}

func testCloseWaitsForServerEnd(t *testing.T, cl *Client, answer string, run func(*testing.T, *Client, string) *Response) {
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
		io.WriteString(c, answer)
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
	newClient(t, cl)
	resp := run(t, cl, "http://"+ln.Addr().String()+"/")
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

// A connection closing gracefully still holds its slot: with MaxConnsPerHost 1 and a
// server slow to send its FIN after Connection: close, the next request waits for the
// socket to be closed instead of opening a second one.
func TestClosingCountsAgainstMaxConns(t *testing.T) {
	var mu sync.Mutex
	open, peak := 0, 0 // server connections not closed yet by the server
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		mu.Lock()
		open++
		peak = max(peak, open)
		mu.Unlock()
		defer func() {
			mu.Lock()
			open--
			mu.Unlock()
		}()
		rr := &reqReader{c: c}
		if _, err := rr.next(nil); err != nil {
			return
		}
		io.WriteString(c, okResponse("ok", "Connection: close"))
		time.Sleep(300 * time.Millisecond) // the FIN comes late
	})
	cl := newClient(t, &Client{MaxConnsPerHost: 1})
	for i := 0; i < 3; i++ {
		if r := get(t, cl, url+"/"); string(r.Body) != "ok" {
			t.Fatalf("body %q", r.Body)
		}
	}
	testnet.WaitFor(t, "the last socket to close", func() bool { return cl.Stats().Closing == 0 })
	mu.Lock()
	defer mu.Unlock()
	if peak != 1 {
		t.Errorf("%d connections open at once, want at most MaxConnsPerHost = 1", peak)
	}
	if s := cl.Stats(); s.Closed != 3 || s.Open != 0 || s.Active != 0 || s.NewConns != 3 {
		t.Errorf("stats %+v", s)
	}
}
