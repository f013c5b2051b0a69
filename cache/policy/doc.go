// Package policy is the RFC 9111 decision logic of hop's shared cache, kept apart
// from storage and from I/O: pure functions over parsed header tables
// (wire.Header) and times. It owns
//
//   - cache directives (§5.2): [ParseResponse] and [ParseRequest], Cache-Control
//     lists read with wire's list helpers (quoted strings may hold commas), and the
//     targeted CDN-Cache-Control field (RFC 9213), a Structured Field dictionary
//     that, when valid, replaces Cache-Control and Expires for this cache;
//   - storing (§3): [CanStore] (method, final status, no-store, private,
//     Authorization, must-understand, Vary: *) and [StoredField] (hop-by-hop
//     fields, fields named by Connection and by private="…" are never stored);
//   - freshness and age (§4.2): [Lifetime] (s-maxage, max-age, Expires − Date,
//     heuristic 10% of the time since Last-Modified, at most a day), [InitialAge]
//     (corrected_initial_age, §4.2.3) and [Facts], the per-response summary a store
//     keeps;
//   - reuse (§4, §4.2.4, §5.2.1, RFC 5861): [Evaluate] (fresh, stale allowed by
//     max-stale, stale-while-revalidate, validate, or 504 for only-if-cached) and
//     [StaleOnError] (stale-if-error, or a bounded staleness when the origin cannot be
//     reached; never for no-cache, must-revalidate, proxy-revalidate or s-maxage);
//   - validation (§4.3): [SetValidators], [Matches304] and [Freshen] (a 304
//     updates the stored fields, never Content-Length);
//   - Vary (§4.1): [AppendVaryNames] and [AppendSecondaryKey], the canonical
//     secondary key with normalised request values;
//   - invalidation (§4.4): [Invalidates];
//   - Cache-Status (RFC 9211): [AppendCacheStatus].
//
// Decisions that RFC 9111 leaves open, and what hop does:
//
//   - A directive repeated within Cache-Control keeps its first value; an invalid
//     max-age or s-maxage argument (not 1*DIGIT, negative, quoted with ') makes
//     the response stale; Expires that is invalid or repeated is in the past.
//   - An Age field is read from its first line's first element; anything but
//     1*DIGIT is ignored (§5.1); values past 2^31 are 2^31.
//   - Only GET responses are stored (HEAD is answered from them); 206 and 304 are
//     never stored; qualified no-cache fields are stored but withheld from responses
//     served without validation; qualified private fields are not stored.
package policy
