package client_test

import (
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/server"
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
