//go:build linux

package rawio

import (
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIov bounds the buffers of one WriteBuffers call.
const maxIov = 8

// Conn does raw I/O on one TCP connection. Its zero value is detached; Attach prepares
// it. The callbacks handed to the RawConn are made once, so no call allocates. A Conn
// is used by one goroutine at a time.
type Conn struct {
	rc       syscall.RawConn
	readFn   func(uintptr) bool
	writeFn  func(uintptr) bool
	writevFn func(uintptr) bool
	sendFn   func(uintptr) bool
	buf      []byte
	n        int
	total    int64
	err      error
	iov      [maxIov]unix.Iovec
	niov     int
	first    int // WriteBuffers: the first iovec not sent whole
	msg      unix.Msghdr
	src      int   // SendFile: the file descriptor
	off      int64 // SendFile: the file offset
	left     int64 // SendFile: bytes still to send
	rawSend  bool  // SendFile: the file is in the page cache; a raw system call
	cork     int   // SetCork: the value
	corkFn   func(uintptr)
	attached bool
}

// Attach prepares raw I/O on nc when it is a plain *net.TCPConn and reports whether
// it did; for anything else (TLS, pipes, test doubles) the caller keeps nc's methods.
func (c *Conn) Attach(nc net.Conn) bool {
	c.attached = false
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		c.rc = nil
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		c.rc = nil
		return false
	}
	if c.readFn == nil {
		c.readFn, c.writeFn, c.writevFn, c.sendFn = c.readOnce, c.writeAll, c.writevAll, c.sendFileSome
		c.corkFn = c.setCork
	}
	c.rc, c.attached = rc, true
	return true
}

// Detach forgets the connection.
func (c *Conn) Detach() {
	c.rc, c.attached, c.buf = nil, false, nil
	clear(c.iov[:])
}

// Attached reports whether Attach succeeded.
func (c *Conn) Attached() bool { return c.attached }

// Read reads once into p, like net.Conn.Read: (0, io.EOF) at the end of the stream,
// the deadline error of the net.Conn when its read deadline passes.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.buf, c.n, c.err = p, 0, nil
	err := c.rc.Read(c.readFn)
	c.buf = nil
	if err != nil {
		return 0, err
	}
	return c.n, c.err
}

func (c *Conn) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(c.buf))), uintptr(len(c.buf)))
		switch e {
		case 0:
			c.n = int(n)
			if n == 0 {
				c.err = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for readiness in the netpoller
		default:
			c.err = e
			return true
		}
	}
}

// Write writes all of p, like net.Conn.Write.
func (c *Conn) Write(p []byte) (int, error) {
	c.buf, c.n, c.err = p, 0, nil
	err := c.rc.Write(c.writeFn)
	c.buf = nil
	if err == nil {
		err = c.err
	}
	return c.n, err
}

func (c *Conn) writeAll(fd uintptr) bool {
	for len(c.buf) > 0 {
		n, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(c.buf))), uintptr(len(c.buf)), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			c.n += int(n)
			c.buf = c.buf[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.err = e
			return true
		}
	}
	return true
}

// WriteBuffers writes the buffers in order, all of them, with as few sendmsg calls as
// the socket allows (one when it has room): the gather write of net.Buffers without
// its allocation. Empty buffers are skipped; at most 8 may be given.
func (c *Conn) WriteBuffers(bufs ...[]byte) (int64, error) {
	if len(bufs) > maxIov {
		panic("rawio: too many buffers")
	}
	c.niov = 0
	for _, b := range bufs {
		if len(b) > 0 {
			c.iov[c.niov].Base = unsafe.SliceData(b)
			c.iov[c.niov].SetLen(len(b))
			c.niov++
		}
	}
	c.total, c.err, c.first = 0, nil, 0
	if c.niov == 0 {
		return 0, nil
	}
	err := c.rc.Write(c.writevFn)
	clear(c.iov[:c.niov]) // let the buffers go
	if err == nil {
		err = c.err
	}
	return c.total, err
}

func (c *Conn) writevAll(fd uintptr) bool {
	for c.first < c.niov {
		c.msg = unix.Msghdr{Iov: &c.iov[c.first]}
		c.msg.SetIovlen(c.niov - c.first)
		n, _, e := syscall.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&c.msg)), syscall.MSG_NOSIGNAL)
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.err = e
			return true
		}
		c.total += int64(n)
		// Drop what was sent: whole buffers, then the start of a partial one.
		for left := uint64(n); left > 0 && c.first < c.niov; {
			v := &c.iov[c.first]
			if l := uint64(v.Len); left >= l {
				left -= l
				c.first++
				continue
			}
			v.Base = (*byte)(unsafe.Add(unsafe.Pointer(v.Base), left))
			v.SetLen(int(uint64(v.Len) - left))
			left = 0
		}
	}
	return true
}

// SendFile sends n bytes of the file src from offset off with sendfile(2), without
// copying through user space and without moving src's file offset. It returns the
// bytes sent; fewer than n with a nil error means the file ended early. cached says
// the caller knows the file to be in the page cache (it was sent a moment ago): then
// sendfile cannot wait for the disk and is a raw system call too, which spares the
// scheduler's hand-off of the processor during a long copy (on one core: a thread
// switch, futex wake-ups and the system monitor's sleeps, per response).
func (c *Conn) SendFile(src int, off, n int64, cached bool) (int64, error) {
	c.src, c.off, c.left, c.total, c.err, c.rawSend = src, off, n, 0, nil, cached
	err := c.rc.Write(c.sendFn)
	if err == nil {
		err = c.err
	}
	return c.total, err
}

// maxSendFile bounds one sendfile call, as Go's own sendfile loop does.
const maxSendFile = 4 << 20

func (c *Conn) sendFileSome(fd uintptr) bool {
	for c.left > 0 {
		chunk := min(c.left, maxSendFile)
		var n int
		var err error
		if c.rawSend && unsafe.Sizeof(uintptr(0)) == 8 { // 64-bit off_t in SYS_SENDFILE
			n, err = rawSendfile(int(fd), c.src, &c.off, int(chunk))
		} else {
			// Not a raw system call: sendfile may wait for the disk (see the package
			// doc). unix.Sendfile picks sendfile64 where off_t is 32 bits.
			n, err = unix.Sendfile(int(fd), c.src, &c.off, int(chunk))
		}
		switch err {
		case nil:
			if n == 0 {
				return true // end of file
			}
			c.total += int64(n)
			c.left -= int64(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.err = err
			return true
		}
	}
	return true
}

// rawSendfile is sendfile(2) as a raw system call, for 64-bit platforms (where
// SYS_SENDFILE takes a 64-bit offset).
func rawSendfile(out, in int, off *int64, count int) (int, error) {
	n, _, e := syscall.RawSyscall6(unix.SYS_SENDFILE, uintptr(out), uintptr(in), uintptr(unsafe.Pointer(off)), uintptr(count), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// SetCork turns TCP_CORK on or off on the attached connection with a raw system call:
// while on, the kernel sends only full segments, so a head written before a sendfile
// leaves together with the file's first bytes.
func (c *Conn) SetCork(on bool) {
	c.cork = 0
	if on {
		c.cork = 1
	}
	c.rc.Control(c.corkFn)
}

func (c *Conn) setCork(fd uintptr) {
	v := int32(c.cork)
	// unix's number: linux/386 has no syscall.SYS_SETSOCKOPT (only socketcall).
	syscall.RawSyscall6(unix.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_CORK,
		uintptr(unsafe.Pointer(&v)), 4, 0)
}

// SetCork turns TCP_CORK on or off on any TCP connection (see Conn.SetCork).
func SetCork(tc *net.TCPConn, on bool) {
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
