//go:build linux

package link

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultQueue is how many packets may wait for a rate-limited line (netem's default
// limit).
const DefaultQueue = 1000

// MaxPacket is the largest packet a port reads; the lab's TUN devices have an MTU of
// 1500, so every packet fits.
const MaxPacket = 65535

// Params are the properties of one direction of the link. The zero value of each
// field is its default: none for Delay, Jitter, Loss and Rate (no delay, no jitter,
// no loss, no rate limit), DefaultQueue for Queue. A negative Queue means none: no
// packet waits, and one that finds the line busy is dropped. The other fields have
// nothing less than none, so Validate refuses negative values for them rather than
// take them as a second spelling of zero.
type Params struct {
	Delay  time.Duration // one-way delay
	Jitter time.Duration // each packet's delay varies uniformly within ±Jitter
	Loss   float64       // probability that a packet is dropped, 0 to 1
	Rate   int64         // line rate in bits per second; 0 means unlimited
	Queue  int           // packets that may wait while another is on the line; 0 means DefaultQueue, negative none
}

// Validate reports settings that cannot be applied.
func (p Params) Validate() error {
	switch {
	case p.Delay < 0 || p.Jitter < 0:
		return errors.New("link: negative delay or jitter")
	case p.Jitter > p.Delay:
		return errors.New("link: jitter larger than the delay")
	case p.Loss < 0 || p.Loss > 1 || p.Loss != p.Loss:
		return errors.New("link: loss must be between 0 and 1")
	case p.Rate < 0:
		return errors.New("link: negative rate")
	}
	return nil
}

// queue is how many packets may wait for the line.
func (p *Params) queue() int {
	switch {
	case p.Queue > 0:
		return p.Queue
	case p.Queue < 0:
		return 0
	}
	return DefaultQueue
}

// Fate says what became of a packet.
type Fate uint8

// The fates of a packet.
const (
	Delivered   Fate = iota // written to its destination
	Lost                    // dropped by the loss setting
	QueueFull               // dropped because too many packets waited for the line
	NoRoute                 // no port has the destination address (or not IPv4)
	WriteFailed             // the destination's device refused it
)

func (f Fate) String() string {
	switch f {
	case Delivered:
		return "delivered"
	case Lost:
		return "lost"
	case QueueFull:
		return "queue full"
	case NoRoute:
		return "no route"
	case WriteFailed:
		return "write failed"
	}
	return fmt.Sprintf("fate(%d)", uint8(f))
}

// Packet is one packet that crossed (or failed to cross) the link.
type Packet struct {
	Src, Dst int       // port numbers; Dst is -1 for NoRoute
	Data     []byte    // the IP packet; the Tap may keep it
	Size     int       // the packet's length (Data may be cut shorter by whoever keeps it)
	Read     time.Time // taken off the source's device
	Written  time.Time // written to the destination's device (Delivered only)
	Fate     Fate
}

// Tap receives every packet once its fate is known. It is called from the link's
// goroutines (the scheduler for delivered packets, the readers for drops), one packet
// at a time per goroutine, and must return quickly.
type Tap func(p *Packet)

// Stats count the packets of one direction.
type Stats struct {
	Packets   int64 // read from the source for this destination
	Bytes     int64
	Delivered int64
	Lost      int64 // dropped by the loss setting
	QueueFull int64 // dropped at a full queue
	Failed    int64 // refused by the destination's device
}

type stats struct {
	packets, bytes, delivered, lost, queueFull, failed atomic.Int64
}

// Link joins ports; see the package documentation.
type Link struct {
	tap     Tap
	seed    uint64
	ports   []*port
	byAddr  map[netip.Addr]int
	dirs    [][]*direction // [src][dst]
	noRoute atomic.Int64

	sched   *scheduler
	stopFD  int // eventfd, readable once the link is closing
	procs   int // GOMAXPROCS added for the link's threads
	started bool
	closeMu sync.Mutex
	closed  bool
	readers sync.WaitGroup
}

type port struct {
	fd int
}

// direction is the state of one (source, destination) pair. Everything but params
// and stats is touched only by the source's reader goroutine.
type direction struct {
	params   atomic.Pointer[Params]
	rng      *rand.Rand
	lineFree time.Time
	departs  []time.Time // departure times of packets still waiting for the line, FIFO
	lastDue  time.Time
	st       stats
}

// New returns a link whose loss and jitter draw from generators seeded with seed,
// reporting every packet to tap (which may be nil).
func New(seed uint64, tap Tap) *Link {
	return &Link{tap: tap, seed: seed, byAddr: map[netip.Addr]int{}}
}

// AddPort adds a port for the host with IPv4 address addr, reading and writing
// packets on fd (a non-blocking TUN descriptor or any descriptor with one packet per
// read and write). The link owns fd from now on and closes it in Close. Ports are
// added before Start. It returns the port's number.
func (l *Link) AddPort(addr netip.Addr, fd int) (int, error) {
	if l.started {
		return 0, errors.New("link: AddPort after Start")
	}
	if !addr.Is4() {
		return 0, fmt.Errorf("link: %s is not an IPv4 address", addr)
	}
	if _, dup := l.byAddr[addr]; dup {
		return 0, fmt.Errorf("link: address %s used twice", addr)
	}
	n := len(l.ports)
	l.ports = append(l.ports, &port{fd: fd})
	l.byAddr[addr] = n
	return n, nil
}

// Start applies p to every direction and starts moving packets.
func (l *Link) Start(p Params) error {
	if l.started {
		return errors.New("link: started twice")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	sched, err := newScheduler(l)
	if err != nil {
		return err
	}
	stopFD, err := eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		sched.closeFD()
		return err
	}
	// Only now, with both descriptors made: Close stops a scheduler it finds, and one
	// whose run never started would never report that it stopped.
	l.sched, l.stopFD = sched, stopFD
	l.procs = reserveProcs(len(l.ports) + 1)
	l.dirs = make([][]*direction, len(l.ports))
	for s := range l.ports {
		l.dirs[s] = make([]*direction, len(l.ports))
		for d := range l.ports {
			dir := &direction{rng: rand.New(rand.NewPCG(l.seed, uint64(s)<<32|uint64(d)))}
			pp := p
			dir.params.Store(&pp)
			l.dirs[s][d] = dir
		}
	}
	l.started = true
	go sched.run()
	for s := range l.ports {
		l.readers.Add(1)
		go l.read(s)
	}
	return nil
}

// SetParams applies p to every direction from now on (packets already scheduled keep
// their times).
func (l *Link) SetParams(p Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for s := range l.dirs {
		for d := range l.dirs[s] {
			pp := p
			l.dirs[s][d].params.Store(&pp)
		}
	}
	return nil
}

// Stats returns the counters of the direction from src to dst.
func (l *Link) Stats(src, dst int) Stats {
	if src < 0 || src >= len(l.dirs) || dst < 0 || dst >= len(l.dirs) {
		return Stats{}
	}
	st := &l.dirs[src][dst].st
	return Stats{
		Packets: st.packets.Load(), Bytes: st.bytes.Load(), Delivered: st.delivered.Load(),
		Lost: st.lost.Load(), QueueFull: st.queueFull.Load(), Failed: st.failed.Load(),
	}
}

// Unrouted counts the packets no port could take (multicast, IPv6, strangers).
func (l *Link) Unrouted() int64 { return l.noRoute.Load() }

// Close stops the link: packets still in flight are dropped without being reported,
// and every port's descriptor is closed. It waits for the link's goroutines to end.
func (l *Link) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.sched != nil {
		l.sched.stop()
		one := [8]byte{1}
		unix.Write(l.stopFD, one[:])
		l.readers.Wait()
		l.sched.closeFD()
		unix.Close(l.stopFD)
		releaseProcs(l.procs)
	}
	var first error
	for _, p := range l.ports {
		if err := unix.Close(p.fd); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// read moves the packets of port src until the link closes. It runs on a thread of
// its own with a real-time priority (see boostThread) and waits in ppoll(2), so that
// a packet is taken off the device as soon as the kernel queues it, however busy the
// machine is.
func (l *Link) read(src int) {
	defer l.readers.Done()
	runtime.LockOSThread() // for good: the thread's priority changed
	boostThread()
	p := l.ports[src]
	buf := make([]byte, MaxPacket)
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}, {Fd: int32(l.stopFD), Events: unix.POLLIN}}
	for {
		n, err := unix.Read(p.fd, buf)
		now := time.Now()
		if err == unix.EAGAIN || err == unix.EINTR {
			if _, err := unix.Ppoll(fds, nil, nil); err != nil && err != unix.EINTR {
				return
			}
			if fds[1].Revents != 0 {
				return
			}
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		pkt := &Packet{Src: src, Dst: -1, Data: append([]byte(nil), buf[:n]...), Size: n, Read: now}
		dst, ok := l.route(pkt.Data)
		if !ok {
			l.noRoute.Add(1)
			pkt.Fate = NoRoute
			l.report(pkt)
			continue
		}
		pkt.Dst = dst
		due, fate := l.dirs[src][dst].admit(n, now)
		if fate != Delivered {
			pkt.Fate = fate
			l.report(pkt)
			continue
		}
		l.sched.push(pkt, due)
	}
}

func (l *Link) report(p *Packet) {
	if l.tap != nil {
		l.tap(p)
	}
}

// route returns the port that owns the packet's IPv4 destination.
func (l *Link) route(b []byte) (int, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return 0, false
	}
	dst, _ := netip.AddrFromSlice(b[16:20])
	n, ok := l.byAddr[dst]
	return n, ok
}

// admit decides the fate of a packet of n bytes read at now, and when it is due at
// its destination.
func (d *direction) admit(n int, now time.Time) (time.Time, Fate) {
	p := d.params.Load()
	d.st.packets.Add(1)
	d.st.bytes.Add(int64(n))
	if p.Loss > 0 && d.rng.Float64() < p.Loss {
		d.st.lost.Add(1)
		return time.Time{}, Lost
	}
	depart := now
	if p.Rate > 0 {
		// Forget the packets that have left the line by now. The first of those
		// left is on the line, the others wait.
		i := 0
		for i < len(d.departs) && !d.departs[i].After(now) {
			i++
		}
		d.departs = d.departs[:copy(d.departs, d.departs[i:])]
		if len(d.departs) > p.queue() {
			d.st.queueFull.Add(1)
			return time.Time{}, QueueFull
		}
		start := now
		if d.lineFree.After(start) {
			start = d.lineFree
		}
		depart = start.Add(time.Duration(int64(n) * 8 * int64(time.Second) / p.Rate))
		d.lineFree = depart
		d.departs = append(d.departs, depart)
	}
	delay := p.Delay
	if p.Jitter > 0 {
		delay += time.Duration(d.rng.Int64N(int64(2*p.Jitter)+1)) - p.Jitter
	}
	due := depart.Add(delay)
	if due.Before(d.lastDue) {
		due = d.lastDue // never reorder a direction
	}
	d.lastDue = due
	return due, Delivered
}

// deliver writes a due packet to its destination (on the scheduler's thread).
func (l *Link) deliver(pkt *Packet) {
	st := &l.dirs[pkt.Src][pkt.Dst].st
	if err := writePacket(l.ports[pkt.Dst].fd, pkt.Data); err != nil {
		st.failed.Add(1)
		pkt.Fate = WriteFailed
	} else {
		st.delivered.Add(1)
		pkt.Fate = Delivered
		pkt.Written = time.Now()
	}
	l.report(pkt)
}
