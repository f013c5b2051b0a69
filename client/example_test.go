package client_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// helloServer starts hop's server on a loopback port for the examples.
func helloServer() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!"))
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

// Reusing one Request and one Response: the second request reuses the connection.
func ExampleClient_Do() {
	base, stop := helloServer()
	defer stop()

	c := &client.Client{}
	defer c.Close()
	var req client.Request
	var resp client.Response
	for i := 0; i < 2; i++ {
		if err := req.SetURL(base + "/"); err != nil {
			fmt.Println(err)
			return
		}
		if err := c.Do(&req, &resp); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%d %s conn #%d reused=%v\n", resp.Status, resp.Body, resp.ConnID, resp.Reused)
	}
	// Output:
	// 200 Hello, World! conn #1 reused=false
	// 200 Hello, World! conn #1 reused=true
}

// A Trace shows what happens on the way to the response.
func ExampleTrace() {
	base, stop := helloServer()
	defer stop()

	c := &client.Client{}
	defer c.Close()
	var req client.Request
	req.SetURL(base + "/")
	req.Trace = &client.Trace{
		GotConn: func(i client.ConnInfo) { fmt.Printf("conn #%d reused=%v\n", i.ID, i.Reused) },
		Done: func(i client.DoneInfo) {
			fmt.Printf("status %d, %d bytes, kept alive: %v\n", i.Status, i.BodyBytes, i.KeptAlive)
		},
	}
	var resp client.Response
	if err := c.Do(&req, &resp); err != nil {
		fmt.Println(err)
	}
	// Output:
	// conn #1 reused=false
	// status 200, 13 bytes, kept alive: true
}

// An http.Client running on hop's connections.
func ExampleTransport() {
	base, stop := helloServer()
	defer stop()

	hc := &http.Client{Transport: &client.Transport{Client: &client.Client{}}}
	resp, err := hc.Get(base + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK Hello, World!
}

func ExampleParseURL() {
	u, err := client.ParseURL("http://[::1]:8080/a b?q=1#top")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Host, u.EffectivePort(), u.RequestURI(), u.Authority())
	_, err = client.ParseURL("ftp://example.com/")
	fmt.Println(err)
	// Output:
	// ::1 8080 /a%20b?q=1 [::1]:8080
	// hop/client: cannot fetch "ftp://example.com/": unsupported scheme "ftp" (hop fetches http and https)
}

// echoUpgradeServer answers every request with 101 Switching Protocols and then
// echoes what it reads, for the examples.
func echoUpgradeServer() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				n, _ := c.Read(buf) // the request head (small, one read on loopback)
				if !strings.Contains(string(buf[:n]), "\r\n\r\n") {
					return
				}
				c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"))
				io.Copy(c, c)
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func() { ln.Close() }
}

// A request with an Upgrade field may switch protocols: after 101 the connection is
// the caller's.
func ExampleResponse_SwitchedConn() {
	base, stop := echoUpgradeServer()
	defer stop()

	c := &client.Client{}
	defer c.Close()
	var req client.Request
	req.SetURL(base + "/chat")
	req.Header.Set("Upgrade", "echo") // sent with Connection: upgrade
	var resp client.Response
	if err := c.Do(&req, &resp); err != nil {
		fmt.Println(err)
		return
	}
	conn := resp.SwitchedConn()
	defer conn.Close()
	conn.Write([]byte("ping"))
	buf := make([]byte, 4)
	io.ReadFull(conn, buf)
	fmt.Println(resp.Status, string(buf), c.Stats().Open)
	// Output: 101 ping 0
}

// Got1xx sees the informational responses before the final one (a proxy forwards
// them to its client from there).
func ExampleTrace_got1xx() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		r.ReadBody(1 << 20) // hop's server sends 100 Continue when the handler reads
	})}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	c := &client.Client{}
	defer c.Close()
	var req client.Request
	req.Method = "PUT"
	req.SetURL(base + "/upload")
	req.Header.Set("Expect", "100-continue")
	req.SetBodyString("data")
	req.Trace = &client.Trace{Got1xx: func(status int, h *wire.Header) error {
		fmt.Println("got", status)
		return nil
	}}
	var resp client.Response
	if err := c.Do(&req, &resp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
	// Output:
	// got 100
	// 200
}

// A request parsed by wire (as a proxy's server parses it) is forwarded without
// copying its head.
func ExampleRequest_UseHeader() {
	base, stop := helloServer()
	defer stop()
	var upstream client.URL
	upstream.Set(base)

	var p wire.Parser
	var in wire.Request
	p.ParseRequest([]byte("GET /page?x=1 HTTP/1.1\r\nHost: www.example\r\nAccept: */*\r\n\r\n"), &in)

	c := &client.Client{}
	defer c.Close()
	var req client.Request
	req.Method = client.Method(in.Method) // no allocation for standard methods
	req.URL = upstream                    // the connection
	req.Target = in.Target                // the request-target, as received
	req.UseHeader(&in.Header)             // the fields, Host included, not copied
	var resp client.Response
	if err := c.Do(&req, &resp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, string(resp.Body))
	// Output: 200 Hello, World!
}

// Trailer fields follow a chunked body; a streamed body's producer may fill them as
// the body ends.
func ExampleRequest_trailer() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		body, _ := r.ReadBody(1 << 20)
		fmt.Fprintf(w, "%s, X-Sum: %s", body, r.Trailer().Get("X-Sum"))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	c := &client.Client{}
	defer c.Close()
	var req client.Request
	req.Method = "POST"
	req.SetURL("http://" + ln.Addr().String() + "/")
	req.SetBodyString("payload")
	req.Trailer = &wire.Header{}
	req.Trailer.Add("X-Sum", "42")
	var resp client.Response
	if err := c.Do(&req, &resp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(resp.Body))
	// Output: payload, X-Sum: 42
}

// A Dialer opens connections as the Client does (resolve, Happy Eyeballs, TLS) under
// one deadline; proxy/ and lab/ use it directly.
func ExampleDialer() {
	base, stop := helloServer()
	defer stop()

	d := &client.Dialer{Timeout: 5 * time.Second}
	var tm client.Timings
	conn, err := d.Dial(context.Background(), strings.TrimPrefix(base, "http://"), tm.Trace(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(conn)
	fmt.Println(strings.HasSuffix(string(b), "Hello, World!"), tm.ConnectDone.After(tm.ConnectStart))
	// Output: true true
}
