// Package client is hop's HTTP/1.1 client. It owns the way from a URL to a response:
// URL parsing (RFC 3986), name resolution (through package resolve), connecting
// (Happy Eyeballs, RFC 8305), TLS, the per-origin connection pool, the exchange of
// request and response (through package wire, the codec it shares with the server),
// retries, redirects, opt-in pipelining, a per-request trace, proxies, and an
// http.RoundTripper adapter.
//
// # Native API
//
// A [Client] sends a [Request] and fills a [Response]. Both are meant to be reused:
//
//	var req client.Request
//	var resp client.Response
//	req.SetURL("http://127.0.0.1:8080/")
//	err := c.Do(&req, &resp) // resp.Status, resp.Header, resp.Body
//
// On a kept-alive connection this path allocates nothing: the URL is parsed into
// substrings of its input, the request head is serialized into the connection's write
// buffer, the response head is parsed in place in the connection's read buffer (an
// internal/connbuf Buffer, the type the server and bench read with too) and
// its fields are copied into the Response's own storage, and the body is read into
// resp.Body, which keeps its capacity. [Client.DoStream] leaves the body on the
// connection, to be read from [Response.BodyReader] (which implements io.WriterTo:
// io.Copy writes from the connection's buffer, with backpressure).
//
// Every numeric setting follows one rule: zero means the documented default, a
// negative value means none (no limit, no timeout, or the feature off; each field
// says which).
//
// # Connections
//
// Connections are pooled per origin: scheme, host, port and proxy. Each origin has a
// limit (MaxConnsPerHost, default 512, counting connections being set up); requests
// beyond it wait in a bounded FIFO queue (MaxWaitersPerHost, default 4096) for at
// most PoolWaitTimeout (default 10 s). Idle connections are reused last-in first-out,
// so that a few stay hot and the rest time out: after IdleTimeout (default 90 s), or
// sooner when the server announced a shorter Keep-Alive: timeout (the client then
// gives the connection up a quarter of that timeout, at most one second, before the
// server would). MaxConnAge and MaxRequestsPerConn (and a server's Keep-Alive: max)
// retire connections too. A background sweeper, running only while connections
// exist, closes expired idle connections and those the server closed.
//
// Before an idle connection is reused it is checked without blocking: a
// MSG_PEEK|MSG_DONTWAIT receive on the socket notices a FIN (the server closed) or an
// RST; unsolicited bytes make a plain connection unusable; on TLS connections waiting
// records go through crypto/tls, which consumes session tickets and reports a
// close_notify as the end. The check costs one system call per reuse (about 6% of the
// client's CPU time per request against a local nginx), so it runs only for
// connections idle for at least LivenessCheckMinIdle (default 100 ms): servers close
// idle connections after seconds, not milliseconds, and a connection reused within
// 100 ms is a busy one. A close that an unchecked connection meets is handled by the
// retry rules below.
//
// Connections are made by a [Dialer]: resolution, the race of the addresses, a
// proxy's CONNECT tunnel and the TLS handshake run under one deadline
// (ConnectTimeout). The Dialer is exported for packages that need connections
// without the pool (proxy/, lab/). Close fails the requests waiting for a
// connection with ErrClientClosed.
//
// TCP_NODELAY is on: the client writes a whole request head, with a small body, in
// one write, so Nagle's algorithm could only delay the last segment by a delayed-ACK
// round trip.
//
// # Exchanges
//
// Request bodies are sent with Content-Length, or chunked when their length is
// unknown or a Trailer is set (HTTP/1.1 only); the trailer fields are read when the
// body ends, so its producer may fill them. Expect: 100-continue waits
// ExpectContinueTimeout (default 1 s; negative: until the server answers) for the
// server's answer, and a final response before 100 Continue means the body is not
// sent and the connection is closed. Informational responses (100, 103, ...; at most
// 32 per exchange) go to [Trace.Got1xx] with their fields. A 101 Switching Protocols
// to a request with an Upgrade field, or a 2xx answer to CONNECT, hands the
// connection to the caller as a [SwitchedConn] (bytes that came with the head
// included); a 101 nobody asked for is an error ([ErrUnrequestedUpgrade]). Responses are framed by
// Content-Length, chunked coding (with trailers) or the closing of the connection
// (HTTP/1.0 servers and responses without length). A body that ends early is an
// error ([ErrTruncated]) and its connection is closed, never reused. An unread body
// that is closed is drained for up to MaxDrain bytes (256 KiB) and DrainTimeout (1 s)
// so that its connection can be reused; beyond that the connection is closed.
// Connection: close from either side ends the connection after the exchange.
//
// # Retries
//
// A request is sent again only when its connection was reused and failed before any
// byte of the response arrived (the server closed an idle connection just as the
// request was sent), and only when it is idempotent (GET, HEAD, PUT, DELETE, OPTIONS,
// TRACE) or carries an Idempotency-Key field, and its body can be sent again. That is
// at most MaxRetries (default 2) more times, the last time on a new connection. A
// POST or PATCH without Idempotency-Key is never re-sent: the caller gets an [*Error]
// matching [ErrNoResponse] that says so. Retries are reported to [Trace.Retry].
//
// Redirects (301, 302, 303, 307, 308) are followed up to MaxRedirects (default 0:
// none) with the method rules of RFC 9110 §15.4; leaving the origin drops
// Authorization, Cookie and Proxy-Authorization.
//
// # Pipelining
//
// [Client.DoPipeline] sends idempotent requests pipelined, up to a depth, writing
// each window in one write. A new connection carries one request until its response
// proves an HTTP/1.1 persistent connection. When the connection dies or the server
// closes it, the unanswered requests are sent again on a new connection, in order.
//
// # Observing
//
// A [Trace] receives every event of a request (name resolution, each connection
// attempt, TLS, the connection obtained with its number, reuse flag and addresses,
// the request written, the first response byte, each response head, the end with
// the fate of the connection, retries and redirects). [Timings] turns them into
// phase durations. [Client.Stats] and [Client.OriginStats] report the pools.
//
// # Proxies
//
// [Client.Proxy] chooses a proxy per URL; [ProxyFromEnvironment] reads HTTP_PROXY,
// HTTPS_PROXY and NO_PROXY. Plain http requests go to the proxy in absolute form;
// https requests go through a CONNECT tunnel and TLS inside it. When the proxy answers
// 407 Proxy Authentication Required with a Basic challenge and its URL has
// credentials (http://user:pass@proxy:3128), the request or tunnel is sent again once
// with Proxy-Authorization: Basic, and every later one through that proxy carries it
// from the start. Otherwise the 407 is the answer: the response (for plain http,
// Proxy-Authenticate in its fields) or a [*ProxyError] matching
// [ErrProxyAuthRequired] (for CONNECT).
//
// # Forwarding
//
// A proxy forwards the request its server parsed without copying the head: [Method]
// turns the parsed method into a string without allocating, Request.Target carries
// the request-target as received, [Request.UseHeader] sends the parsed fields in
// place (the client drops Connection, Keep-Alive, Proxy-Connection,
// Content-Length and Transfer-Encoding and frames the body itself), the body streams
// through [Request.SetBodyStream] and its trailer through Request.Trailer. The
// response streams back through DoStream and BodyReader; a truncated one fails with
// [ErrTruncated] and its connection is never reused.
//
// # net/http
//
// [Transport] is an http.RoundTripper, so an http.Client runs on hop.
package client
