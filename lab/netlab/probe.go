//go:build linux

package netlab

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Ping sends count ICMP echo requests from the host to dst, one every interval (the
// next one also leaves as soon as the last is answered, if that is later), and
// returns the round-trip time of each answered one, in order; lost ones are
// missing. The echo is answered by dst's kernel, so the time is the link's alone.
// Each request waits at most timeout for its answer.
func (h *Host) Ping(ctx context.Context, dst netip.Addr, count int, interval, timeout time.Duration) ([]time.Duration, error) {
	var c *icmp.PacketConn
	if err := h.Do(func() (err error) {
		c, err = icmp.ListenPacket("ip4:icmp", h.Addr.String())
		return err
	}); err != nil {
		return nil, err
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	to := &net.IPAddr{IP: dst.AsSlice()}
	buf := make([]byte, 1500)
	var rtts []time.Duration
	for seq := range count {
		if err := ctx.Err(); err != nil {
			return rtts, err
		}
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: make([]byte, 56)}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return rtts, err
		}
		start := time.Now()
		if _, err := c.WriteTo(b, to); err != nil {
			return rtts, err
		}
		c.SetReadDeadline(start.Add(timeout))
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // lost
				}
				return rtts, err
			}
			at := time.Now()
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply || from.String() != to.String() {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
				rtts = append(rtts, at.Sub(start))
				break
			}
		}
		if wait := interval - time.Since(start); wait > 0 {
			select {
			case <-ctx.Done():
				return rtts, ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return rtts, nil
}
