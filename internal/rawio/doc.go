// Package rawio reads and writes plain TCP sockets with raw system calls, still
// waiting for readiness in Go's netpoller (syscall.RawConn). It is the one home of
// that trick for hop's server and load generator.
//
// Why: net.Conn's Read and Write enter the runtime's blocking-system-call protocol.
// On a loopback write that also runs the receiver's TCP stack, the system monitor
// often decides the call blocked and hands the processor to another thread, so a
// one-core server (or load generator) pays a thread switch or two per response. The
// socket is non-blocking, so a raw read or send never blocks: EAGAIN goes back to the
// poller, which also enforces the deadlines set on the net.Conn, and the goroutine
// keeps its thread.
//
// Writes use send/sendmsg with MSG_NOSIGNAL rather than write/writev: a peer that went
// away yields EPIPE and never a SIGPIPE. Go's runtime ignores SIGPIPE for sockets in
// ordinary programs, but the signal is still raised and delivered (a wasted kernel
// round trip per failed write), and in a c-shared or c-archive build the host
// program's disposition applies, which by default kills the process. The system calls
// are equivalent otherwise (both end in the socket's sendmsg).
//
// SendFile is the exception to "raw": sendfile may wait for the disk when the file
// is not in the page cache, so it is issued as an ordinary (scheduler-aware) system
// call.
//
// Off Linux, Attach reports false and callers keep using the net.Conn.
package rawio
