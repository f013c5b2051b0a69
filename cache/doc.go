// Package cache is hop's RFC 9111 shared cache. A [Cache] wraps the proxy's
// upstream Exchanger (package proxy's seam): for each GET or HEAD it looks the
// request up in a [store.Store] and answers from it when the policy (package
// cache/policy) allows, forwards conditionally when the stored response must be
// validated, or forwards and tees the response into storage as it streams. Every
// response carries a Cache-Status member (RFC 9211), e.g. `hop; hit; ttl=376`,
// `hop; fwd=uri-miss; fwd-status=200; stored; ttl=60`, `hop; fwd=stale;
// fwd-status=304`, `hop; fwd=uri-miss; fwd-status=200; collapsed`.
//
// # Keys and variants
//
// The primary key is the effective request URI (scheme://authority/path?query) of a
// GET; HEAD is answered from the stored GET. A response with Vary is stored under a
// secondary key — the primary key plus the request's normalised values of the
// fields Vary names — and the primary key holds a marker listing those names.
// Store keys are SHA-256 prefixes of the key text; the full text is kept in the entry
// and compared on every lookup, so a hash collision is a miss, never a wrong answer.
//
// # Truncation safety
//
// A body is written to the store while it streams to the client and committed only
// when it ended cleanly at its declared length (Content-Length) or last chunk; an
// upstream that closes early, or a client that goes away before the end, aborts the
// entry, which never becomes visible (unless other requests follow it: see
// Coalescing). A response without a body (204, an empty
// 200) is complete at its head. Bodies larger than MaxObject are not stored.
//
// # Coalescing
//
// Concurrent misses for one key make one upstream request. The others wait (at most
// CoalesceWait) for its head: a storable response of known length up to SpoolMax
// they read from memory as it streams (their own Cache-Status says collapsed); a
// larger or chunked one they read from the store once committed; a response that
// cannot be stored, or whose Vary selects another variant, releases them to go
// upstream themselves. Followers do not depend on the leader's client: when it goes
// away before the end, the leader goes on reading the body into the spool and the
// store for them (up to MaxObject bytes and CoalesceWait more), and a follower waits
// at most CoalesceWait for each further piece (an aborted message past it). A slow
// leader's client still paces its followers while it reads. Buffers follow the
// bytes that arrive, never a declared length: a head announcing 8 MiB costs nothing
// until the bytes come (store.AppendBody).
//
// Processes that share a store (hop proxy nodes on one Redis) coalesce too, through
// the store's leases (store.Locker): each process's leader takes the key's lease
// before it goes upstream and gives it back after the commit; a leader that finds the
// lease taken waits (at most CoalesceWait, polling every 20 ms) for the other
// process's response to appear in the store and answers from it, with its own
// followers. A lease whose holder died lapses within seconds (the store's lease
// time); a non-storable answer leaves nothing to find, and the next leader to take
// the lease goes upstream itself.
//
// # Serving stale and revalidating
//
// Within a stale-while-revalidate window the stored response is served at once and
// revalidated in the background (one request per key). Outside it, concurrent
// requests for one stale response send one conditional request: the others wait for
// its outcome (at most CoalesceWait) and look again, so a 304 answers them all; when
// the response was replaced instead (a 200), they find the old one until the new one
// is committed and validate on their own. A request whose own directives ask for
// validation (no-cache, max-age, min-fresh) always validates itself. When validation fails, a
// stale response is served within stale-if-error (response or request directive)
// for 5xx answers, and up to StaleOnDisconnect when the origin cannot be reached at
// all; never for no-cache, must-revalidate, proxy-revalidate or s-maxage responses.
//
// # Conditional and range requests
//
// A client's If-None-Match / If-Modified-Since is answered from a usable stored
// response (304); when the stored response is validated, the cache sends its own
// validators and answers the client's conditions from the result. A Range request
// is answered from a complete stored 200: one range with a 206 and Content-Range,
// several (at most 16, not overlapping past the whole) with a 206
// multipart/byteranges body (internal/httpcond.Multipart, the file server's layout),
// an unsatisfiable one with 416; If-Range is honoured. If-Match and
// If-Unmodified-Since requests go to the origin.
//
// A HEAD that has to be forwarded (the stored GET is stale) is made conditional like
// a GET; a 200 answer whose validators and Content-Length agree with the stored GET
// freshens it like a 304 and the client gets the freshened stored head; one that
// disagrees removes it (RFC 9111 §4.3.5).
//
// Partial responses (206) are not stored, and a Range request that misses goes to
// the origin as it is. Storing them right means keeping byte ranges of one
// representation apart from complete bodies, combining them only when their
// validators match (RFC 9111 §3.3, §3.4), and serving a range only when stored
// pieces cover it — a second kind of entry that the store's one rule (an entry is
// visible only when its declared length arrived) would not protect; hop does not do
// it rather than do it halfway.
//
// # Invalidation and purge
//
// A successful unsafe request (POST, PUT, DELETE, any method but GET, HEAD,
// OPTIONS and TRACE) removes the stored responses of its target and of same-origin
// Location and Content-Location. PURGE from AllowPurge networks, and [Cache.Purge]
// (hop proxy's admin endpoint), remove a URL's entries.
//
// # Store outages
//
// When the store fails (Redis down), the cache logs it once, bypasses the store —
// requests go upstream, nothing is stored, misses coalesce within the process only —
// and lets one request per second probe it; the recovery is logged once too.
//
// # Deliberate deviation
//
// The proxy applies the strictness policy to responses: one framed with both
// Transfer-Encoding and Content-Length is a 502, so it is neither forwarded nor
// stored (see package proxy). The cache-tests suite's required test
// headers-store-Transfer-Encoding expects it stored; it is the one required test hop
// fails.
package cache
