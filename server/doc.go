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
// error response, an unread body, input past the last request, or a close the client
// did not ask for), it shuts down its write side first, then drains and discards input
// for a bounded time and size, then closes. This keeps a final 4xx from being
// destroyed by a TCP reset when the client is still sending. A client that asked to
// close and sent nothing more is closed at once, as nginx does.
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
// # Strict whatever the handler does
//
// Every malformed request gets its status (400, 408, 413, 414, 417, 431, 501, 505,
// from the *wire.Error the codec returns) and a graceful close, also when the
// handler never reads the body: after the handler returns, the server drains the body
// it left (up to MaxBodyDrain) before the response leaves, and a malformed body (bad
// chunk sizes, extensions, data not followed by CRLF, a bad trailer) or one that
// stops arriving replaces a response that has not left yet with the 400 (or 408). A
// response already written in part cannot be taken back: the connection then closes
// after it. A body larger than MaxBodyDrain is not read to its end: its response
// carries Connection: close. The responses to earlier pipelined requests are not
// affected. A request whose client waits for 100 Continue the handler never sent
// has its body left unread and the connection closed after the response.
//
// Two rules need the server rather than the codec: a CONNECT whose handler does not
// take the connection over gets 501 (see above), and a WebSocket upgrade asking for a
// Sec-WebSocket-Version other than 13 (the only version RFC 6455 defines) gets 426
// with Sec-WebSocket-Version: 13 before any handler runs; a WebSocket request without
// the field is the handler's to refuse. Trailers never carry fields that must not be
// trailers (Content-Length, Transfer-Encoding, Host and the others of RFC 9110 §6.5.1,
// wire.ProhibitedTrailer): the decoder drops them from request trailers, so merging a
// trailer into the header cannot smuggle them, and the server does not send them in
// response trailers.
//
// # Settings
//
// Every numeric Server field follows one rule: zero means the documented default, a
// negative value means none — no timeout (IdleTimeout, ReadHeaderTimeout,
// BodyReadTimeout, WriteTimeout), no limit (MaxRequestsPerConn, MaxRequestBody), no
// allowance (MaxBodyDrain: nothing is drained; LingerTimeout, LingerBytes: no
// lingering close; ResponseBuffer: every write streams; ParkAfter, ParkGraceConns: no
// grace before parking; ReadBufferSize: the smallest buffer, 512 bytes) and never for
// a threshold (DetachAbove). Limits follows wire's rule for wire.Limits.
//
// # Buffers and I/O
//
// A connection's input lives in one read buffer (internal/connbuf, shared with the
// client and the load generator): the parser reads heads in place, the head of the
// request being handled stays pinned while the handler runs (its fields point into
// it), and the buffer grows only up to the largest head the Limits admit. Chunked
// bodies are decoded in place by wire's decoder, driven by connbuf. Plain TCP on Linux
// is read and written with raw non-blocking system calls through internal/rawio
// (send with MSG_NOSIGNAL, one gather sendmsg for a head and a large body, sendfile
// for files), which keeps the runtime from handing the processor to another thread in
// the middle of a loopback write.
package server
