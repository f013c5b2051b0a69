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
