package proxy

import (
	"net"
	"testing"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/wire"
)

const helloResponse = "HTTP/1.1 200 OK\r\nServer: canned\r\nDate: Mon, 07 Dec 2026 00:00:00 GMT\r\n" +
	"Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// benchProxied measures one keep-alive request through the reverse proxy: a hop client
// on one connection to the proxy (a hop server), which forwards it over its pooled
// upstream connection to a canned origin that allocates nothing. allocs/op counts the
// whole process — client, server and proxy — so 0 means the proxied path allocates
// nothing.
func benchProxied(b *testing.B) {
	origin := testnet.Canned(b, []byte(helloResponse))
	addr, _ := reverseProxy(b, nil, "http://"+origin)
	url := "http://" + addr + "/hello"
	cl := &client.Client{}
	defer cl.Close()
	var req client.Request
	var resp client.Response
	req.SetURL(url)
	req.Header.Add("User-Agent", "bench")
	req.Header.Add("Accept", "*/*")
	for range 10 {
		if err := cl.Do(&req, &resp); err != nil || resp.Status != 200 {
			b.Fatalf("%v %d", err, resp.Status)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := cl.Do(&req, &resp); err != nil || resp.Status != 200 || len(resp.Body) != 13 {
			b.Fatalf("%v %d %q", err, resp.Status, resp.Body)
		}
	}
}

func BenchmarkProxiedHelloReverse(b *testing.B) { benchProxied(b) }

// BenchmarkProxiedHelloForward sends absolute-form requests from a raw socket (hop's
// client allocates a proxy key per request when it uses a proxy, which is not the
// proxy's cost) and reads each 13-byte response through wire's parser.
func BenchmarkProxiedHelloForward(b *testing.B) {
	origin := testnet.Canned(b, []byte(helloResponse))
	addr, _ := forwardProxy(b, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	reqBytes := []byte("GET http://" + origin + "/hello HTTP/1.1\r\nHost: " + origin + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	var p wire.Parser
	var resp wire.Response
	one := func() {
		if _, err := c.Write(reqBytes); err != nil {
			b.Fatal(err)
		}
		n := 0
		p.Reset()
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				b.Fatal(err)
			}
			n += m
			hl, err := p.ParseResponse(buf[:n], &resp, []byte("GET"))
			if err == wire.ErrNeedMore {
				continue
			}
			if err != nil || resp.Status != 200 {
				b.Fatalf("%v %d", err, resp.Status)
			}
			if n >= hl+int(resp.ContentLength) {
				return
			}
		}
	}
	for range 10 {
		one()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		one()
	}
}
