//go:build linux

package link

import (
	"container/heap"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// scheduler delivers packets at their due time, from one goroutine locked to an OS
// thread with a timer slack of 1 ns that sleeps in ppoll(2).
type scheduler struct {
	l   *Link
	efd int // eventfd: wakes the scheduler when an earlier packet arrives or on stop

	mu      sync.Mutex
	inbox   []entry
	wake    time.Time // when the scheduler will wake up by itself; zero: never
	stopped bool
	seq     uint64
	done    chan struct{}
}

// maxSpin bounds the wake-up lateness the scheduler compensates for, and so the time
// it busy-waits for a packet after waking early.
const maxSpin = 200 * time.Microsecond

type entry struct {
	due time.Time
	seq uint64 // ties keep arrival order
	pkt *Packet
}

type entryHeap []entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)   { *h = append(*h, x.(entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = entry{}
	*h = old[:len(old)-1]
	return e
}

// eventfd is unix.Eventfd; a test makes it fail.
var eventfd = unix.Eventfd

func newScheduler(l *Link) (*scheduler, error) {
	efd, err := eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &scheduler{l: l, efd: efd, done: make(chan struct{})}, nil
}

// push hands pkt to the scheduler, due at due.
func (s *scheduler) push(pkt *Packet, due time.Time) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.seq++
	s.inbox = append(s.inbox, entry{due: due, seq: s.seq, pkt: pkt})
	signal := s.wake.IsZero() || due.Before(s.wake)
	if signal {
		// The scheduler wakes for this one; later pushes need not signal again.
		s.wake = due
	}
	s.mu.Unlock()
	if signal {
		s.signal()
	}
}

func (s *scheduler) signal() {
	one := [8]byte{1}
	unix.Write(s.efd, one[:])
}

// stop ends run and waits for it; packets not yet delivered are dropped.
func (s *scheduler) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.signal()
	<-s.done
}

func (s *scheduler) closeFD() { unix.Close(s.efd) }

func (s *scheduler) run() {
	defer close(s.done)
	// The thread's timer slack is changed for good: keep the goroutine locked so the
	// thread ends with it instead of going back to the runtime's pool.
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	boostThread()

	var h entryHeap
	var lateness time.Duration // how late ppoll wakes, on average (EWMA)
	var due []*Packet
	fds := []unix.PollFd{{Fd: int32(s.efd), Events: unix.POLLIN}}
	var drain [8]byte
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		for _, e := range s.inbox {
			heap.Push(&h, e)
		}
		clear(s.inbox)
		s.inbox = s.inbox[:0]
		now := time.Now()
		if len(h) > 0 {
			// Woken a little early on purpose (see below): wait out the rest.
			if wait := h[0].due.Sub(now); wait > 0 && wait <= maxSpin {
				s.mu.Unlock()
				for time.Now().Before(h[0].due) {
				}
				s.mu.Lock()
				now = time.Now()
			}
		}
		due = due[:0]
		for len(h) > 0 && !h[0].due.After(now) {
			due = append(due, heap.Pop(&h).(entry).pkt)
		}
		var next time.Time
		if len(h) > 0 {
			next = h[0].due
		}
		s.wake = next
		s.mu.Unlock()

		if len(due) > 0 {
			for _, p := range due {
				s.l.deliver(p)
			}
			continue // writing took time: look again before sleeping
		}
		// Sleep until the next packet is due, less the usual lateness of the
		// wake-up, so that the scheduler is on time rather than tens of
		// microseconds late on every packet.
		var ts *unix.Timespec
		var target time.Time
		if !next.IsZero() {
			target = next.Add(-lateness)
			t := unix.NsecToTimespec(max(int64(time.Until(target)), 0))
			ts = &t
		}
		n, err := unix.Ppoll(fds, ts, nil)
		if err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0 {
			unix.Read(s.efd, drain[:])
		} else if err == nil && n == 0 && !target.IsZero() {
			late := min(max(time.Since(target), 0), maxSpin)
			lateness += (late - lateness) / 8
		}
	}
}

// boostThread gives the calling thread a real-time priority (SCHED_FIFO 10), or else
// the highest nice value, so that the link's threads run as soon as they wake even on
// a loaded machine: a reader or the scheduler waiting for a CPU would add its wait to
// the link's delay. The threads sleep almost all the time; the kernel's real-time
// throttling (sched_rt_runtime_us) bounds them in any case.
func boostThread() {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 10}
	if unix.SchedSetAttr(0, &attr, 0) != nil {
		unix.Setpriority(unix.PRIO_PROCESS, 0, -20)
	}
}

// reserveProcs raises GOMAXPROCS by n while a link runs: a link thread coming back
// from a system call needs a P to run Go code, and must not wait for one behind the
// lab's other goroutines. It returns what it added.
func reserveProcs(n int) int {
	procsMu.Lock()
	defer procsMu.Unlock()
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + n)
	return n
}

func releaseProcs(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0)-n, 1))
}

var procsMu sync.Mutex

// writePacket writes one packet to fd.
func writePacket(fd int, b []byte) error {
	for {
		_, err := unix.Write(fd, b)
		if err != unix.EINTR {
			return err
		}
	}
}
