// Package server is hop's HTTP/1.1 server engine. It owns listeners and the accept
// loop, the per-connection state machine (read → parse → dispatch → write → keep or
// close), pipelining, timeouts, lingering close, graceful shutdown, TLS, the native
// Handler API and the net/http adapter. Message syntax lives in package wire; this
// package only moves bytes and decides connection fate.
//
// # Connection management
//
// HTTP/1.1 connections are persistent unless either side sends Connection: close;
// HTTP/1.0 connections persist only when the client sends Connection: keep-alive, which
// is answered with Connection: keep-alive and Keep-Alive: timeout=N, max=M. The last
// response allowed by MaxRequestsPerConn, and every response during Shutdown, carries
// Connection: close.
//
// Pipelining: every complete request already in the read buffer is handled in order
// before the server reads again, and the responses are written together in one write.
//
// Timeouts: IdleTimeout bounds the wait for the first byte of a request,
// ReadHeaderTimeout the time from that byte to the end of the head (slowloris),
// BodyReadTimeout each read of a request body and WriteTimeout each write. Deadlines
// are refreshed at most once per second when nothing else changed, to keep timer work
// off the per-request path.
//
// Closing: when the server closes a connection that may still carry unread input (an
// error response, an unread body, Connection: close), it shuts down its write side
// first, then drains and discards input for a bounded time and size, then closes. This
// keeps a final 4xx from being destroyed by a TCP reset when the client is still
// sending.
//
// Idle connections: after ParkAfter without input (at once when more than
// ParkGraceConns connections hold a goroutine), an idle connection is parked in an
// epoll set (package internal/park): its goroutine returns and its buffers and parser
// go back to a pool, leaving a ~100-byte record beside the socket. Readiness (a
// request, FIN or RST) gives it a goroutine again; idle timeouts of parked connections
// are enforced by per-class FIFO expiry queues swept once per tick, not by timers.
// Plain TCP and TLS connections park (TLS once crypto/tls holds no decrypted input);
// on systems without epoll every connection keeps its goroutine.
//
// # Beyond one request and response
//
// Interim responses: WriteHeader with a 1xx code sends it at once with the fields set
// so far (103 Early Hints with Link fields); 100 Continue is sent automatically when a
// handler first reads the body of an Expect: 100-continue request, unless the handler
// sent it itself or called Request.DisableAutoContinue (a proxy relays the upstream's
// 100 or final status instead).
//
// Trailers: fields set in ResponseWriter.Trailer go out with the last chunk; a
// response announcing Trailer, or with a trailer set before it is committed, is sent
// chunked for that.
//
// Taking a connection over: ResponseWriter.TakeOver hands the net.Conn, with the bytes
// already read past the request, to the handler — after the 101 Switching Protocols
// or the 2xx to CONNECT it sends on the handler's behalf, or with nothing sent at all
// (the net/http adapter's Hijack). A 2xx to CONNECT never carries Content-Length or
// Transfer-Encoding and only TakeOver sends it: a CONNECT whose handler does not take
// the connection over is answered 501 Not Implemented, and the connection is closed,
// never left carrying HTTP after a 2xx. 101 likewise needs TakeOver (else a 500).
//
// Observability: Server.ConnState is told each state change of each connection
// (new, active, idle, parked, taken over, closed) with a ConnInfo that holds values,
// not the net.Conn, so detached connections report too; Server.Stats returns counters
// (accepted, requests, taken over, the server's own error responses by status, errors
// by kind) and the open connections by state. The counters are atomic and sharded;
// nothing on the request path takes a lock for them.
//
// Multi-core: ListenReusePort opens one SO_REUSEPORT listener per core and ServeAll
// serves them, so the kernel spreads connections over several accept queues. Go's
// scheduler does not pin goroutines to cores, so a connection is not bound to the core
// that accepted it; with GOMAXPROCS=1 per process and one process per core (each with
// its own shard, pinned with taskset), it is.
//
// Accept errors such as running out of file descriptors (EMFILE, ENFILE) are retried
// with an exponential back-off from 5 ms to 1 s and logged once per burst.
//
// TCP_NODELAY is on (Go's default for TCP) because the server always writes whole
// responses or whole batches of pipelined responses: Nagle's algorithm would only add
// a delayed-ACK round trip to the last segment. Set Server.DisableNoDelay to turn
// Nagle back on.
package server
