// Package loadgen is the load-generation engine behind "hop bench". It owns opening
// and reusing connections under load, pacing requests, reading responses as fast as
// the peer sends them, and measuring: throughput, latency percentiles (HdrHistogram),
// errors by kind and connections opened. It does not own HTTP syntax: requests are
// serialized once with the wire package's Append functions and responses are parsed
// with wire.Parser and wire.ChunkedDecoder.
//
// # Engine
//
// [Run] starts one goroutine per connection (Go's netpoller multiplexes them over
// every core GOMAXPROCS allows). Each goroutine owns a net.Conn, a read buffer and a
// parser, and works without allocating per request: the request bytes are built
// once, N copies back to back for pipelining, and written with one write; responses
// are parsed in place in the read buffer, bodies framed by Content-Length, the
// chunked coding or the end of the connection are skipped without copying. On Linux,
// plain TCP connections are read and written with raw system calls while still
// waiting for readiness in the netpoller (package internal/rawio, shared with the
// server): not announcing a non-blocking socket call to the scheduler keeps the
// runtime from handing the processor to another thread in the middle of a loopback
// write, which otherwise costs context switches on every request when the engine has
// a single core. With that, the engine spends about as much CPU per request as wrk.
//
// Connection management is what the engine measures, so every mode is explicit:
//
//   - keep-alive (the default): Connections persistent connections, one request in
//     flight on each;
//   - pipelined (Pipeline > 1): up to Pipeline requests in flight on each
//     connection, sent in one write; the next batch goes out when the last response
//     of the batch has arrived (as wrk's pipeline script does), or with Rate as
//     their schedule slots come. When the server ends a connection with
//     "Connection: close", the requests it left unanswered are sent again on a new
//     connection;
//   - close (Close): a new TCP connection per request, sent with
//     "Connection: close"; latency then includes the connect.
//
// # Latency and coordinated omission
//
// Without Rate, each connection sends as fast as responses come back, and latency is
// the time from writing a request to reading the last byte of its response.
//
// With Rate, requests follow a fixed schedule (Rate per second over all
// connections, each connection taking every Connections-th slot). A request whose
// slot comes while its connection is still busy is sent late, and its latency is
// measured from the slot, not from the late send: a server stall then shows up in
// every request the stall delayed, as a user at that rate would see it, instead of
// in the one request that happened to be in flight. This is the
// coordinated-omission correction of wrk2. The uncorrected latency (from the actual
// send) is kept too, so the two can be compared.
//
// # Recording
//
// Each connection collects latency samples in a small buffer and flushes them into
// one of a few shared histograms (one per GOMAXPROCS) it takes from a pool, so
// memory stays bounded with thousands of connections and no lock is taken per
// request. The histograms are merged when the run ends. Samples are microseconds,
// three significant digits, up to one hour.
//
// Errors are counted by kind ([Errors]): connect, read (including a connection
// closed or reset before a response was complete), write, timeout, status
// (responses with a status of 400 or more; these also count as requests) and
// protocol (a malformed response); the first error of each kind is kept with its
// cause ([Result.FirstErrors]), so that a report says why, not only how often. After an
// error the connection is closed and a new one is opened, after a short back-off when
// errors repeat. With a request budget (Requests), a failed connection attempt uses up
// one request of it, so that a run against a dead server ends too.
//
// [Compare] runs close, keep-alive, pipelined and parallel back to back and counts
// the sockets left in TIME_WAIT after the close run ([CountTimeWait]).
package loadgen
