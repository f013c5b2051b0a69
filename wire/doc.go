// Package wire is hop's HTTP/1.1 codec: it owns the message syntax of RFC 9112 and
// nothing else. It performs no I/O.
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
//     chunked bodies with extensions and trailers.
//   - A serializer for both directions (the Append* functions).
//   - [Limits] and errors: every parse error is an [*Error] carrying the status code a
//     server answers with (400, 413, 414, 417, 431, 501, 505).
//
// The strictness policy (see DESIGN.md) is enforced here, so the server, the client and
// the proxy all apply the same rules: bare LF, obs-fold, whitespace before the colon,
// CR/LF/NUL in values, invalid tokens, missing/repeated/invalid Host in HTTP/1.1,
// invalid or conflicting Content-Length, Transfer-Encoding with Content-Length,
// non-chunked final coding in requests, Transfer-Encoding in HTTP/1.0 requests,
// malformed chunks and HTTP/0.9 are rejected. One empty line before a start line, OWS
// around field values, case-insensitive names and codings, and a Content-Length list of
// identical values are tolerated. A line is judged when its LF arrives, except that a
// line whose first bytes are already invalid, or which already exceeds a limit, is
// refused at once; the result never depends on how the input was split into reads.
package wire
