//go:build linux

package lab

import (
	"cmp"
	"testing"
	"time"
)

// TestLinkFidelity measures the link against its settings: RTT (ICMP echo answered by
// the far host's kernel) within 10% from 1 to 200 ms, throughput at --rate within 10%,
// and loss within 20% of the setting over 10,000 datagrams. The seed is fixed, so the
// loss draws are the same every run.
func TestLinkFidelity(t *testing.T) {
	for _, tc := range []struct {
		name string
		rtt  time.Duration
		loss float64
		rate int64
	}{
		{"1ms", time.Millisecond, 0, 0},
		{"10ms loss 1%", 10 * time.Millisecond, 0.01, 0},
		{"50ms rate 10mbit", 50 * time.Millisecond, 0, 10_000_000},
		{"200ms loss 5%", 200 * time.Millisecond, 0.05, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			R := msOf(tc.rtt)
			measure(t, "link", tc.rtt, func(o *Options) {
				// A zero in the table is none (negative), not the default.
				o.Loss, o.Rate = cmp.Or(tc.loss, -1), cmp.Or(tc.rate, -1)
			}, func(r *Result) []string {
				var p problems
				p.expect(between(row(r, "rtt_ms"), 0.9*R, 1.1*R), "median RTT %.3f ms for %v", row(r, "rtt_ms"), tc.rtt)
				lp := row(r, "loss_pct")
				if tc.loss > 0 {
					p.expect(between(lp, tc.loss*100*0.8, tc.loss*100*1.2), "loss %.2f%% for %.2f%%", lp, tc.loss*100)
				} else {
					p.expect(lp == 0, "loss %.2f%% on a lossless link", lp)
				}
				if tc.rate > 0 {
					got := row(r, "rate_bps")
					p.expect(between(got, 0.9*float64(tc.rate), 1.1*float64(tc.rate)), "throughput %.0f bit/s for %d", got, tc.rate)
					p.expect(row(r, "goodput_bps") >= 0.9*float64(tc.rate), "goodput %.0f bit/s for %d", row(r, "goodput_bps"), tc.rate)
				}
				return p
			})
		})
	}
}
