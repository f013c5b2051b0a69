// Package proxy is hop's forward and reverse HTTP/1.1 proxy. A [Proxy] is a
// server.Handler: the server parses the client's request (package wire, the one
// codec), the proxy turns it into a client.Request and sends it through an
// [Exchanger] — normally a [Transport] over a client.Client's per-origin pools — and
// streams the response back through the server's ResponseWriter. Each side keeps its
// own persistent connections: many client connections share few upstream ones.
//
// # Modes
//
// Forward (the default): requests arrive in absolute form (GET http://host/path) and
// go to the origin they name. The proxy serves only clients from AllowFrom (loopback
// when empty: an open relay is a bug, not a default) and, with Auth set, only those
// sending Proxy-Authorization: Basic with those credentials (407 with
// Proxy-Authenticate otherwise). CONNECT host:port may reach only ConnectPorts (443
// when empty; 403 otherwise): the proxy connects (client.Dialer, within
// ConnectTimeout), answers 200, takes the connection over from the server and relays
// bytes both ways — with splice(2) between plain TCP sockets on Linux, so tunnel bytes
// never enter user space — passing a half-close on with CloseWrite, until both
// directions have ended. Tunnels (CONNECT and upgrades) are bounded: at most
// MaxTunnels are open at once (4096 by default; the next is answered 503 and counted),
// and one that carries no byte either way for TunnelIdleTimeout (10 minutes by
// default; checked per direction, so it is closed between once and twice that after
// its last byte), half-closed or not, or whose peer accepts no byte for that long,
// is closed.
//
// Reverse (Reverse set, with a Transport over a [Balancer]): requests in origin form
// go to one of the upstreams, chosen round-robin or by least connections, with
// passive health (an upstream failing MaxFails times in a row is ejected and
// re-probed with exponential back-off). X-Forwarded-For, -Proto, -Host and Forwarded
// (RFC 7239) are added; those received are kept and extended only from the Trust
// networks, replaced otherwise. Host is passed through or rewritten
// ([Transport.HostHeader]).
//
// # Message rules
//
// Hop-by-hop fields are removed in both directions (wire.RemoveHopByHop): Connection
// and every field it names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding (the
// body is re-framed: Content-Length is kept, chunked and close-delimited bodies are
// sent chunked to HTTP/1.1 clients), Upgrade, Trailer, Proxy-Authorization and
// Proxy-Authenticate. A 1.0 client's Connection: keep-alive never reaches the origin.
// Via is added both ways ("1.1 NAME", or "1.0 NAME" for what arrived as HTTP/1.0); a
// request whose Via already names this proxy is a loop and is answered 508.
// Max-Forwards is decremented on OPTIONS and TRACE, which are answered by the proxy
// when it is 0. OPTIONS * reaches a reverse proxy's upstream as OPTIONS *, and a
// forward proxy sends OPTIONS for an absolute URI with an empty path as OPTIONS *
// (RFC 9112 §3.2.4). An upgrade (Connection: upgrade with Upgrade, e.g. WebSocket) is the
// exception to hop-by-hop removal: Upgrade is forwarded, and when the upstream answers
// 101 both connections are handed over (the server's TakeOver, the client's
// SwitchedConn) and tunnelled like CONNECT. Informational responses are relayed: 103
// Early Hints with their end-to-end fields, 100 Continue to a client that sent
// Expect: 100-continue, from the upstream's own 100 (the server does not send one by
// itself). Trailers are forwarded both ways with chunked bodies; the response's
// Trailer announcement goes along when its trailer does (not to HTTP/1.0 clients).
//
// Everything the strictness policy rejects (request smuggling shapes included) is
// rejected by the server with 400 before anything is forwarded, and the client
// package applies the same codec to responses: the policy holds on both sides of the
// proxy. An upstream response with Transfer-Encoding and Content-Length together, an
// invalid Content-Length, obs-fold and the like is answered 502
// (http_protocol_error), never forwarded or stored. This is a deliberate choice:
// RFC 9112 §6.3 lets Transfer-Encoding override Content-Length, and allows an
// intermediary to forward such a message once it removed Content-Length (while
// saying it "ought to be handled as an error"); the cache-tests suite expects that
// (its required test headers-store-Transfer-Encoding fails against hop for this
// reason alone). A message framed two ways is what request and response smuggling
// feed on, and a proxy that repairs it hides the ambiguity from whoever reads the
// upstream's bytes another way.
//
// Lengths are exact end to end: a response body that ends before its declared length
// or last chunk reaches the client as an aborted message — the bytes that arrived,
// then the connection closed before the framing completes — never as a complete
// one, and its upstream connection is not reused. Bodies stream both ways with
// bounded buffers (32 KiB per exchange plus the server's response buffer), so the
// size of a body does not change the proxy's memory, and a slow client holds only
// its own upstream connection (behind a cache, also the requests coalesced onto
// its miss, which it paces; one that leaves does not cut them short). The response head and each piece of the body go out
// as soon as the upstream pauses — before a read that would wait ([BodyWaiter]) the
// proxy flushes what it wrote — so server-sent events, long polling and slow
// generators reach the client as they are produced, while pieces that arrive
// together (a fast upstream) are written together.
//
// # Errors
//
// A failed exchange is answered by the proxy with a Proxy-Status field (RFC 9209)
// naming the error: 502 when the upstream refused, reset or closed the connection or
// sent a malformed head; 504 when connecting or waiting for the response head timed
// out (client.Client's ConnectTimeout and ResponseHeaderTimeout, `--upstream-timeout`);
// 503 when the connection limit to the upstream was reached. The silence between two
// pieces of a streamed body has its own bound (client.Client's ReadTimeout,
// `--upstream-body-timeout`, 5 minutes in hop proxy): a stream idle for longer is cut
// (an aborted message), a slow but moving one is not. Retries follow the engine's
// rules: an idempotent request (or one with Idempotency-Key) whose reused upstream
// connection failed before any response byte is sent again; a POST never is.
//
// # Shutdown
//
// The server's Shutdown waits for requests in flight, but not for tunnels: a CONNECT
// or upgrade hands its connection over (server.ResponseWriter.TakeOver) and the
// server forgets it. The proxy keeps its own count of tunnels — reserved before the
// hand-over, while the server still waits for the request — and [Proxy.Shutdown],
// called after the server's with the same deadline, refuses new tunnels (503), lets
// the open ones run until both sides end them, and closes those still open at the
// deadline. hop proxy does both on SIGINT and SIGTERM within --shutdown-timeout.
//
// # The Exchanger seam (for the cache)
//
// Every request goes through [Exchanger.Exchange] with an [*Exchange]: x.Req is the
// request to send (method, absolute URL, end-to-end fields with the client's request
// directives, streamed body), x.In the client's request as parsed. The Exchanger
// fills x.Resp (status, reason, end-to-end response fields) and sets x.Body (the
// streamed body: io.EOF at a complete end, any other error means truncated). A cache
// wraps the Transport:
//
//	type cache struct{ next proxy.Exchanger }
//
//	func (c *cache) Exchange(ctx context.Context, x *proxy.Exchange) error {
//		key := keyOf(&x.Req) // before next: the Transport rewrites x.Req.URL
//		if e := c.lookup(key, &x.Req.Header); e != nil {
//			e.fill(&x.Resp)             // status and stored fields
//			x.Resp.Header.Add("Cache-Status", "hop; hit")
//			x.Body = e.body()
//			return nil
//		}
//		if err := c.next.Exchange(ctx, x); err != nil {
//			return err
//		}
//		x.Resp.Header.Add("Cache-Status", "hop; fwd=uri-miss; stored")
//		x.Body = c.tee(key, x.Body) // commit only when Read returns io.EOF
//		return nil
//	}
//
// Every field of x.Resp.Header, Cache-Status included, is sent to the client. A 101
// response (an upgrade: x.Resp.SwitchedConn is the upstream connection) and requests
// with an Upgrade field must pass through untouched, and so must x.Req.Trace, through
// which the proxy relays 1xx responses. An Exchange is reused after the request:
// nothing of it may be kept, and the strings of x.Req.URL point into its storage (copy
// them with strings.Clone to keep them).
//
// # Observability
//
// With AccessLog set, each request is logged with both connections: the client's
// conn and req numbers, the upstream's up_conn and up_reused, up_ms (time to the
// response head), retries, and an error kind when it failed. [Metrics] exports
// Prometheus metrics: connections per side, upstream reuse, request durations,
// errors by kind (tunnel_limit: tunnels refused past MaxTunnels; tunnel_idle_timeout:
// tunnels closed idle), upstream health. [Proxy.TunnelCounts] has the tunnel
// counters.
package proxy
