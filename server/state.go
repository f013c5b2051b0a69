package server

import (
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
)

// ConnState is where a connection is in its life, as reported to Server.ConnState and
// counted by Server.Stats.
type ConnState uint8

// Connection states. A connection starts New, alternates between Active and Idle (or
// Parked) and ends Closed or TakenOver; each is reported once per change.
const (
	// StateNew: accepted (and, with TLS, handshaking); no byte of a request yet.
	StateNew ConnState = iota
	// StateActive: a request is being read, handled or answered.
	StateActive
	// StateIdle: waiting, with a goroutine, for the next request.
	StateIdle
	// StateParked: idle in the epoll set, without a goroutine (see park.go).
	StateParked
	// StateTakenOver: a handler took the connection over (ResponseWriter.TakeOver);
	// the server no longer tracks it. This is its last state.
	StateTakenOver
	// StateClosed: the server closed the connection. This is its last state.
	StateClosed
)

var stateNames = [...]string{"new", "active", "idle", "parked", "taken over", "closed"}

// String returns the state's name in lower case ("new", "active", "idle", "parked",
// "taken over", "closed").
func (s ConnState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "ConnState(" + strconv.Itoa(int(s)) + ")"
}

// ConnInfo identifies a connection to the ConnState hook. It holds values, not the
// net.Conn, so it stays valid when the socket is detached from Go's runtime while
// parked (see park.go) and after the connection is closed.
type ConnInfo struct {
	ID     uint64         // the connection's id within the server (Request.ConnID)
	Remote netip.AddrPort // the peer's address (zero when it is not an IP address)
	Local  netip.AddrPort // the address the connection arrived on
	TLS    bool           // served over TLS
}

func newConnInfo(id uint64, nc net.Conn, tls bool) *ConnInfo {
	return &ConnInfo{ID: id, Remote: addrPort(nc.RemoteAddr()), Local: addrPort(nc.LocalAddr()), TLS: tls}
}

// addrPort converts a net.Addr to a netip.AddrPort, without allocating for TCP.
func addrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// Stats is a snapshot of a server's counters (Server.Stats). Counts marked "ever" only
// grow; the others are the connections open at the moment of the snapshot.
type Stats struct {
	Accepted  uint64 // connections accepted, ever
	Requests  uint64 // requests handed to the Handler, ever
	TakenOver uint64 // connections a handler took over, ever
	Detached  uint64 // parked sockets detached from Go's runtime, ever

	// Open connections by state (taken-over ones are no longer the server's).
	New, Active, Idle, Parked int

	// Rejected counts, by status code, the error responses the server sent on its
	// own (malformed or oversized requests, timeouts, a 500 after a handler panic, a
	// 501 to an unhandled CONNECT), ever. Handlers' own responses are not counted.
	Rejected map[int]uint64

	// Errors by kind, ever.
	TLSHandshakeErrors uint64 // TLS handshakes that failed
	HandlerPanics      uint64 // handlers that panicked (ErrAbortHandler included)
	WriteErrors        uint64 // writes that failed: the peer went away or stopped reading
	AcceptErrors       uint64 // temporary accept errors (retried after a back-off)
}

// shards spreads a per-request counter over cache lines, so that connections on
// different cores do not contend for one line; the sum is exact.
const shards = 8

type shardedCounter [shards]struct {
	n atomic.Uint64
	_ [56]byte
}

func (c *shardedCounter) add(key uint64) { c[key%shards].n.Add(1) }

func (c *shardedCounter) load() uint64 {
	var sum uint64
	for i := range c {
		sum += c[i].n.Load()
	}
	return sum
}

// counters are the server's event counts behind Stats.
type counters struct {
	accepted, takenOver          atomic.Uint64
	tlsErrors, panics, writeErrs atomic.Uint64
	acceptErrs                   atomic.Uint64
	requests                     shardedCounter
	rejected                     [200]atomic.Uint64 // status 400-599
}

func (k *counters) reject(status int) {
	if status >= 400 && status < 600 {
		k.rejected[status-400].Add(1)
	}
}

// Stats returns a snapshot of the server's counters. The event counts are atomic
// counters updated on the serving paths (no lock per request); the open-connection
// counts walk the connections that hold a goroutine, under the lock that tracks them,
// so a call costs time in proportion to those (microseconds for thousands).
func (s *Server) Stats() Stats {
	k := &s.stats
	st := Stats{
		Accepted:           k.accepted.Load(),
		Requests:           k.requests.load(),
		TakenOver:          k.takenOver.Load(),
		Detached:           uint64(s.detaches.Load()),
		TLSHandshakeErrors: k.tlsErrors.Load(),
		HandlerPanics:      k.panics.Load(),
		WriteErrors:        k.writeErrs.Load(),
		AcceptErrors:       k.acceptErrs.Load(),
	}
	for i := range k.rejected {
		if n := k.rejected[i].Load(); n > 0 {
			if st.Rejected == nil {
				st.Rejected = make(map[int]uint64)
			}
			st.Rejected[400+i] = n
		}
	}
	if p := s.parker.Load(); p != nil {
		st.Parked = p.Len()
	}
	s.mu.Lock()
	for c := range s.conns {
		switch ConnState(c.state.Load() &^ waiting) {
		case StateNew:
			st.New++
		case StateIdle:
			st.Idle++
		default:
			st.Active++
		}
	}
	s.mu.Unlock()
	return st
}

// waiting is set in conn.state, beside the ConnState, while the connection waits in
// readIdle for a request: Shutdown wakes exactly those (closeIdle).
const waiting = 1 << 8

// enter moves the connection to st and reports it to the ConnState hook.
func (c *conn) enter(st ConnState) {
	c.state.Store(uint32(st))
	c.tell(st)
}

// tell reports st to the ConnState hook, if there is one and st differs from the state
// last reported for this connection.
func (c *conn) tell(st ConnState) {
	if c.info != nil && c.told != st {
		c.told = st
		c.srv.ConnState(*c.info, st)
	}
}
