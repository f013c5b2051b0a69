package servers

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// The gnet peer: gnet v2's event loop (one epoll loop per core, no goroutine per
// connection or request) with the minimal parsing of the TechEmpower gnet entry: a
// request is whatever ends in an empty line, and the only field looked at is
// "Connection: close" (exactly so spelled, the way the load generators send it). It is
// the anchor for "no goroutine per request", not an HTTP server: it answers every head
// with the plaintext response, whatever it asks for, and never reads a body.

// gnetResponse is the answer to one request: the same status line, fields and body as
// the other implementations, with the Date of the current second.
type gnetResponse struct {
	keep, close []byte
}

func makeGnetResponse(now time.Time) *gnetResponse {
	head := "HTTP/1.1 200 OK\r\nServer: " + Name + "\r\nDate: " + now.UTC().Format(http.TimeFormat) +
		"\r\nContent-Type: " + ContentType + "\r\nContent-Length: " + helloLength + "\r\n"
	return &gnetResponse{
		keep:  []byte(head + "\r\n" + Body),
		close: []byte(head + "Connection: close\r\n\r\n" + Body),
	}
}

var (
	headEnd      = []byte("\r\n\r\n")
	closeRequest = []byte("\r\nConnection: close\r\n")
)

type gnetServer struct {
	gnet.BuiltinEventEngine
	eng     gnet.Engine
	resp    atomic.Pointer[gnetResponse]
	booted  chan struct{}
	done    chan struct{} // closed by Shutdown
	stopped atomic.Bool
	out     []byte // the event loop's response batch (one loop: GOMAXPROCS=1)
}

func newGnetServer() *gnetServer {
	s := &gnetServer{booted: make(chan struct{}), done: make(chan struct{})}
	s.resp.Store(makeGnetResponse(time.Now()))
	return s
}

// Serve serves the connections accepted on ln: gnet cannot take a net.Listener, so
// its engine listens on a spare loopback port and each connection accepted here is
// handed to the event loop (gnet duplicates its descriptor). That costs a goroutine's
// accept and a dup per connection, which gnet's own accept does not: plainserver uses
// ListenAndServe, where gnet listens and accepts itself.
func (s *gnetServer) Serve(ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.run("127.0.0.1:0") }()
	select {
	case <-s.booted:
	case err := <-errc:
		ln.Close()
		return err
	}
	go func() {
		<-s.done
		ln.Close()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.stopped.Load() {
				return <-errc
			}
			return err
		}
		if _, err := s.eng.Register(gnet.NewNetConnContext(context.Background(), nc)); err != nil {
			nc.Close()
		}
	}
}

// ListenAndServe runs gnet's engine listening on addr itself; ready is called once it
// accepts connections.
func (s *gnetServer) ListenAndServe(addr string, ready func()) error {
	go func() {
		<-s.booted
		ready()
	}()
	return s.run(addr)
}

func (s *gnetServer) run(addr string) error {
	// SO_REUSEADDR as Go's listeners set it: after a Connection: close run the port's
	// server-side TIME_WAIT sockets would otherwise refuse the bind.
	err := gnet.Run(s, "tcp://"+addr, gnet.WithMulticore(false), gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLoadBalancing(gnet.LeastConnections),
		gnet.WithReuseAddr(true), gnet.WithLogger(quietLogger{}))
	if s.stopped.Load() {
		return nil
	}
	return err
}

// Shutdown stops the engine (closing every connection).
func (s *gnetServer) Shutdown(ctx context.Context) error {
	select {
	case <-s.booted:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.stopped.Store(true)
	defer close(s.done)
	return s.eng.Stop(ctx)
}

func (s *gnetServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	close(s.booted)
	return gnet.None
}

// OnTick refreshes the Date once a second.
func (s *gnetServer) OnTick() (time.Duration, gnet.Action) {
	s.resp.Store(makeGnetResponse(time.Now()))
	return time.Second, gnet.None
}

// OnTraffic answers every complete head buffered, in one write, and keeps a partial
// one for the next event.
func (s *gnetServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	resp := s.resp.Load()
	out := s.out[:0]
	used, action := 0, gnet.None
	for {
		i := bytes.Index(buf[used:], headEnd)
		if i < 0 {
			break
		}
		head := buf[used : used+i+2]
		used += i + 4
		if bytes.Contains(head, closeRequest) {
			out = append(out, resp.close...)
			action = gnet.Close
			break
		}
		out = append(out, resp.keep...)
	}
	c.Discard(used)
	if len(out) > 0 {
		c.Write(out)
	}
	s.out = out
	return action
}

// quietLogger drops gnet's log lines ("Launching gnet ..." on every start); errors
// surface through Run's result.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
