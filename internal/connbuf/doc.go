// Package connbuf owns the read side of one HTTP/1.1 connection, for hop's server,
// client and load generator alike: the read buffer (a window of unconsumed input that
// the parser consumes from the front, compacted or grown under a bound), the driver
// that runs wire's chunked decoder over it, and coarse deadlines that spare a busy
// connection a timer update per read.
//
// Buffer ownership. Parsed heads (wire.Request, wire.Response) point into the buffer.
// Bytes below the pinned floor (Pin) stay where they are: compaction moves the
// unconsumed input down to the floor, never below it, and when that frees nothing the
// input moves to a new, larger array while the old one stays alive for as long as
// something still points into it. Unpin when those references are gone.
//
// No I/O happens here beyond one Read into the free space (Fill): who reads, with
// which deadline and what a timeout means stay with the owner of the connection.
package connbuf
