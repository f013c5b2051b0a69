//go:build linux

package lab

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcpSample is one TCP_INFO reading of a socket.
type tcpSample struct {
	At          time.Duration // since the capture's start
	Cwnd        int           // congestion window, segments
	Ssthresh    int           // slow-start threshold, segments (large: still in slow start)
	RTT         time.Duration // smoothed RTT
	Retrans     int           // retransmitted segments so far
	BytesAcked  int64
	Unacked     int // segments in flight
	DeliveryBps int64
}

// tcpInfo reads TCP_INFO from c (a *net.TCPConn, or a connection that wraps one).
func tcpInfo(c net.Conn) (*unix.TCPInfo, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("lab: not a TCP connection")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return nil, err
	}
	return info, ierr
}

func sampleOf(info *unix.TCPInfo, at time.Duration) tcpSample {
	return tcpSample{
		At: at, Cwnd: int(info.Snd_cwnd), Ssthresh: int(info.Snd_ssthresh),
		RTT: time.Duration(info.Rtt) * time.Microsecond, Retrans: int(info.Total_retrans),
		BytesAcked: int64(info.Bytes_acked), Unacked: int(info.Unacked), DeliveryBps: int64(info.Delivery_rate) * 8,
	}
}

// sampler reads TCP_INFO of one connection at a fixed interval until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []tcpSample
	stop    chan struct{}
	done    chan struct{}
}

// sampleTCP starts sampling c every interval (bounded to 20,000 samples), until the
// sampler is halted or the experiment ends. A sampler started after the end takes
// at most one sample.
func (e *env) sampleTCP(c net.Conn, interval time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	take := func() {
		if info, err := tcpInfo(c); err == nil {
			s.mu.Lock()
			if len(s.samples) < 20000 {
				s.samples = append(s.samples, sampleOf(info, e.now()))
			}
			s.mu.Unlock()
		}
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			take()
			select {
			case <-s.stop:
				take() // the state when halted: the last interval's retransmissions too
				return
			case <-t.C:
			}
		}
	}()
	e.cleanup(s.halt)
	return s
}

// halt stops sampling, after one last sample (idempotent).
func (s *sampler) halt() {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	<-s.done
}

// get halts the sampler and returns its samples.
func (s *sampler) get() []tcpSample {
	s.halt()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tcpSample(nil), s.samples...)
}

// sampleNext starts sampling the next connection the server accepts (its side of
// it), and delivers the sampler, or nil when none is accepted within 10 s or the
// experiment ends first.
func (e *env) sampleNext(conns *serverConns, interval time.Duration) <-chan *sampler {
	got := make(chan *sampler, 1)
	go func() {
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case sc := <-conns.ch:
			got <- e.sampleTCP(sc, interval)
		case <-t.C:
			got <- nil
		case <-e.ctx.Done():
			got <- nil
		case <-e.ended:
			got <- nil
		}
	}()
	return got
}
