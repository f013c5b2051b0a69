package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/internal/park"
	"github.com/hop-http/hop/wire"
)

// Handler responds to one request. The Request and ResponseWriter are valid only for the
// duration of the call: a handler that keeps them, or any byte slice obtained from
// them, after returning must copy what it needs.
type Handler interface {
	ServeHOP(w *ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to the Handler interface.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeHOP calls f(w, r).
func (f HandlerFunc) ServeHOP(w *ResponseWriter, r *Request) { f(w, r) }

// Defaults for the Server's zero-valued fields (see "Settings" in the package doc: zero
// means the default, a negative value means none).
const (
	DefaultIdleTimeout        = 60 * time.Second
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultBodyReadTimeout    = 30 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
	DefaultMaxRequestsPerConn = 100000
	DefaultMaxBodyDrain       = 256 << 10
	DefaultLingerTimeout      = 2 * time.Second
	DefaultLingerBytes        = 4 << 20
	DefaultReadBufferSize     = 4 << 10
	DefaultResponseBuffer     = 64 << 10
)

// minReadBuffer is the read buffer of a negative ReadBufferSize.
const minReadBuffer = 512

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("hop/server: server closed")

// Server serves HTTP/1.1 on one or more listeners. Fields must not change after Serve
// starts. The zero value with a Handler is a working server with the defaults above.
// Every numeric field follows one rule: zero means the documented default, a negative
// value means none (no timeout, no limit, no allowance).
type Server struct {
	// Addr is the TCP address for ListenAndServe (default "127.0.0.1:8080").
	Addr string
	// Handler handles every request.
	Handler Handler
	// Name is sent in the Server field of every response unless the handler set one;
	// default "hop". Set to "-" to send no Server field.
	Name string
	// Limits bound what the request parser accepts (see wire.Limits, whose zero fields
	// are its defaults too).
	Limits wire.Limits

	// IdleTimeout bounds the wait for the next request on a kept connection (and for the
	// first one on a new connection). Default 60s; negative: no timeout.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds the time from the first byte of a request to the end of
	// its head (and a TLS handshake). Default 10s; negative: no timeout.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds each read of a request body. Default 30s; negative: no
	// timeout.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds each write to the connection. Default 30s; negative: no
	// timeout.
	WriteTimeout time.Duration
	// MaxRequestsPerConn ends a connection after this many requests; the last response
	// carries Connection: close. Default 100,000; negative: no limit.
	MaxRequestsPerConn int
	// MaxBodyDrain is how much of a request body the handler left unread the server
	// reads and discards so that the connection can carry the next request, counted in
	// bytes read from the connection (chunk lines and extensions included). The drain
	// as a whole must also end within the shorter of BodyReadTimeout and LingerTimeout
	// (those that are on). A remainder that is larger, or slower, closes the
	// connection after the response instead. Default 256 KiB; negative: nothing is
	// drained.
	MaxBodyDrain int64
	// MaxRequestBody rejects requests with a larger declared body with 413, and fails
	// reads of chunked bodies that grow past it. Default and negative: no limit (a
	// handler bounds what it reads, e.g. with Request.ReadBody).
	MaxRequestBody int64
	// LingerTimeout and LingerBytes bound the lingering close (see the package doc).
	// Defaults 2s and 4 MiB; a negative value in either turns lingering off: the
	// connection closes as soon as its last response is written, which risks a reset
	// destroying that response when the client is still sending.
	LingerTimeout time.Duration
	LingerBytes   int64
	// ReadBufferSize is the initial read buffer of a connection; it grows up to the
	// largest head the Limits admit. Default 4 KiB; negative: the smallest, 512 bytes.
	ReadBufferSize int
	// ResponseBuffer is how much response body is buffered before the server commits the
	// head and starts streaming (chunked unless a length was set). Default 64 KiB;
	// negative: none, every write streams.
	ResponseBuffer int
	// DisableNoDelay turns Nagle's algorithm back on (see the package doc).
	DisableNoDelay bool
	// TLSConfig, when set, makes Serve wrap accepted connections in TLS. The server
	// speaks HTTP/1.1 only: h2 and h2c are taken out of NextProtos (a configuration
	// copied from a net/http setup offers h2, which a client would then speak to a
	// server that does not), http/1.1 is put first, and other protocols stay.
	TLSConfig *tls.Config
	// Logger receives handler panics and accept errors; nil means slog.Default().
	Logger *slog.Logger
	// DisablePark keeps a goroutine on every idle connection instead of parking it in
	// the epoll set (see "Idle connections and parking" in park.go).
	DisablePark bool
	// ParkAfter is how long an idle connection keeps its goroutine before it is parked.
	// Default 1s; negative: no grace, it parks at once.
	ParkAfter time.Duration
	// ParkGraceConns: when more connections than this hold a goroutine, idle ones park
	// at once, which bounds the memory of many idle connections. Default 128; negative:
	// none get the grace.
	ParkGraceConns int
	// DetachAbove: when at least this many connections are parked, plain TCP
	// connections that park are detached from Go's socket state (see park.go). Default
	// 1024; negative: never.
	DetachAbove int
	// ConnState, when set, is told every change of a connection's state (see
	// ConnState): New once, then Active, Idle and Parked as they alternate, and last
	// Closed or TakenOver. Calls for one connection come one at a time, in order, from
	// whichever goroutine serves it at that moment; they must not block. The ConnInfo
	// holds values only, so the hook works for detached connections too. Server.Stats
	// gives the same picture as counts, without a hook.
	ConnState func(ConnInfo, ConnState)

	mu        sync.Mutex
	listeners map[*net.Listener]struct{} // keyed by pointer: listener values may be unhashable
	conns     map[*conn]struct{}
	closing   atomic.Bool
	connWG    sync.WaitGroup
	nextID    atomic.Uint64
	active    atomic.Int64 // connections holding a goroutine
	detaches  atomic.Int64 // parked sockets detached from Go's runtime, ever
	stats     counters
	parkOnce  sync.Once
	parker    atomic.Pointer[park.Parker]
	workOnce  sync.Once
	stopOnce  sync.Once
	handoff   chan net.Conn // accepted connections to a waiting goroutine (workers.go)
	stopWork  chan struct{} // closed by Shutdown and Close
}

// The settings as used. Zero fields get their default; negative ones none, which the
// accessors return as 0 for timeouts (no deadline) and -1 for amounts.

// timeout applies the rule to a timeout: none is 0.
func timeout(v, d time.Duration) time.Duration {
	switch {
	case v == 0:
		return d
	case v < 0:
		return 0
	}
	return v
}

// amount applies the rule to a count or size: none is -1.
func amount[T int | int64](v, d T) T {
	switch {
	case v == 0:
		return d
	case v < 0:
		return -1
	}
	return v
}

func (s *Server) idleTimeout() time.Duration { return timeout(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Server) headerTimeout() time.Duration {
	return timeout(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
}
func (s *Server) bodyTimeout() time.Duration {
	return timeout(s.BodyReadTimeout, DefaultBodyReadTimeout)
}
func (s *Server) writeTimeout() time.Duration { return timeout(s.WriteTimeout, DefaultWriteTimeout) }
func (s *Server) maxRequests() int            { return amount(s.MaxRequestsPerConn, DefaultMaxRequestsPerConn) }
func (s *Server) maxDrain() int64             { return amount(s.MaxBodyDrain, DefaultMaxBodyDrain) }
func (s *Server) maxRequestBody() int64       { return amount(s.MaxRequestBody, -1) }
func (s *Server) lingerBytes() int64          { return amount(s.LingerBytes, DefaultLingerBytes) }

// drainTimeout returns the time the drain of an unread body may take in all (0: no
// bound): the shorter of the body read timeout and the linger time, those that are on.
func (s *Server) drainTimeout() time.Duration {
	d := s.bodyTimeout()
	if l := s.lingerTimeout(); l > 0 && (d == 0 || l < d) {
		d = l
	}
	return d
}

// lingerTimeout returns the linger time, or -1 when lingering is off.
func (s *Server) lingerTimeout() time.Duration {
	if s.LingerTimeout < 0 {
		return -1
	}
	return timeout(s.LingerTimeout, DefaultLingerTimeout)
}

func (s *Server) readBufferSize() int {
	if s.ReadBufferSize < 0 {
		return minReadBuffer
	}
	return amount(s.ReadBufferSize, DefaultReadBufferSize)
}

// responseBuffer returns how much body is buffered before committing (0: none).
func (s *Server) responseBuffer() int { return max(amount(s.ResponseBuffer, DefaultResponseBuffer), 0) }

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ListenAndServe listens on s.Addr and serves until Shutdown or Close. Its listener
// sets no TCP keep-alive probes on accepted connections (see Listen) unless
// IdleTimeout is negative.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	lc := net.ListenConfig{KeepAlive: -1}
	if s.IdleTimeout < 0 {
		lc.KeepAlive = 0 // Go's default probes find dead peers no timeout will
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ListenAndServeTLS is ListenAndServe with TLS from the given certificate files.
func (s *Server) ListenAndServeTLS(certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	if s.TLSConfig == nil {
		s.TLSConfig = &tls.Config{}
	}
	s.TLSConfig.Certificates = append(s.TLSConfig.Certificates, cert)
	return s.ListenAndServe()
}

// Serve accepts connections on ln and serves each on its own goroutine until Shutdown
// or Close; it then returns ErrServerClosed. Temporary accept errors, including
// running out of file descriptors, are retried with a bounded back-off and logged once
// per burst.
func (s *Server) Serve(ln net.Listener) error {
	if s.Handler == nil {
		return errors.New("hop/server: nil Handler")
	}
	var tlsConf *tls.Config
	if s.TLSConfig != nil {
		tlsConf = s.TLSConfig.Clone()
		tlsConf.NextProtos = http1Protos(tlsConf.NextProtos)
	}
	if !s.track(&ln, true) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.track(&ln, false)
	s.startParker()
	s.startWorkers()
	var backoff time.Duration
	logged := false
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				s.stats.acceptErrs.Add(1)
				if backoff == 0 {
					backoff = 5 * time.Millisecond
				} else if backoff *= 2; backoff > time.Second {
					backoff = time.Second
				}
				if !logged {
					s.logger().Warn("hop: accept failed; backing off", "err", err)
					logged = true
				}
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff, logged = 0, false
		if tc, ok := nc.(*net.TCPConn); ok && s.DisableNoDelay {
			tc.SetNoDelay(false)
		}
		if tlsConf != nil {
			nc = tls.Server(nc, tlsConf)
		}
		if !s.admit() {
			nc.Close()
			continue
		}
		s.dispatch(nc)
	}
}

func isTemporary(err error) bool {
	var ne interface{ Temporary() bool }
	if errors.As(err, &ne) && ne.Temporary() {
		return true
	}
	return errors.Is(err, errEMFILE) || errors.Is(err, errENFILE) ||
		errors.Is(err, errECONNABORTED) || errors.Is(err, errENOBUFS) || errors.Is(err, errENOMEM)
}

func (s *Server) track(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

// admit counts a newly accepted connection, unless the server is closing. The
// connection's state is allocated later, on its own goroutine, so a burst of accepts
// does not pile up buffers in the accept loop.
func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.connWG.Add(1)
	s.stats.accepted.Add(1)
	return true
}

// serveNew runs a newly accepted connection on its own goroutine.
func (s *Server) serveNew(nc net.Conn) {
	c := newConn(s, nc)
	s.activate(c)
	c.serve()
}

// untrackConn forgets a connection that holds a goroutine; final means it is closed.
func (s *Server) untrackConn(c *conn, final bool) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.active.Add(-1)
	if final {
		s.connWG.Done()
	}
}

// deactivate forgets the state of a connection that is being parked.
func (s *Server) deactivate(c *conn) { s.untrackConn(c, false) }

// activate registers the state of a connection that got a goroutine again.
func (s *Server) activate(c *conn) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.active.Add(1)
}

// Shutdown stops the server gracefully: it closes the listeners, closes idle
// connections, lets active requests finish (their responses carry Connection: close)
// and waits for every connection to end or for ctx to be done, whichever comes first;
// then it closes what is left and returns ctx's error, if any.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.stopWorkers()
	s.mu.Lock()
	for ln := range s.listeners {
		(*ln).Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeIdle()
		if s.parker.Load() != nil {
			s.parker.Load().CloseAll(s.closeParked)
		}
		select {
		case <-done:
			if s.parker.Load() != nil {
				s.parker.Load().Close(s.closeParked)
			}
			return nil
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle wakes every connection waiting for a new request so that it notices the
// shutdown and closes.
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		// A connection waiting for its first or next request is woken; readIdle sees
		// the state it left changed and ends the connection.
		if c.state.CompareAndSwap(uint32(StateIdle)|waiting, uint32(StateClosed)) ||
			c.state.CompareAndSwap(uint32(StateNew)|waiting, uint32(StateClosed)) {
			c.nc.SetReadDeadline(aLongTimeAgo)
		}
	}
}

// Close closes the listeners and every connection immediately.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.stopWorkers()
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		(*ln).Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	if s.parker.Load() != nil {
		go s.parker.Load().Close(s.closeParked)
	}
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

// http1Protos returns the ALPN list the server offers: http/1.1 first, then the
// protocols of protos other than HTTP/2's and http/1.1 itself.
func http1Protos(protos []string) []string {
	out := []string{"http/1.1"}
	for _, p := range protos {
		if p != "h2" && p != "h2c" && p != "http/1.1" {
			out = append(out, p)
		}
	}
	return out
}
