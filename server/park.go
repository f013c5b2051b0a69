package server

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/hop-http/hop/internal/park"
)

// Idle connections and parking.
//
// A keep-alive connection spends most of its life idle. After a response, a connection
// with nothing buffered first waits briefly with its goroutine (ParkAfter), so a busy
// connection pays nothing extra; if no request arrives by then — or at once, when more
// than ParkGraceConns connections already hold a goroutine — it is parked: its
// goroutine returns, its buffers and parser state go back to a pool, and only a small
// idleConn record remains, registered with an epoll set (package internal/park). When
// the socket becomes readable (a request, or the peer's FIN/RST) a goroutine and a
// pooled state are attached again. Idle timeouts of parked connections are enforced by
// the parker's expiry queue, swept once per tick, with no timer per connection.
//
// Only plain TCP connections park. TLS connections keep their goroutine: crypto/tls
// can hold decrypted or partially received records inside tls.Conn that epoll cannot
// see, and its state cannot be detached from the goroutine safely.

// Parking defaults.
const (
	DefaultParkAfter      = time.Second
	DefaultParkGraceConns = 128
)

// idleConn is what a parked connection keeps.
type idleConn struct {
	park.Entry
	nc       net.Conn
	fd       int
	id       uint64
	nreq     int
	tlsState *tls.ConnectionState
}

const fillFallback = 3 // idleWait could not park: read with the goroutine

func (s *Server) parkAfter() time.Duration {
	if s.ParkAfter < 0 {
		return 0
	}
	return durOr(s.ParkAfter, DefaultParkAfter)
}

func (s *Server) parkGraceConns() int64 {
	if s.ParkGraceConns == 0 {
		return DefaultParkGraceConns
	}
	return int64(s.ParkGraceConns)
}

// startParker creates the server's parker unless parking is disabled or unsupported.
func (s *Server) startParker() {
	s.parkOnce.Do(func() {
		if s.DisablePark {
			return
		}
		tick := time.Second
		if it := s.idleTimeout() / 10; it < tick {
			tick = max(it, 10*time.Millisecond)
		}
		p, err := park.New(park.Config{
			Wake:   func(e *park.Entry) { go s.resume(e.Value.(*idleConn)) },
			Expire: func(e *park.Entry) { s.closeParked(e) },
			Tick:   tick,
		})
		if err == nil {
			s.parker = p
		}
	})
}

func (c *conn) parkable() bool {
	_, ok := c.nc.(*net.TCPConn)
	return ok
}

// idleWait waits for the next request on an idle connection: first with the goroutine
// for up to ParkAfter, then parked.
func (c *conn) idleWait() int {
	s := c.srv
	if grace := s.parkAfter(); grace > 0 && s.active.Load() <= s.parkGraceConns() {
		c.setReadDeadlineWithin(time.Now().Add(grace), grace/4)
		c.state.Store(stateIdle)
		if s.closing.Load() {
			return fillClose
		}
		n, err := c.nc.Read(c.rbuf[c.rend:])
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			c.state.Store(stateActive)
			c.lastRD = time.Time{}
			if n == 0 {
				return fillClose
			}
		}
		if n > 0 {
			c.rend += n
			return fillOK
		}
		if !isTimeout(err) {
			return fillClose
		}
		c.lastRD = time.Time{}
	}
	if c.park() {
		return fillParked
	}
	return fillFallback
}

// park hands the connection to the parker. It reports false when parking failed and
// the caller keeps serving.
func (c *conn) park() bool {
	s := c.srv
	ic := c.idle
	if ic == nil {
		tc := c.nc.(*net.TCPConn)
		raw, err := tc.SyscallConn()
		if err != nil {
			return false
		}
		ic = &idleConn{fd: -1}
		raw.Control(func(fd uintptr) { ic.fd = int(fd) })
		if ic.fd < 0 {
			return false
		}
		ic.Value = ic
		c.idle = ic
	}
	ic.nc, ic.id, ic.nreq, ic.tlsState = c.nc, c.id, c.nreq, c.tlsState
	s.deactivate(c)
	if err := s.parker.Park(&ic.Entry, ic.fd, 0, time.Now().Add(s.idleTimeout())); err != nil {
		s.activate(c)
		return false
	}
	// From here on the parker owns ic and the socket; c is only recycled.
	c.idle = nil
	c.recycle()
	return true
}

// resume gives a woken connection a goroutine and a state again.
func (s *Server) resume(ic *idleConn) {
	c := getConn(s)
	c.nc, c.id, c.nreq, c.tlsState, c.idle = ic.nc, ic.id, ic.nreq, ic.tlsState, ic
	c.woke = true
	s.activate(c)
	c.loop()
}

// closeParked closes a parked connection (idle timeout or shutdown).
func (s *Server) closeParked(e *park.Entry) {
	ic := e.Value.(*idleConn)
	ic.nc.Close()
	if s.ConnState != nil {
		s.ConnState(ic.nc, false)
	}
	s.connWG.Done()
}
