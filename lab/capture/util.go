//go:build linux

package capture

import (
	"sort"
	"time"
)

func sortAt(rs []*Record, host string) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, _ := rs[i].At(host)
		b, _ := rs[j].At(host)
		return a < b
	})
}

// Handshake returns, at the client's end of c, when the SYN left and when the SYN/ACK
// arrived; ok is false when either is missing.
func (cp *Capture) Handshake(c *Conn) (syn, synAck time.Duration, ok bool) {
	gotSyn := false
	for _, i := range c.Records {
		r := &cp.Records[i]
		switch {
		case r.Flags == "SYN" && r.Src == c.Client && !gotSyn:
			syn, gotSyn = r.Sent, true
		case r.Flags == "SYN,ACK" && r.Dst == c.Client && r.Arrived >= 0 && gotSyn:
			return syn, r.Arrived, true
		}
	}
	return 0, 0, false
}

// ConnsOf returns the connections whose client is host, in order.
func (cp *Capture) ConnsOf(host string) []*Conn {
	var out []*Conn
	for _, c := range cp.Conns {
		if c.Client == host {
			out = append(out, c)
		}
	}
	return out
}

// Flight is a burst of data segments one side of a connection sent within one round
// trip.
type Flight struct {
	Start, End time.Duration // Sent of the first and last segment
	Segments   int
	Bytes      int
	Retrans    int
}

// Flights groups the data segments host sent on c, from time from on, into flights: a
// new flight starts after a pause of at least gap (half an RTT separates the rounds
// of slow start).
func (cp *Capture) Flights(c *Conn, host string, from, gap time.Duration) []Flight {
	var out []Flight
	for _, i := range c.Records {
		r := &cp.Records[i]
		if r.Src != host || r.Len == 0 || r.Sent < from {
			continue
		}
		if len(out) == 0 || r.Sent-out[len(out)-1].End >= gap {
			out = append(out, Flight{Start: r.Sent})
		}
		f := &out[len(out)-1]
		f.End = r.Sent
		f.Segments++
		f.Bytes += r.Len
		if r.Retrans {
			f.Retrans++
		}
	}
	return out
}
