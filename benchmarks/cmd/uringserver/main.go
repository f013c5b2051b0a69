//go:build linux

// Command uringserver is a prototype, not a server: it answers the TechEmpower
// plaintext response over io_uring, to measure what an io_uring path would save hop's
// server in system time (issue 15; benchmarks/README.md, "io_uring: what it would
// save"). One goroutine locked to its thread owns one ring: accepts, receives and
// sends are submitted as SQEs and their completions reaped in batches, one
// io_uring_enter per loop turn for everything that became ready, where hop's server
// makes a read and a send system call per request plus the netpoller's epoll_pwait.
//
// Parsing is gnet's plaintext server's (benchmarks/servers/gnet.go): a request is
// whatever ends in an empty line; every one is answered with the plaintext response.
// No TLS, deadlines, parking, bodies or error handling beyond closing a connection.
//
//	uringserver [-addr 127.0.0.1:8080] [-entries 4096] [-defer] [-sqpoll]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hop-http/hop/benchmarks/servers"
)

// The kernel's io_uring ABI (include/uapi/linux/io_uring.h), the parts used here.
const (
	opAccept = 13
	opSend   = 26
	opRecv   = 27

	enterGetEvents = 1 << 0
	enterSQWakeup  = 1 << 1
	setupSQPoll    = 1 << 1
	setupCoopTask  = 1 << 8  // IORING_SETUP_COOP_TASKRUN
	setupSingle    = 1 << 12 // IORING_SETUP_SINGLE_ISSUER
	setupDeferTask = 1 << 13 // IORING_SETUP_DEFER_TASKRUN
	sqNeedWakeup   = 1 << 0
	featSingleMmap = 1 << 0

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is one io_uring instance with its mapped queues.
type ring struct {
	fd                    int
	sqHead, sqTail, sqFlg *uint32
	sqMask                uint32
	sqArray               []uint32
	sqes                  []sqe
	cqHead, cqTail        *uint32
	cqMask                uint32
	cqes                  []cqe
	pending               uint32 // SQEs filled since the last enter
	sqpoll                bool
}

func newRing(entries uint32, sqpoll, deferTask bool) (*ring, error) {
	var p params
	if deferTask {
		p.flags |= setupSingle | setupDeferTask
	} else if !sqpoll {
		p.flags |= setupCoopTask
	}
	if sqpoll {
		p.flags |= setupSQPoll
		p.sqThreadIdle = 1000
	}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &ring{fd: int(fd), sqpoll: sqpoll}
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	if p.features&featSingleMmap != 0 {
		sqSize = max(sqSize, cqSize)
	}
	sq, err := unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap sq: %w", err)
	}
	cq := sq
	if p.features&featSingleMmap == 0 {
		if cq, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return nil, fmt.Errorf("mmap cq: %w", err)
		}
	}
	sqeMem, err := unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap sqes: %w", err)
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqHead, r.sqTail, r.sqFlg = u32(sq, p.sqOff.head), u32(sq, p.sqOff.tail), u32(sq, p.sqOff.flags)
	r.sqMask = *u32(sq, p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(sq, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	r.cqHead, r.cqTail = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail)
	r.cqMask = *u32(cq, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	return r, nil
}

// get returns the next free SQE, submitting what is queued when the queue is full.
func (r *ring) get() *sqe {
	for {
		tail := *r.sqTail
		if tail-atomic.LoadUint32(r.sqHead) <= r.sqMask {
			i := tail & r.sqMask
			r.sqArray[i] = i
			s := &r.sqes[i]
			*s = sqe{}
			atomic.StoreUint32(r.sqTail, tail+1)
			r.pending++
			return s
		}
		r.enter(0)
	}
}

// enter submits the queued SQEs and waits for at least wait completions.
func (r *ring) enter(wait uint32) {
	flags := uintptr(0)
	if wait > 0 {
		flags |= enterGetEvents
	}
	submit := r.pending
	if r.sqpoll {
		submit = 0 // the kernel thread takes them; wake it if it went to sleep
		if atomic.LoadUint32(r.sqFlg)&sqNeedWakeup != 0 {
			flags |= enterSQWakeup
		}
		if flags == 0 {
			r.pending = 0
			return
		}
	}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(wait), flags, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			fmt.Fprintln(os.Stderr, "uringserver: io_uring_enter:", errno)
			os.Exit(1)
		}
		r.pending = 0
		return
	}
}

const (
	tagAccept = iota
	tagRecv
	tagSend
)

type conn struct {
	fd      int
	in      []byte
	partial int // bytes of an incomplete head kept at the start of in
	out     []byte
	sent    int
}

type server struct {
	r     *ring
	ln    int
	conns map[int]*conn
	resp  []byte
	date  time.Time
}

func (s *server) refreshResponse(now time.Time) {
	if now.Sub(s.date) < time.Second {
		return
	}
	s.date = now
	s.resp = []byte("HTTP/1.1 200 OK\r\nServer: " + servers.Name + "\r\nDate: " + now.UTC().Format(http.TimeFormat) +
		"\r\nContent-Type: " + servers.ContentType + "\r\nContent-Length: " + fmt.Sprint(len(servers.Body)) + "\r\n\r\n" + servers.Body)
}

func (s *server) accept() {
	e := s.r.get()
	e.opcode, e.fd, e.userData = opAccept, int32(s.ln), tagAccept
}

func (s *server) recv(c *conn) {
	e := s.r.get()
	buf := c.in[c.partial:]
	e.opcode, e.fd = opRecv, int32(c.fd)
	e.addr, e.len = uint64(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))
	e.userData = uint64(c.fd)<<8 | tagRecv
}

func (s *server) send(c *conn) {
	e := s.r.get()
	buf := c.out[c.sent:]
	e.opcode, e.fd = opSend, int32(c.fd)
	e.addr, e.len = uint64(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))
	e.opFlags = unix.MSG_NOSIGNAL
	e.userData = uint64(c.fd)<<8 | tagSend
}

func (s *server) close(c *conn) {
	unix.Close(c.fd)
	delete(s.conns, c.fd)
}

// complete handles one completion.
func (s *server) complete(ev cqe) {
	tag, fd := ev.userData&0xff, int(ev.userData>>8)
	switch tag {
	case tagAccept:
		s.accept()
		if ev.res < 0 {
			return
		}
		nfd := int(ev.res)
		unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &conn{fd: nfd, in: make([]byte, 16<<10)}
		s.conns[nfd] = c
		s.recv(c)
	case tagRecv:
		c := s.conns[fd]
		if c == nil {
			return
		}
		if ev.res <= 0 {
			s.close(c)
			return
		}
		data := c.in[:c.partial+int(ev.res)]
		c.out = c.out[:0]
		for {
			i := bytes.Index(data, []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			c.out = append(c.out, s.resp...)
			data = data[i+4:]
		}
		c.partial = copy(c.in, data)
		if c.partial == len(c.in) {
			s.close(c) // a head larger than the buffer
			return
		}
		if len(c.out) == 0 {
			s.recv(c)
			return
		}
		c.sent = 0
		s.send(c)
	case tagSend:
		c := s.conns[fd]
		if c == nil {
			return
		}
		if ev.res < 0 {
			s.close(c)
			return
		}
		if c.sent += int(ev.res); c.sent < len(c.out) {
			s.send(c)
			return
		}
		s.recv(c)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (IPv4)")
	entries := flag.Uint("entries", 4096, "submission queue entries")
	sqpoll := flag.Bool("sqpoll", false, "IORING_SETUP_SQPOLL: a kernel thread polls the submission queue (needs a core of its own)")
	deferTask := flag.Bool("defer", false, "IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN: completions run only inside io_uring_enter (default: COOP_TASKRUN)")
	flag.Parse()
	runtime.LockOSThread()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().Is4() {
		fmt.Fprintln(os.Stderr, "uringserver: -addr must be IPv4 host:port")
		os.Exit(2)
	}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		// A ring torn down by an exiting process releases its pending accept's
		// listening socket a moment later: wait for the port a little.
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			err = unix.Bind(ln, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
			if err != unix.EADDRINUSE || time.Now().After(deadline) {
				break
			}
		}
	}
	if err == nil {
		err = unix.Listen(ln, 4096)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uringserver: listen:", err)
		os.Exit(1)
	}
	r, err := newRing(uint32(*entries), *sqpoll, *deferTask)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uringserver:", err)
		os.Exit(1)
	}
	s := &server{r: r, ln: ln, conns: map[int]*conn{}}
	s.refreshResponse(time.Now())
	fmt.Fprintf(os.Stderr, "uringserver: listening on %s (sqpoll %v, pid %d)\n", *addr, *sqpoll, os.Getpid())
	s.accept()
	for {
		r.enter(1)
		s.refreshResponse(time.Now())
		for {
			head, tail := *r.cqHead, atomic.LoadUint32(r.cqTail)
			if head == tail {
				break
			}
			for ; head != tail; head++ {
				s.complete(r.cqes[head&r.cqMask])
			}
			atomic.StoreUint32(r.cqHead, head)
		}
	}
}
