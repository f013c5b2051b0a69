package server

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/hop-http/hop/internal/clock"
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
// TLS connections park too, once a read has shown that crypto/tls holds no decrypted
// bytes: a read that times out has consumed every complete record, so what tls.Conn
// may still buffer is at most part of a record, and the rest of it makes the socket
// readable again. A parked TLS connection keeps its tls.Conn (with crypto/tls's own
// record buffers), so it costs more than a plain one, but no goroutine.

// Parking defaults.
const (
	DefaultParkAfter      = time.Second
	DefaultParkGraceConns = 128
	DefaultDetachAbove    = 1024
)

// Detaching. A parked connection still holds Go's own socket state: the net.Conn, its
// netFD with both addresses, and a runtime poll descriptor that lives in memory the
// runtime never returns to the operating system. When at least DetachAbove
// connections are parked, a plain TCP connection is detached as it parks: its
// descriptor is duplicated and the net.Conn closed (the socket stays open through the
// duplicate), so all that remains is the idleConn record and the kernel's socket. On
// wake it is attached again with net.FileConn, which costs a handful of system calls
// — paid only by connections that were idle while thousands of others were too.

// idleConn is what a parked connection keeps.
type idleConn struct {
	park.Entry
	nc       net.Conn // nil while detached
	detached bool     // fd is a bare duplicate descriptor, with no net.Conn
	fd       int
	id       uint64
	nreq     int
	tlsState *tls.ConnectionState
	info     *ConnInfo // for the ConnState hook; nil without one
}

// parkAfter returns the grace before parking (0: none).
func (s *Server) parkAfter() time.Duration { return timeout(s.ParkAfter, DefaultParkAfter) }

// parkGraceConns returns how many connections may hold a goroutine while idle (-1: none).
func (s *Server) parkGraceConns() int64 {
	return int64(amount(s.ParkGraceConns, DefaultParkGraceConns))
}

// forever stands for "no idle timeout" where the parker wants a deadline.
const forever = 100 * 365 * 24 * time.Hour

// parkTick is how often the parker looks for expired connections: a tenth of the
// idle timeout, between 10 ms and 1 s; 1 s when there is no idle timeout (0), where
// nothing expires but the classes' other deadlines.
func parkTick(idle time.Duration) time.Duration {
	if idle <= 0 || idle/10 >= time.Second {
		return time.Second
	}
	return max(idle/10, 10*time.Millisecond)
}

// startParker creates the server's parker unless parking is disabled or unsupported.
func (s *Server) startParker() {
	s.parkOnce.Do(func() {
		if s.DisablePark {
			return
		}
		tick := parkTick(s.idleTimeout())
		p, err := park.New(park.Config{
			Wake:    func(e *park.Entry) { go s.resume(e.Value.(*idleConn)) },
			Expire:  func(e *park.Entry) { s.closeParked(e) },
			Tick:    tick,
			Classes: 2,
		})
		if err == nil {
			s.parker.Store(p)
		}
	})
}

func (c *conn) parkable() bool { return tcpOf(c.nc) != nil }

// tcpOf returns the TCP connection under nc (plain or TLS), or nil.
func tcpOf(nc net.Conn) *net.TCPConn {
	switch v := nc.(type) {
	case *net.TCPConn:
		return v
	case *tls.Conn:
		tc, _ := v.NetConn().(*net.TCPConn)
		return tc
	}
	return nil
}

// idleWait waits for the next request on an idle connection: first with the goroutine
// for up to ParkAfter, then parked.
func (c *conn) idleWait() step {
	s := c.srv
	idle := s.idleTimeout()
	if idle == 0 {
		idle = forever
	}
	class := classParkedAtOnce
	if grace := s.parkAfter(); grace > 0 && s.active.Load() <= s.parkGraceConns() {
		n, ok, err := c.readIdle(min(grace, idle), true)
		if !ok {
			return stepClose
		}
		if n > 0 {
			return stepRead
		}
		if !isTimeout(err) || grace >= idle {
			return stepClose // error, or the idle timeout ran out during the grace
		}
		c.rd.Forget()
		class, idle = classParkedAfterGrace, idle-grace
	} else if _, isTLS := c.nc.(*tls.Conn); isTLS {
		// Make sure crypto/tls holds no decrypted input before parking: a read with a
		// deadline in the past returns buffered plaintext at once, or times out.
		c.nc.SetReadDeadline(aLongTimeAgo)
		c.rd.Forget()
		c.in.Room(1, c.in.Cap())
		n, err := c.read(c.in.Free())
		if n > 0 {
			c.in.Advance(n)
			return stepRead
		}
		if !isTimeout(err) {
			return stepClose
		}
	}
	if c.park(class, idle) {
		return stepParked
	}
	return stepFallback
}

// Expiry classes: every entry of a class is parked with the same remaining idle time,
// so each class's queue is in deadline order.
const (
	classParkedAtOnce     = 0 // the whole idle timeout remains
	classParkedAfterGrace = 1 // the idle timeout minus ParkAfter remains
)

// park hands the connection to the parker. It reports false when parking failed and
// the caller keeps serving.
func (c *conn) park(class int, remaining time.Duration) bool {
	s := c.srv
	ic := c.idle
	if ic == nil {
		raw, err := tcpOf(c.nc).SyscallConn()
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
	ic.nc, ic.id, ic.nreq, ic.tlsState, ic.info = c.nc, c.id, c.nreq, c.tlsState, c.info
	if s.shouldDetach(c) {
		if fd, err := dupCloexec(ic.fd); err == nil {
			s.parker.Load().Forget(ic.fd) // it may still be registered from an earlier park
			c.nc.Close()                  // closes the original descriptor only; the socket stays open
			ic.nc, ic.fd, ic.detached = nil, fd, true
			s.detaches.Add(1)
			c.idle = nil // the next park of this connection gets a fresh record
		}
	}
	s.deactivate(c)
	c.tell(StateParked) // before Park: from then on a wake may run at once
	if err := s.parker.Load().Park(&ic.Entry, ic.fd, class, clock.Now().Add(remaining)); err != nil {
		if ic.detached {
			// The net.Conn is already closed: end the connection here.
			closeFD(ic.fd)
			c.tell(StateClosed)
			s.connWG.Done()
			c.recycle()
			return true
		}
		s.activate(c)
		return false // the caller waits with the goroutine: it reports Idle again
	}
	// From here on the parker owns ic and the socket; c is only recycled (which also
	// forgets ic).
	c.recycle()
	return true
}

// shouldDetach reports whether a parking connection should leave Go's socket state.
func (s *Server) shouldDetach(c *conn) bool {
	above := s.DetachAbove
	if above == 0 {
		above = DefaultDetachAbove
	}
	if above < 0 {
		return false
	}
	_, plain := c.nc.(*net.TCPConn)
	return plain && s.parker.Load().Len() >= above
}

// resume gives a woken connection a goroutine and a state again.
func (s *Server) resume(ic *idleConn) {
	reattached := ic.detached
	if ic.detached {
		s.parker.Load().Forget(ic.fd)
		nc, err := attachFD(ic.fd)
		if err != nil { // attachFD closed the descriptor
			if ic.info != nil {
				s.ConnState(*ic.info, StateClosed)
			}
			s.connWG.Done()
			return
		}
		ic.nc, ic.detached = nc, false
	}
	c := getConn(s)
	c.nc, c.id, c.nreq, c.tlsState, c.idle = ic.nc, ic.id, ic.nreq, ic.tlsState, ic
	c.info, c.told = ic.info, StateParked
	c.rio.Attach(c.nc)
	if reattached {
		c.idle = nil // a new descriptor: the next park makes a new record
	}
	s.activate(c)
	// The socket is readable (a request, or the peer's FIN or RST): read before
	// parking again.
	if c.readRequest(s.idleTimeout(), false) != stepRead {
		c.close()
		return
	}
	c.loop()
}

// closeParked closes a parked connection (idle timeout or shutdown).
func (s *Server) closeParked(e *park.Entry) {
	ic := e.Value.(*idleConn)
	if ic.detached {
		closeFD(ic.fd)
	} else {
		ic.nc.Close()
	}
	if ic.info != nil {
		s.ConnState(*ic.info, StateClosed)
	}
	s.connWG.Done()
}
