package loadgen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/internal/connbuf"
	"github.com/hop-http/hop/internal/rawio"
	"github.com/hop-http/hop/wire"
)

const (
	initialBuffer = 32 << 10
	// minFree is the free space below which the read buffer is compacted.
	minFree = 4 << 10
	// maxBackoff bounds the pause after repeated errors on one connection.
	maxBackoff = 100 * time.Millisecond
)

// maxBuffer bounds a connection's read buffer: the largest head the parser admits,
// plus room for the bytes that follow it.
var maxBuffer = (&wire.Limits{}).MaxHead() + minFree

var aLongTimeAgo = time.Unix(1, 0)

var (
	errUpgrade     = errors.New("loadgen: unexpected 101 Switching Protocols")
	errUnsolicited = errors.New("loadgen: response without a request")
	errHeadTooBig  = errors.New("loadgen: response head larger than the read buffer limit")
	errClosed      = errors.New("loadgen: connection closed before the response was complete")
)

// errKind classifies a failure; see Errors.
type errKind uint8

const (
	kindConnect errKind = iota
	kindRead
	kindWrite
	kindTimeout
	kindStatus
	kindProtocol
	numKinds
)

// kindNames are the names of the kinds in the JSON report and Result.FirstErrors.
var kindNames = [numKinds]string{"connect", "read", "write", "timeout", "status", "protocol"}

// slot is one request in flight: when it was meant to be sent (the schedule slot
// with Rate, else the send time) and when it was sent, in engine nanoseconds.
type slot struct {
	intended, sent int64
}

// worker drives one connection at a time. Only its own goroutine touches its fields,
// except mu/conn (stop wakes the connection) and live (read by progress).
type worker struct {
	e  *engine
	id int

	mu   sync.Mutex
	conn net.Conn
	raw  rawio.Conn // raw system calls on conn (plain TCP on Linux)

	in         connbuf.Buffer // unparsed input
	parser     wire.Parser
	resp       wire.Response
	chunk      connbuf.Chunked
	inBody     bool
	framing    wire.Framing
	left       int64 // body bytes left with FramingLength
	status     int
	keep       bool
	closeAfter bool // the connection ends after the response just completed
	sent       bool // requests were written since the last read

	ring   []slot // requests in flight, oldest at head
	head   int
	n      int
	resend int   // requests in the ring to send again on the next connection
	next   int64 // with Rate: index of this worker's next schedule slot

	dialedAt     int64
	lastProgress int64
	rd, wd       connbuf.Deadline // the read and write deadlines in force
	pacing       bool             // the read deadline is a schedule slot, not a timeout
	consecutive  int              // errors since the last complete response
	timer        *time.Timer

	samples  [sampleBatch]int64
	usamples [sampleBatch]int64
	ns       int

	bytes    int64
	errs     Errors
	firstErr [numKinds]error // the first measured error of each kind
	firstAt  [numKinds]int64 // when it happened, in engine nanoseconds
	classes  [6]int64
	live     struct {
		requests atomic.Int64
		errors   atomic.Int64
	}
}

func newWorker(e *engine, id int) *worker {
	w := &worker{e: e, id: id, ring: make([]slot, e.cfg.Pipeline)}
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	return w
}

// due returns the schedule slot k of this worker, in engine nanoseconds.
func (w *worker) due(k int64) int64 {
	return int64((float64(w.id) + float64(k)*float64(w.e.cfg.Connections)) * w.e.slotNs)
}

func (w *worker) run() {
	e := w.e
	defer w.closeConn()
	for !e.stopped.Load() {
		if w.n == 0 && w.resend == 0 {
			if !e.budgetLeft() {
				return
			}
			if e.slotNs > 0 {
				if due := w.due(w.next); due > e.now() {
					if !w.sleep(due) {
						return
					}
					continue
				}
			}
		}
		if w.conn == nil && !w.connect() {
			continue
		}
		if !w.send() || w.n == 0 {
			continue
		}
		w.receive()
	}
}

// sleep waits until the engine time until, or until the run stops (false).
func (w *worker) sleep(until int64) bool {
	d := time.Duration(until - w.e.now())
	if d <= 0 {
		return !w.e.stopped.Load()
	}
	w.timer.Reset(d)
	select {
	case <-w.timer.C:
		return true
	case <-w.e.done:
		w.timer.Stop()
		return false
	}
}

// connect opens a new connection. A connection opened for new requests (nothing in
// flight, nothing to send again) first claims one request of the budget, so that with
// Requests a failed attempt uses one up and concurrent workers cannot overshoot it; the
// claim is given back once the connection is open, for send to take.
func (w *worker) connect() bool {
	e := w.e
	start := e.now()
	claimed := 0
	if e.limited && w.n == 0 && w.resend == 0 && e.measured(start) {
		if claimed = e.claim(1, start); claimed == 0 {
			return false
		}
	}
	c, err := e.dial()
	if err != nil {
		w.fail(kindConnect, start, err)
		return false
	}
	if claimed > 0 {
		e.budget.Add(int64(claimed))
	}
	e.opened.Add(1)
	w.mu.Lock()
	w.conn = c
	w.raw.Attach(c)
	if e.stopped.Load() {
		c.SetDeadline(aLongTimeAgo)
	}
	w.mu.Unlock()
	w.dialedAt = start
	w.rd.Forget()
	w.wd.Forget()
	w.pacing = false
	w.lastProgress = e.now()
	return true
}

// closeConn closes the connection and forgets any partial response.
func (w *worker) closeConn() {
	if w.conn == nil {
		return
	}
	w.mu.Lock()
	w.conn.Close()
	w.conn = nil
	w.raw.Detach()
	w.mu.Unlock()
	w.in.Reset()
	w.inBody, w.closeAfter = false, false
	w.parser.Reset()
}

// wake makes a blocked read or write return at once (called by stop).
func (w *worker) wake() {
	w.mu.Lock()
	if w.conn != nil {
		w.conn.SetDeadline(aLongTimeAgo)
	}
	w.mu.Unlock()
}

// setReadDeadline sets the read deadline to the engine time at. Unless exact, a
// deadline already set at most Timeout/8 earlier is kept, so that a busy connection
// touches its timer rarely.
func (w *worker) setReadDeadline(at int64, exact bool) {
	var slack time.Duration
	if !exact {
		slack = w.e.cfg.Timeout / 8
	}
	t := w.e.at(at)
	if !w.rd.Move(t, slack) {
		return
	}
	w.mu.Lock()
	if !w.e.stopped.Load() {
		w.conn.SetReadDeadline(t)
	}
	w.mu.Unlock()
}

func (w *worker) setWriteDeadline(now int64) {
	t := w.e.at(now + int64(w.e.cfg.Timeout))
	if !w.wd.Move(t, w.e.cfg.Timeout/8) {
		return
	}
	w.mu.Lock()
	if !w.e.stopped.Load() {
		w.conn.SetWriteDeadline(t)
	}
	w.mu.Unlock()
}

// send writes as many requests as the window, the schedule and the budget allow, all
// in one write. It reports false after a write error.
func (w *worker) send() bool {
	e := w.e
	now := e.now()
	var k int
	if w.resend > 0 {
		k, w.resend = w.resend, 0
		sent := now
		if e.cfg.Close {
			sent = w.dialedAt
		}
		for i, j := 0, w.head; i < k; i++ {
			w.ring[j].sent = sent
			if j++; j == len(w.ring) {
				j = 0
			}
		}
	} else {
		k = len(w.ring) - w.n
		if e.slotNs == 0 && w.n > 0 {
			// Without a schedule the window is refilled whole once it is empty, N
			// requests in one write, as wrk's pipeline script does: fewer and fuller
			// writes cost both sides less than topping it up after every read.
			return true
		}
		if e.slotNs > 0 {
			j := 0
			for j < k && w.due(w.next+int64(j)) <= now {
				j++
			}
			k = j
		}
		if k == 0 {
			return true
		}
		if k = e.claim(k, now); k == 0 {
			return true
		}
		sent := now
		if e.cfg.Close {
			sent = w.dialedAt
		}
		tail := w.head + w.n
		for i := 0; i < k; i++ {
			intended := sent
			if e.slotNs > 0 {
				intended = w.due(w.next)
				w.next++
			}
			if tail >= len(w.ring) {
				tail -= len(w.ring)
			}
			w.ring[tail] = slot{intended, sent}
			tail++
		}
		w.n += k
	}
	w.setWriteDeadline(now)
	if err := w.write(e.batch[:k*len(e.req)]); err != nil {
		w.fail(kindWrite, now, err)
		return false
	}
	w.lastProgress = now
	w.sent = true
	return true
}

func (w *worker) read(p []byte) (int, error) {
	if w.raw.Attached() {
		return w.raw.Read(p)
	}
	return w.conn.Read(p)
}

func (w *worker) write(p []byte) error {
	var err error
	if w.raw.Attached() {
		_, err = w.raw.Write(p)
	} else {
		_, err = w.conn.Write(p)
	}
	return err
}

// receive reads once and handles every response that completes.
func (w *worker) receive() {
	e := w.e
	at := w.lastProgress + int64(e.cfg.Timeout)
	w.pacing = false
	if e.slotNs > 0 && w.n < len(w.ring) && e.budgetLeft() {
		if due := w.due(w.next); due < at {
			at, w.pacing = due, true
		}
	}
	w.setReadDeadline(at, w.pacing)
	if !w.makeRoom() {
		w.fail(kindProtocol, e.now(), errHeadTooBig)
		return
	}
	if w.sent && w.raw.Attached() && w.in.Len() == 0 {
		// The requests just left and the server needs a moment to answer: a read now
		// finds nothing (EAGAIN) and the goroutine parks in the poller anyway. Letting
		// the connections already runnable go first makes the read find the responses
		// more often (as the server does before waiting for a request).
		runtime.Gosched()
	}
	w.sent = false
	n, err := w.read(w.in.Free())
	now := e.now()
	if n > 0 {
		w.in.Advance(n)
		w.lastProgress = now
		if e.measured(now) {
			w.bytes += int64(n)
		}
		if perr := w.process(now); perr != nil {
			w.fail(kindProtocol, now, perr)
			return
		}
		if w.closeAfter {
			w.closeConn()
			w.resend = w.n
			return
		}
	}
	if err != nil {
		w.readFailed(err, now)
	}
}

func (w *worker) readFailed(err error, now int64) {
	e := w.e
	if e.stopped.Load() {
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if w.pacing && now < w.lastProgress+int64(e.cfg.Timeout) {
			return // a schedule slot came: go and send
		}
		w.fail(kindTimeout, now, fmt.Errorf("no progress for %v: %w", e.cfg.Timeout, err))
		return
	}
	if err == io.EOF {
		if w.inBody && w.framing == wire.FramingClose {
			w.inBody = false
			w.complete(now)
			w.closeConn()
			w.resend = w.n
			return
		}
		if w.n == 0 {
			w.closeConn()
			return
		}
		err = errClosed
	}
	w.fail(kindRead, now, err)
}

// fail counts an error, abandons the requests in flight and closes the connection,
// pausing when errors repeat. Errors caused by the end of the run are not counted. err
// is the cause, kept when it is the first measured error of its kind.
func (w *worker) fail(kind errKind, now int64, err error) {
	e := w.e
	w.closeConn()
	w.n, w.head, w.resend = 0, 0, 0
	if e.stopped.Load() {
		return
	}
	if e.measured(now) {
		w.record(kind, now, err)
		switch kind {
		case kindConnect:
			w.errs.Connect++ // with Requests, connect claimed the request it used up
		case kindRead:
			w.errs.Read++
		case kindWrite:
			w.errs.Write++
		case kindTimeout:
			w.errs.Timeout++
		case kindProtocol:
			w.errs.Protocol++
		}
		w.live.errors.Add(1)
	}
	w.consecutive++
	if w.consecutive >= 2 {
		shift := w.consecutive - 2
		if shift > 7 {
			shift = 7
		}
		d := time.Millisecond << shift
		if d > maxBackoff {
			d = maxBackoff
		}
		w.sleep(e.now() + int64(d))
	}
}

// record keeps err as the first error of its kind, unless one was kept already. Bare
// system call errors of the raw I/O path get the operation as context.
func (w *worker) record(kind errKind, now int64, err error) {
	if w.firstErr[kind] != nil || err == nil {
		return
	}
	var op *net.OpError
	if (kind == kindRead || kind == kindWrite) && !errors.As(err, &op) && err != errClosed {
		err = fmt.Errorf("%s: %w", kindNames[kind], err)
	}
	w.firstErr[kind], w.firstAt[kind] = err, now
}

// makeRoom makes free space at the end of the read buffer: at least minFree bytes,
// so that reads are not tiny. It reports false when an incomplete head already fills
// the largest buffer allowed.
func (w *worker) makeRoom() bool {
	if w.in.Cap() == 0 {
		w.in.Init(initialBuffer)
	}
	return w.in.Room(minFree, maxBuffer)
}

// process parses the buffered input: every response it completes is recorded.
func (w *worker) process(now int64) error {
	for {
		if !w.inBody {
			if w.in.Len() == 0 {
				return nil
			}
			n, err := w.parser.ParseResponse(w.in.Bytes(), &w.resp, w.e.method)
			if err == wire.ErrNeedMore {
				return nil // a head that fills the largest buffer fails in makeRoom
			}
			if err != nil {
				return err
			}
			w.in.Consume(n)
			if w.resp.Status < 200 {
				if w.resp.Status == 101 {
					return errUpgrade
				}
				continue // an interim response: the final one follows
			}
			if w.n == 0 {
				return errUnsolicited
			}
			w.inBody = true
			w.framing, w.left = w.resp.Framing, w.resp.ContentLength
			w.status, w.keep = w.resp.Status, w.resp.KeepAlive
			if w.framing == wire.FramingChunked {
				w.chunk.Reset()
			}
		}
		switch w.framing {
		case wire.FramingLength:
			if avail := int64(w.in.Len()); avail < w.left {
				w.left -= avail
				w.in.Consume(int(avail))
				return nil
			}
			w.in.Consume(int(w.left))
			w.left = 0
		case wire.FramingChunked:
			for {
				data, err := w.chunk.Next(&w.in, math.MaxInt) // the data is skipped
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if data == nil {
					return nil // the rest of a line, or of a chunk, is still to come
				}
			}
		case wire.FramingClose:
			w.in.Consume(w.in.Len()) // the body ends when the connection does
			return nil
		}
		w.inBody = false
		w.complete(now)
		if !w.keep || w.e.cfg.Close {
			w.closeAfter = true
			return nil
		}
	}
}

// complete records the oldest request in flight as answered at now.
func (w *worker) complete(now int64) {
	s := w.ring[w.head]
	if w.head++; w.head == len(w.ring) {
		w.head = 0
	}
	w.n--
	w.consecutive = 0
	e := w.e
	if !e.measured(s.intended) || e.stopped.Load() {
		return
	}
	if c := w.status / 100; c < len(w.classes) {
		w.classes[c]++
	}
	if w.status >= 400 {
		w.errs.Status++
		w.live.errors.Add(1)
		if w.firstErr[kindStatus] == nil {
			w.record(kindStatus, now, fmt.Errorf("status %d", w.status))
		}
	}
	w.live.requests.Add(1)
	w.samples[w.ns] = now - s.intended
	w.usamples[w.ns] = now - s.sent
	if w.ns++; w.ns == sampleBatch {
		w.flush()
	}
}

// flush moves the buffered samples into a shared histogram shard.
func (w *worker) flush() {
	if w.ns == 0 {
		return
	}
	hp := <-w.e.hists
	rate := w.e.slotNs > 0
	for i := 0; i < w.ns; i++ {
		hp.lat.RecordValue(micros(w.samples[i]))
		if rate {
			hp.ulat.RecordValue(micros(w.usamples[i]))
		}
	}
	w.e.hists <- hp
	w.ns = 0
}

// micros converts nanoseconds to microseconds within the histogram's range.
func micros(ns int64) int64 {
	us := (ns + 500) / 1000
	switch {
	case us < 0:
		return 0
	case us > histMax:
		return histMax
	}
	return us
}
