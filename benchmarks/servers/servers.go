// Package servers holds the plaintext servers the side-by-side benchmarks compare: hop's
// native engine, hop through its net/http adapter, fasthttp, net/http, and gnet v2's
// event loop with minimal parsing (not an HTTP server: the floor of "no goroutine per
// request", see gnet.go). Every one
// answers every request alike, by the TechEmpower plaintext rules: status 200, body
// "Hello, World!", Content-Type: text/plain, and Server, Date and Content-Length
// fields. The Server field carries the same value for all of them so that responses
// have the same length and only the engine differs.
package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/valyala/fasthttp"
)

// Body is the response body of every implementation.
const Body = "Hello, World!"

// Name is the value of the Server field every implementation sends.
const Name = "plainserver"

// ContentType is the Content-Type every implementation sends.
const ContentType = "text/plain"

// Implementation names accepted by New.
const (
	Hop        = "hop"         // hop's native server.Handler
	HopAdapter = "hop-adapter" // hop serving a net/http Handler through server.FromHTTP
	FastHTTP   = "fasthttp"    // github.com/valyala/fasthttp v1.70.0
	NetHTTP    = "nethttp"     // the standard library's net/http
	Gnet       = "gnet"        // github.com/panjf2000/gnet/v2 v2.9.7, event loop, minimal parsing
	// HopNoPark is hop's native handler with parking of idle connections disabled
	// (server.Server.DisablePark): every idle connection keeps its goroutine. It shows
	// what parking saves; it is not part of the default tables' comparisons.
	HopNoPark = "hop-nopark"
)

// Impls lists the implementations the throughput tables compare, in table order.
var Impls = []string{Hop, HopAdapter, FastHTTP, NetHTTP, Gnet}

// IdleImpls lists the implementations the idle-connection table compares: Impls plus
// HopNoPark. It is also every name New accepts.
var IdleImpls = []string{Hop, HopNoPark, HopAdapter, FastHTTP, NetHTTP, Gnet}

// ErrUnknownImpl is returned by New for a name not in IdleImpls.
var ErrUnknownImpl = errors.New("servers: unknown implementation")

var (
	hello        = []byte(Body)
	helloLength  = strconv.Itoa(len(Body))
	contentType  = []byte(ContentType)
	helloHeaders = http.Header{ // shared, read-only template for net/http handlers
		"Content-Type":   {ContentType},
		"Content-Length": {helloLength},
		"Server":         {Name},
	}
)

// HopHandler returns the native hop handler.
func HopHandler() server.Handler {
	return server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Content-Type", ContentType)
		w.Write(hello)
	})
}

// NetHTTPHandler returns the net/http handler used by both the nethttp and the
// hop-adapter implementations.
func NetHTTPHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range helloHeaders {
			h[k] = v
		}
		w.Write(hello)
	})
}

// FastHTTPHandler is the fasthttp request handler.
func FastHTTPHandler(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetContentTypeBytes(contentType)
	ctx.Response.SetBodyRaw(hello)
}

// NewHopServer returns a hop server with the native handler, or with the net/http
// handler through server.FromHTTP when adapter is set.
func NewHopServer(adapter bool) *server.Server {
	h := HopHandler()
	if adapter {
		h = server.FromHTTP(NetHTTPHandler())
	}
	return &server.Server{Handler: h, Name: Name}
}

// NewFastHTTPServer returns a fasthttp server with default settings and the shared
// Server name.
func NewFastHTTPServer() *fasthttp.Server {
	return &fasthttp.Server{Handler: FastHTTPHandler, Name: Name}
}

// NewNetHTTPServer returns a net/http server with default settings (HTTP/1.1 only).
func NewNetHTTPServer() *http.Server {
	s := &http.Server{Handler: NetHTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	s.SetKeepAlivesEnabled(true)
	return s
}

// Server is one running implementation.
type Server interface {
	// Serve accepts connections on ln until Shutdown; it returns nil after Shutdown.
	Serve(ln net.Listener) error
	// Shutdown stops accepting, closes idle connections and waits for the rest until
	// ctx is done.
	Shutdown(ctx context.Context) error
}

// SelfListener is a Server that can also listen itself: ListenAndServe listens on
// addr, calls ready once it accepts connections and serves until Shutdown (then it
// returns nil). plainserver prefers it to Serve: gnet's own accept path is the one to
// measure.
type SelfListener interface {
	Server
	ListenAndServe(addr string, ready func()) error
}

// Listen opens the listener plainserver serves impl on, the way that implementation
// listens by itself: hop's server.Listen (no TCP keep-alive probes; the idle timeout
// bounds dead peers) for hop's implementations, net.Listen for the others (what
// fasthttp.ListenAndServe and http.ListenAndServe do).
func Listen(impl, addr string) (net.Listener, error) {
	switch impl {
	case Hop, HopAdapter, HopNoPark:
		return server.Listen("tcp", addr)
	}
	return net.Listen("tcp", addr)
}

// New returns the implementation named impl, ready to Serve.
func New(impl string) (Server, error) {
	switch impl {
	case Hop, HopAdapter:
		return hopServer{NewHopServer(impl == HopAdapter)}, nil
	case HopNoPark:
		s := NewHopServer(false)
		s.DisablePark = true
		return hopServer{s}, nil
	case FastHTTP:
		return fastServer{NewFastHTTPServer()}, nil
	case NetHTTP:
		return netServer{NewNetHTTPServer()}, nil
	case Gnet:
		return newGnetServer(), nil
	}
	return nil, fmt.Errorf("%w %q (want one of %v)", ErrUnknownImpl, impl, IdleImpls)
}

type hopServer struct{ s *server.Server }

func (h hopServer) Serve(ln net.Listener) error {
	if err := h.s.Serve(ln); err != server.ErrServerClosed {
		return err
	}
	return nil
}

func (h hopServer) Shutdown(ctx context.Context) error { return h.s.Shutdown(ctx) }

type fastServer struct{ s *fasthttp.Server }

func (f fastServer) Serve(ln net.Listener) error { return f.s.Serve(ln) }

func (f fastServer) Shutdown(ctx context.Context) error { return f.s.ShutdownWithContext(ctx) }

type netServer struct{ s *http.Server }

func (n netServer) Serve(ln net.Listener) error {
	if err := n.s.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

func (n netServer) Shutdown(ctx context.Context) error { return n.s.Shutdown(ctx) }
