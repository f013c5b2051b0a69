package park

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnsupported is returned by New where parking is not implemented.
var ErrUnsupported = errors.New("park: not supported on this platform")

// ErrClosed is returned by Park after Close.
var ErrClosed = errors.New("park: parker closed")

const (
	entryFree int32 = iota
	entryParked
	entryTaken
)

// Entry is one parked connection. Callers embed or allocate it, set Value, and pass it
// to Park; the Parker hands it back through exactly one of the wake and expire
// callbacks (or the function given to CloseAll).
type Entry struct {
	// Value is the caller's state for the connection.
	Value any

	fd         int
	deadline   int64 // unix nanoseconds
	class      int
	prev, next *Entry
	state      atomic.Int32
}

// queue is a FIFO list of entries sharing one timeout class.
type queue struct{ head, tail *Entry }

func (q *queue) push(e *Entry) {
	e.prev, e.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = e
	} else {
		q.head = e
	}
	q.tail = e
}

func (q *queue) remove(e *Entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// Config configures a Parker.
type Config struct {
	// Wake is called, from the Parker's goroutine, when a parked connection becomes
	// readable or was closed by its peer. It must not block: start a goroutine.
	Wake func(*Entry)
	// Expire is called, from the sweeping goroutine, for entries whose deadline passed.
	// The entry is already removed from the epoll set.
	Expire func(*Entry)
	// Tick is the sweep period (default 1s): the precision of deadlines.
	Tick time.Duration
	// Classes is the number of timeout classes (default 1). Entries of one class must be
	// parked with non-decreasing deadlines (the same timeout measured from park time).
	Classes int
}

// Parker is a set of parked connections. It is safe for concurrent use.
type Parker struct {
	cfg    Config
	ep     epoller
	mu     sync.Mutex
	table  map[int]*Entry
	queues []queue
	closed bool
	stop   chan struct{}
	done   sync.WaitGroup
}

// New starts a Parker: one goroutine waiting on epoll and one sweeping deadlines.
func New(cfg Config) (*Parker, error) {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Classes <= 0 {
		cfg.Classes = 1
	}
	ep, err := newEpoller()
	if err != nil {
		return nil, err
	}
	p := &Parker{cfg: cfg, ep: ep, table: make(map[int]*Entry), queues: make([]queue, cfg.Classes), stop: make(chan struct{})}
	p.done.Add(2)
	go p.waitLoop()
	go p.sweepLoop()
	return p, nil
}

// Len returns the number of parked entries.
func (p *Parker) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.table)
}

// Park registers fd for one readiness event and records e under deadline in class.
// The caller must not touch the connection until e comes back through a callback.
func (p *Parker) Park(e *Entry, fd int, class int, deadline time.Time) error {
	e.fd, e.class, e.deadline = fd, class, deadline.UnixNano()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if old := p.table[fd]; old != nil && old != e {
		// A stale entry for a descriptor number that was closed and reused.
		p.unlinkLocked(old)
	}
	e.state.Store(entryParked)
	p.table[fd] = e
	p.queues[class].push(e)
	p.mu.Unlock()
	if err := p.ep.arm(fd); err != nil {
		if p.take(e) {
			return err
		}
		return nil // already handed out (cannot happen before arming, but be safe)
	}
	return nil
}

// take claims e for the caller if it is still parked, unlinking it.
func (p *Parker) take(e *Entry) bool {
	if !e.state.CompareAndSwap(entryParked, entryTaken) {
		return false
	}
	p.mu.Lock()
	p.unlinkLocked(e)
	p.mu.Unlock()
	return true
}

func (p *Parker) unlinkLocked(e *Entry) {
	if p.table[e.fd] == e {
		delete(p.table, e.fd)
		p.queues[e.class].remove(e)
	}
}

func (p *Parker) waitLoop() {
	defer p.done.Done()
	var fds []int
	for {
		var err error
		fds, err = p.ep.wait(fds[:0])
		if err != nil {
			return
		}
		for _, fd := range fds {
			p.mu.Lock()
			e := p.table[fd]
			p.mu.Unlock()
			if e != nil && p.take(e) {
				p.cfg.Wake(e)
			}
		}
	}
}

func (p *Parker) sweepLoop() {
	defer p.done.Done()
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	var expired []*Entry
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			expired = p.collectExpired(now.UnixNano(), expired[:0])
			for _, e := range expired {
				p.ep.disarm(e.fd)
				p.cfg.Expire(e)
			}
		}
	}
}

// Forget removes fd from the epoll set. Callers use it for a descriptor handed back by
// the wake callback that they are about to close while the socket stays open through
// another descriptor (epoll would otherwise keep watching the socket under the old
// number).
func (p *Parker) Forget(fd int) { p.ep.disarm(fd) }

// Sweep expires, right now, every entry whose deadline is not after now, as the
// periodic sweep does (tests use it to control time).
func (p *Parker) Sweep(now time.Time) int {
	expired := p.collectExpired(now.UnixNano(), nil)
	for _, e := range expired {
		p.ep.disarm(e.fd)
		p.cfg.Expire(e)
	}
	return len(expired)
}

func (p *Parker) collectExpired(now int64, out []*Entry) []*Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.queues {
		q := &p.queues[c]
		for e := q.head; e != nil && e.deadline <= now; e = q.head {
			if !e.state.CompareAndSwap(entryParked, entryTaken) {
				// Being woken concurrently; the waker unlinks it.
				break
			}
			p.unlinkLocked(e)
			out = append(out, e)
		}
	}
	return out
}

// CloseAll takes every parked entry and passes it to fn (for shutdown).
func (p *Parker) CloseAll(fn func(*Entry)) int {
	p.mu.Lock()
	var all []*Entry
	for c := range p.queues {
		for e := p.queues[c].head; e != nil; e = e.next {
			all = append(all, e)
		}
	}
	p.mu.Unlock()
	n := 0
	for _, e := range all {
		if p.take(e) {
			p.ep.disarm(e.fd)
			fn(e)
			n++
		}
	}
	return n
}

// Close stops the Parker. Entries still parked are handed to fn (may be nil).
func (p *Parker) Close(fn func(*Entry)) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	if fn != nil {
		p.CloseAll(fn)
	}
	close(p.stop)
	p.ep.close()
	p.done.Wait()
}
