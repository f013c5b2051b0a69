// Package park holds idle connections in an epoll set so that they cost neither a
// goroutine nor a buffer while they wait. It owns the epoll instance, the table from
// file descriptor to parked entry, and the expiry queues that replace per-connection
// timers.
//
// A connection is parked with EPOLLONESHOT; when it becomes readable (data, FIN or
// RST) the Parker hands its Entry to the wake callback exactly once. Deadlines are kept
// in FIFO queues, one per timeout class: every entry of a class has the same timeout,
// so expiry order equals park order and a periodic sweep from the front of each queue
// finds every expired entry without a timer per connection (a one-slot timing wheel
// per class). The sweep runs every Tick, so an entry expires at most one Tick late.
//
// The epoll descriptor itself is registered with Go's runtime poller, so waiting for
// events parks one goroutine and never blocks an OS thread.
//
// On systems without epoll, New returns ErrUnsupported and callers keep a goroutine per
// connection.
package park
