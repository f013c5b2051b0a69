// Package wire is hop's HTTP/1.1 codec: it owns the message syntax of RFC 9112, the
// URI syntax of request-targets (RFC 3986), and nothing else. It performs no I/O.
//
// The package provides:
//
//   - [Parser], an incremental, resumable, zero-copy parser for request and response
//     heads. It is fed the bytes buffered so far, remembers how far it got, and resumes
//     there on the next call, so a head split across many reads parses exactly as in one
//     read and no byte is scanned twice. Parsed values are sub-slices of the caller's
//     buffer.
//   - [Header], a field table with case-insensitive lookup backed by one byte arena and a
//     slice of offsets: no map, no per-field allocation. The same type holds parsed
//     fields (pointing into the read buffer) and fields being built for output.
//   - Body framing: [Framing] decided by RFC 9112 §6 (Content-Length, chunked,
//     close-delimited, and the HEAD / 1xx / 204 / 304 rules), and [ChunkedDecoder] for
//     chunked bodies with extensions and trailers; [ProhibitedTrailer] names the fields
//     a trailer section may not carry (the decoder drops them).
//   - Request-targets and URIs, one home for the whole project: [ParseTarget] (the four
//     forms of RFC 9112 §3.2), [SplitURI] (RFC 3986 components), [ParseAuthority] (host,
//     port, userinfo, IPv6 literals), and one percent-decoder, [AppendUnescaped], whose
//     [EscapePolicy] says what to do with malformed escapes, control characters,
//     backslashes and "%2F". The client's URL type, hop bench and hop serve use them.
//   - A serializer for both directions (the Append* functions), hop-by-hop field
//     handling ([RemoveHopByHop]), and the character classes others need ([TrimOWS],
//     [IsToken], [IsHexDigit], [IsPChar], ...).
//   - [Limits] and errors: every parse error is an [*Error] carrying the status code a
//     server answers with (400, 413, 414, 417, 431, 501, 505).
//
// # Strictness
//
// The strictness policy (see DESIGN.md) is enforced here, so the server, the client and
// the proxy all apply the same rules: bare LF, obs-fold, whitespace before the colon,
// CR/LF/NUL in values, invalid tokens, missing/repeated/invalid Host in HTTP/1.1,
// invalid or conflicting Content-Length, Transfer-Encoding with Content-Length,
// non-chunked final coding in requests, Transfer-Encoding in HTTP/1.0 requests,
// malformed chunks and HTTP/0.9 are rejected. One empty line before a start line, OWS
// around field values, case-insensitive names and codings, and a Content-Length list of
// identical values are tolerated.
//
// Decisions where the RFCs leave room, each a 400 and each tested:
//
//   - a fragment in a request-target ("#" is not part of one, RFC 9112 §3.2);
//   - userinfo in an absolute-form target (RFC 9110 §4.2.4: treat it as an error), an
//     http(s) target without a host, a port outside 1–65535 (targets and Host alike);
//   - an empty Host with an origin-form or asterisk-form target (the target URI would
//     have an empty host, which RFC 9110 §4.2.1 forbids); with an absolute-form or
//     authority-form target Host is ignored (RFC 9112 §3.2.2) and may be empty; a Host
//     holding a comma (several values combined);
//   - a Content-Length with leading zeros: RFC 9110 allows 1*DIGIT, but a recipient
//     reading "0200" as octal frames the message differently, and no sender needs them;
//   - a CONNECT request with a Content-Length other than 0 or a Transfer-Encoding: it
//     has no content (RFC 9110 §9.3.6), what follows its head is tunnel data;
//   - in the path of a request-target ([PathPolicy]): a backslash raw or %5C, a
//     malformed escape, an encoded control character (%00–%1F, %7F). The query is the
//     application's and is not judged beyond its characters;
//   - a method still being read when the request line reaches its limit is a 400, not a
//     414 (that is for long targets).
//
// A lower-case or unknown method is a valid token: the codec passes it on, and refusing
// it (501, 405) is the handler's business.
//
// # When a head fails
//
// Every line of a head, and every trailer line, is scanned one byte at a time as its
// bytes arrive. A byte that makes the line invalid whatever follows (a byte no method,
// target or version may hold, a bare CR, a NUL or control character in a value, an
// invalid name character before the colon) fails the head as soon as it is buffered,
// without waiting for an LF; so does a line that has reached its limit. What only the
// whole line shows (a method-only line, the HTTP major version, the target's form, a
// field's meaning) is decided when its LF arrives. The complete line is judged by the
// same scan, so the error never depends on how the input was split into reads.
package wire
