package proxy_test

import (
	"context"
	"fmt"
	"net"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
)

// listen serves h on a free loopback port; it returns the address and a stop function.
func listen(h server.Handler) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &server.Server{Handler: h}
	go s.Serve(ln)
	return ln.Addr().String(), func() { s.Close() }
}

// A reverse proxy in front of one origin, with a wrapper on the Exchanger seam that
// adds a response field, the way a cache adds Cache-Status.
func Example() {
	origin, stopOrigin := listen(server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteString("hello from " + string(r.Path()))
	}))
	defer stopOrigin()

	bal, err := proxy.NewBalancer(proxy.RoundRobin, "http://"+origin)
	if err != nil {
		panic(err)
	}
	upstream := &client.Client{}
	defer upstream.Close()
	tr := &proxy.Transport{Client: upstream, Upstreams: bal}
	tagged := proxy.ExchangerFunc(func(ctx context.Context, x *proxy.Exchange) error {
		if err := tr.Exchange(ctx, x); err != nil {
			return err
		}
		x.Resp.Header.Add("X-Seen-By", "example wrapper")
		return nil
	})
	p := &proxy.Proxy{Exchanger: tagged, Reverse: true, Name: "edge"}
	front, stopProxy := listen(p)
	defer stopProxy()

	c := &client.Client{}
	defer c.Close()
	var req client.Request
	var resp client.Response
	req.SetURL("http://" + front + "/page")
	if err := c.Do(&req, &resp); err != nil {
		panic(err)
	}
	fmt.Println(resp.Status, string(resp.Body))
	fmt.Println("Via:", string(resp.Header.Get("Via")))
	fmt.Println("X-Seen-By:", string(resp.Header.Get("X-Seen-By")))
	// Output:
	// 200 hello from /page
	// Via: 1.1 edge
	// X-Seen-By: example wrapper
}
