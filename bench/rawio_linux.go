//go:build linux

package bench

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a plain TCP connection with raw system calls, still waiting
// for readiness through Go's netpoller (syscall.RawConn). A read or write of a
// non-blocking socket never blocks, so it need not tell the scheduler it is in a
// system call: that saves the runtime's bookkeeping, and above all it keeps the
// runtime's monitor thread from handing the processor to another thread while a
// loopback write is busy delivering to the peer, which costs a context switch or two
// per request when the load generator runs on a single core.
type rawIO struct {
	rc       syscall.RawConn
	readFn   func(fd uintptr) bool // method values made once: no allocation per call
	writeFn  func(fd uintptr) bool
	rbuf     []byte
	rn       int
	rerr     syscall.Errno
	wbuf     []byte
	werr     syscall.Errno
	attached bool
}

// attach prepares raw I/O on c when it is a plain TCP connection; it reports
// whether it did.
func (r *rawIO) attach(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		r.attached = false
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		r.attached = false
		return false
	}
	if r.readFn == nil {
		r.readFn, r.writeFn = r.rawRead, r.rawWrite
	}
	r.rc, r.attached = rc, true
	return true
}

func (r *rawIO) detach() { r.rc, r.attached, r.rbuf, r.wbuf = nil, false, nil, nil }

func (r *rawIO) read(p []byte) (int, error) {
	r.rbuf, r.rn, r.rerr = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case r.rerr != 0:
		return 0, r.rerr
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

func (r *rawIO) rawRead(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(r.rbuf))), uintptr(len(r.rbuf)))
		switch errno {
		case 0:
			r.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for readiness in the netpoller
		}
		r.rerr = errno
		return true
	}
}

func (r *rawIO) write(p []byte) error {
	r.wbuf, r.werr = p, 0
	err := r.rc.Write(r.writeFn)
	r.wbuf = nil
	if err != nil {
		return err
	}
	if r.werr != 0 {
		return r.werr
	}
	return nil
}

func (r *rawIO) rawWrite(fd uintptr) bool {
	for len(r.wbuf) > 0 {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(r.wbuf))), uintptr(len(r.wbuf)))
		switch errno {
		case 0:
			r.wbuf = r.wbuf[n:]
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.werr = errno
		return true
	}
	return true
}
