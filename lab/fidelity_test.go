//go:build linux

package lab

import (
	"cmp"
	"testing"
	"time"
)

// TestLinkFidelity measures the link against its settings: RTT (ICMP echo answered by
// the far host's kernel) within 10% from 1 to 200 ms, throughput at --rate within 10%
// from 500 kbit/s to 10 Mbit/s, and loss within 20% of the setting over 10,000
// datagrams (none lost at a low rate either: the loss probe keeps to half the line
// rate). The seed is fixed, so the loss draws are the same every run.
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
		// Below 1.5 Mbit/s a probe paced by the millisecond would overrun the line,
		// and the echo's serialization time (2.7 ms here) is part of the RTT.
		{"10ms rate 500kbit", 10 * time.Millisecond, 0, 500_000},
		{"200ms loss 5%", 200 * time.Millisecond, 0.05, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			R := msOf(tc.rtt)
			measure(t, "link", tc.rtt, func(o *Options) {
				// A zero in the table is none (negative), not the default.
				o.Loss, o.Rate = cmp.Or(tc.loss, -1), cmp.Or(tc.rate, -1)
			}, func(r *Result) []string {
				var p problems
				// The RTT setting plus the 84-byte echo's time on the line each way.
				want := R + 2*84*8*1000/float64(max(tc.rate, 1))*b2f(tc.rate > 0)
				p.expect(r.Predicted["rtt_ms"] == round(want, 3), "predicted RTT %v ms, want %.3f", r.Predicted["rtt_ms"], want)
				p.expect(between(row(r, "rtt_ms"), 0.9*want, 1.1*want), "median RTT %.3f ms for %.3f ms", row(r, "rtt_ms"), want)
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
				// The lab's own checks are no stricter than these: a link that did what
				// it was told agrees.
				p.expect(r.Verdict == Agrees, "verdict %s: %v", r.Verdict, r.Failed())
				return p
			})
		})
	}
}

// The loss probe keeps to half the line rate and to its time budget.
func TestLossProbePlan(t *testing.T) {
	for _, tc := range []struct {
		rate int64
		n    int
	}{{0, 10000}, {10_000_000, 10000}, {1_000_000, 10000}, {500_000, 5208}, {8000, 83}} {
		n, interval := lossProbePlan(tc.rate)
		if abs(n-tc.n) > 1 {
			t.Errorf("rate %d: %d datagrams, want %d", tc.rate, n, tc.n)
		}
		if time.Duration(n)*interval > lossProbeTime {
			t.Errorf("rate %d: %d datagrams every %v take longer than %v", tc.rate, n, interval, lossProbeTime)
		}
		if tc.rate > 0 {
			if bps := float64(lossProbeSize*8) / interval.Seconds(); bps > float64(tc.rate)/2*1.001 {
				t.Errorf("rate %d: the probe sends %.0f bit/s, more than half the line", tc.rate, bps)
			}
		} else if interval != 50*time.Microsecond {
			t.Errorf("unlimited: one datagram every %v, want 20 per ms", interval)
		}
	}
	if d := serialization(84, 500_000); d != 1344*time.Microsecond {
		t.Errorf("84 bytes at 500 kbit/s: %v, want 1.344 ms", d)
	}
}
