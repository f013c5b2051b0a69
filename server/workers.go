package server

import (
	"net"
	"time"
)

// Connection goroutines are reused. Serving a connection grows its goroutine's stack
// past the initial size, and a goroutine per accepted connection pays for that growth
// (a stack copy) and for creating and destroying the goroutine on every connection: a
// few microseconds, a noticeable part of a Connection: close exchange. So a goroutine
// whose connection has ended (or parked) waits up to workerIdle for the next accepted
// connection before it exits, and the accept loop hands new connections to such a
// waiting goroutine when there is one, starting a new goroutine only when there is
// none. Shutdown and Close end the waiting ones.

// workerIdle is how long a connection goroutine waits for another connection.
const workerIdle = 10 * time.Second

// startWorkers prepares the hand-off of accepted connections.
func (s *Server) startWorkers() {
	s.workOnce.Do(func() {
		s.handoff = make(chan net.Conn)
		s.stopWork = make(chan struct{})
	})
}

// stopWorkers ends the goroutines waiting for a connection.
func (s *Server) stopWorkers() {
	s.startWorkers()
	s.stopOnce.Do(func() { close(s.stopWork) })
}

// dispatch serves nc on a waiting connection goroutine, or on a new one.
func (s *Server) dispatch(nc net.Conn) {
	select {
	case s.handoff <- nc:
	default:
		go s.worker(nc)
	}
}

// worker serves nc, then the connections handed to it, until none comes for
// workerIdle or the server stops.
func (s *Server) worker(nc net.Conn) {
	var t *time.Timer
	for {
		s.serveNew(nc)
		if t == nil {
			t = time.NewTimer(workerIdle)
		} else {
			t.Reset(workerIdle)
		}
		select {
		case nc = <-s.handoff:
		case <-t.C:
			return
		case <-s.stopWork:
			t.Stop()
			return
		}
	}
}
