package server

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// Raw socket I/O for plain TCP connections.
//
// net.Conn's Read and Write enter the runtime's blocking-syscall protocol: on a
// loopback write that also runs the receiver's TCP stack, the system monitor often
// decides the call blocked and hands the P to another thread, so a one-core server
// pays thread switches on every response. The socket is non-blocking, so the server
// issues read and send itself through syscall.RawConn with raw system calls: the
// calls never block, EAGAIN goes back to Go's poller (which also enforces deadlines),
// and the goroutine keeps its thread. send uses MSG_NOSIGNAL, so a peer that went away
// yields EPIPE and never a SIGPIPE.

// rawIO holds a connection's RawConn and the two callbacks, built once per connection
// so that no I/O call allocates.
type rawIO struct {
	rc    syscall.RawConn
	rfn   func(uintptr) bool
	wfn   func(uintptr) bool
	buf   []byte
	n     int
	err   error
	ready bool
}

// setup prepares raw I/O for plain TCP; other connections keep net.Conn's methods.
func (r *rawIO) setup(nc net.Conn) {
	r.ready = false
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		r.rc = nil
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		r.rc = nil
		return
	}
	r.rc = rc
	if r.rfn == nil {
		r.rfn = r.readOnce
		r.wfn = r.writeAll
	}
	r.ready = true
}

func (r *rawIO) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.buf))), uintptr(len(r.buf)))
		switch e {
		case 0:
			r.n = int(n)
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			r.n, r.err = 0, e
			return true
		}
	}
}

func (r *rawIO) writeAll(fd uintptr) bool {
	for len(r.buf) > 0 {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.buf))), uintptr(len(r.buf)), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			r.n += int(n)
			r.buf = r.buf[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.err = e
			return true
		}
	}
	return true
}

// release forgets the connection.
func (r *rawIO) release() { r.rc, r.ready = nil, false }

// read reads into p like net.Conn.Read.
func (c *conn) read(p []byte) (int, error) {
	r := &c.rio
	if !r.ready || len(p) == 0 {
		return c.nc.Read(p)
	}
	r.buf, r.n, r.err = p, 0, nil
	if err := r.rc.Read(r.rfn); err != nil {
		r.buf = nil
		return 0, err
	}
	r.buf = nil
	return r.n, r.err
}

// write writes all of p like net.Conn.Write.
func (c *conn) write(p []byte) (int, error) {
	r := &c.rio
	if !r.ready {
		return c.nc.Write(p)
	}
	r.buf, r.n, r.err = p, 0, nil
	err := r.rc.Write(r.wfn)
	r.buf = nil
	if err == nil {
		err = r.err
	}
	return r.n, err
}

// setCork turns TCP_CORK on or off: while on, the kernel sends only full segments, so a
// head written before a sendfile leaves together with the file's first bytes.
func setCork(tc *net.TCPConn, on bool) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	v := 0
	if on {
		v = 1
	}
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v) })
}
