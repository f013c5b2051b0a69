// Package fileserver serves a directory tree over hop's server engine: the static
// file Handler behind `hop serve`, and the access log that goes with it.
//
// It owns everything about turning a request path into a file response:
//
//   - Path safety. The request path is percent-decoded once and cleaned; a NUL byte or
//     a malformed escape is answered 400, a ".." segment 403. Files are opened so that
//     no path and no symbolic link can reach outside the root unless
//     Options.FollowSymlinks is set: on Linux with one openat2(RESOLVE_BENEATH) call,
//     enforced by the kernel; elsewhere (or where openat2 is missing) through an
//     os.Root. Dotfiles (any segment starting with '.') are hidden (404) unless
//     Options.ShowDotfiles is set. Only regular files and directories are served;
//     devices, FIFOs and sockets are 403.
//   - Directories: a path naming a directory without the trailing slash is redirected
//     (301); with it, the first index file (index.html) is served, else a listing in
//     HTML, or in JSON when the client prefers application/json (Accept).
//   - Content-Type by extension (a built-in table for the web's common types, then the
//     system's mime tables) with content sniffing of the first 512 bytes as fallback.
//   - Validators and conditional requests per RFC 9110 §13: a strong ETag from the
//     modification time and size, Last-Modified; If-Match, If-Unmodified-Since,
//     If-None-Match, If-Modified-Since and If-Range evaluated in the RFC's order.
//   - Ranges per RFC 9110 §14: one range is a 206 with Content-Range, several are a
//     multipart/byteranges body, none satisfiable is a 416. Abusive sets (more than
//     MaxRanges, or overlapping ranges adding up to more than the file) are ignored and
//     the whole file is sent.
//   - Compression for compressible types (text/*, JavaScript, JSON, XML, SVG, wasm,
//     fonts that are not already compressed): a precompressed sibling (name.br,
//     name.zst, name.gz) when the client accepts its coding, else on-the-fly zstd or
//     gzip (klauspost/compress) for files of at least Options.CompressMinSize bytes.
//     Responses for compressible types always carry Vary: Accept-Encoding, the
//     identity ones included. A Range request gets the identity representation (or a
//     precompressed one, whose bytes are stable) so that ranges stay meaningful.
//   - HEAD, and zero-copy bodies: every section sent (the whole file, a single range, or
//     one part of a multipart body) larger than 16 KiB is handed whole to
//     ResponseWriter.ReadFrom as an io.SectionReader of the open file, which lends its
//     descriptor: the server sends it with sendfile on plain TCP from the section's
//     offset, the head corked together with the start of the file so that both leave
//     in full segments. Sections of up to 16 KiB are read with one pread into the
//     response buffer instead: one write per response, and responses to pipelined
//     requests batch into one write. Either way a file is a bare descriptor (openat2,
//     fstat, pread or sendfile, close) and never becomes an *os.File.
//   - The open-file cache (as nginx's open_file_cache): what opening a path found — a
//     file of up to 16 KiB with its contents, metadata and Content-Type, a directory,
//     or that nothing is there — is trusted for Options.CacheValid (1 s), measured on
//     hop's coarse clock, within Options.CacheBytes (16 MiB, otter). A hot small file
//     is served from memory with no system call but the response's write; a change to
//     the tree is served within CacheValid, when the next request opens the path again.
//
// server.AccessLog wraps the Handler (or any other) with a log/slog access log whose
// records name the connection (its id and the request's number on it), so that
// keep-alive reuse and the number of connections a client opened can be read off the
// log.
package fileserver
