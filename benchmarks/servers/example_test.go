package servers_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hop-http/hop/benchmarks/internal/plainclient"
	"github.com/hop-http/hop/benchmarks/servers"
)

// Every implementation gives the same answer.
func ExampleNew() {
	for _, impl := range servers.Impls {
		s, err := servers.New(impl)
		if err != nil {
			panic(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		go s.Serve(ln)
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		nc.Write(plainclient.Request("localhost", false))
		var resp plainclient.Response
		if err := plainclient.NewReader(nc, 4096).Read(&resp); err != nil {
			panic(err)
		}
		fmt.Printf("%-11s %d %s %q %s\n", impl, resp.Status, resp.Header.Get("Content-Type"),
			resp.Body, resp.Header.Get("Server"))
		nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.Shutdown(ctx)
		cancel()
	}
	// Output:
	// hop         200 text/plain "Hello, World!" plainserver
	// hop-adapter 200 text/plain "Hello, World!" plainserver
	// fasthttp    200 text/plain "Hello, World!" plainserver
	// nethttp     200 text/plain "Hello, World!" plainserver
	// gnet        200 text/plain "Hello, World!" plainserver
}
