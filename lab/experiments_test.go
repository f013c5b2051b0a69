//go:build linux

package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testpeer"
	"github.com/hop-http/hop/lab/capture"
)

// Each test runs an experiment's short form and asserts the effect it is about against
// the prediction (see measure for how a loaded machine is allowed for).

func TestURL(t *testing.T) {
	rtt := 30 * time.Millisecond
	R := msOf(rtt)
	r := measure(t, "url", rtt, nil, func(r *Result) []string {
		var p problems
		for _, k := range []string{"dns_ms", "connect_ms", "tls_ms", "wait_ms"} {
			p.expect(between(row(r, k), 0.97*R, R+slack(R)), "%s %.1f ms, want one RTT", k, row(r, k))
		}
		p.expect(between(row(r, "total_ms"), 3.9*R, 4*R+slack(4*R)), "total %.1f ms, want 4 RTT", row(r, "total_ms"))
		p.expect(row(r, "status") == 200, "status %v", row(r, "status"))
		// The walk ends with the four-way close, not a reset (the client's abortive
		// close once reset the connection in 3 runs of 10): one round trip from the
		// first FIN to the last ACK.
		p.expect(row(r, "close_reset") == 0, "the close ended in a reset")
		p.expect(between(row(r, "close_ms"), 0.97*R, R+slack(R)), "close %.1f ms, want one RTT", row(r, "close_ms"))
		return p
	})

	// The pcap, as seen at the client's end, in tshark: DNS, TCP and TLS decoded, and a
	// SYN → SYN/ACK gap of one RTT.
	tshark := testpeer.Program(t, "tshark")
	path := filepath.Join(t.TempDir(), "url.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.WritePcap(f, "client", []capture.Section{{Name: "client (url)", Capture: r.Capture}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tshark, append([]string{"-r", path}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %q: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	out := run("-T", "fields", "-e", "frame.protocols")
	for _, want := range []string{"raw:ip:udp:dns", "raw:ip:tcp", "tcp:tls"} {
		if !strings.Contains(out, want) {
			t.Errorf("tshark decoded no %q:\n%s", want, out)
		}
	}
	times := strings.Fields(run("-Y", "tcp.flags.syn==1", "-T", "fields", "-e", "frame.time_relative"))
	if len(times) < 2 {
		t.Fatalf("SYN and SYN/ACK not found: %q", out)
	}
	syn, _ := strconv.ParseFloat(times[0], 64)
	synAck, _ := strconv.ParseFloat(times[1], 64)
	if gap := (synAck - syn) * 1000; !between(gap, 0.97*R, 1.1*R) {
		t.Errorf("SYN → SYN/ACK in the pcap: %.2f ms, want one RTT (%v)", gap, rtt)
	}
	if out := run("-Y", "tls.handshake.type==1", "-T", "fields", "-e", "tls.handshake.extensions_server_name"); !strings.Contains(out, labDomain) {
		t.Errorf("tshark found no ClientHello for %s: %q", labDomain, out)
	}
	if out := run("-Y", "dns.flags.response==1 && dns.a", "-T", "fields", "-e", "dns.a"); !strings.Contains(out, "192.0.2.80") {
		t.Errorf("tshark found no DNS answer with the web host's address: %q", out)
	}
}

func TestHandshake(t *testing.T) {
	rtt := 50 * time.Millisecond
	R := msOf(rtt)
	measure(t, "handshake", rtt, nil, func(r *Result) []string {
		var p problems
		// At 50 ms RTT a new connection costs at least one RTT more than a reused one
		// (less half a millisecond of timer granularity).
		extra := row(r, "new_minus_reused_ms")
		p.expect(between(extra, R-0.5, R+slack(R)), "a new connection adds %.1f ms, want 1 RTT", extra)
		p.expect(between(row(r, "reused_request_ms"), R, R+slack(R)), "reused request %.1f ms, want 1 RTT", row(r, "reused_request_ms"))
		p.expect(row(r, "connections_keepalive") == 1 && row(r, "connections_close") == 5, "connection counts %v and %v",
			row(r, "connections_keepalive"), row(r, "connections_close"))
		return p
	})
}

func TestSlowStart(t *testing.T) {
	rtt := 20 * time.Millisecond
	R := msOf(rtt)
	measure(t, "slow-start", rtt, nil, func(r *Result) []string {
		var p problems
		cold, warm := row(r, "cold_ms"), row(r, "warm_ms")
		p.expect(row(r, "cwnd_start") == 10, "initial cwnd %v, want 10", row(r, "cwnd_start"))
		// 256 KiB from 10 segments: 5 round trips of data (10+20+40+80+160 ≥ 182).
		p.expect(between(row(r, "cold_flights"), 4, 6), "%v round trips of data on a new connection, want 5", row(r, "cold_flights"))
		p.expect(cold-warm >= 2*R, "slow start costs only %.1f ms more than the warm connection", cold-warm)
		p.expect(between(cold, 6*R, 6*R+slack(6*R)), "new connection %.1f ms, want 6 RTT", cold)
		return p
	})
}

func TestNagle(t *testing.T) {
	rtt := 20 * time.Millisecond
	R := msOf(rtt)
	measure(t, "nagle", rtt, nil, func(r *Result) []string {
		var p problems
		p.expect(row(r, "stall_ms") >= 30, "Nagle stall %.1f ms, want ≥ 30 ms", row(r, "stall_ms"))
		for _, k := range []string{"nodelay_ms", "one_write_ms"} {
			p.expect(between(row(r, k), R, R+slack(R)), "%s %.1f ms: want 1 RTT, no stall", k, row(r, k))
		}
		return p
	})
}

func TestTimeWait(t *testing.T) {
	measure(t, "time-wait", 10*time.Millisecond, nil, func(r *Result) []string {
		var p problems
		// 40 connections at 40/s through 20 ports.
		p.expect(row(r, "close_time_wait_max") >= 18, "TIME_WAIT grew to %v with a close per request, want 20", row(r, "close_time_wait_max"))
		p.expect(between(row(r, "first_refused"), 20, 22), "first refused attempt %v, want 21", row(r, "first_refused"))
		p.expect(row(r, "keepalive_time_wait_max") == 0, "TIME_WAIT %v with keep-alive, want 0", row(r, "keepalive_time_wait_max"))
		p.expect(row(r, "server_time_wait_max") == 0, "server TIME_WAIT %v, want 0", row(r, "server_time_wait_max"))
		return p
	})
}

func TestPage(t *testing.T) {
	rtt := 20 * time.Millisecond
	R := msOf(rtt)
	measure(t, "page", rtt, nil, func(r *Result) []string {
		var p problems
		s, par, k, q := row(r, "serial_ms"), row(r, "parallel_ms"), row(r, "persistent_ms"), row(r, "pipelined_ms")
		p.expect(q < k && k < s && par < s, "serial %.0f, parallel %.0f, persistent %.0f, pipelined %.0f: wrong order", s, par, k, q)
		for _, c := range []struct {
			key  string
			rtts float64
		}{{"serial_ms", 14}, {"parallel_ms", 4}, {"persistent_ms", 8}, {"pipelined_ms", 4}} {
			v := row(r, c.key)
			p.expect(between(v, c.rtts*R*0.97, c.rtts*R+slack(c.rtts*R)), "%s %.1f ms, want %v RTT", c.key, v, c.rtts)
		}
		return p
	})
}

func TestHalfClose(t *testing.T) {
	measure(t, "half-close", 20*time.Millisecond, nil, func(r *Result) []string {
		var p problems
		p.expect(row(r, "abortive_complete") == 0, "the abortive close did not lose the response")
		p.expect(row(r, "lingering_complete") == 1, "the lingering close lost the response")
		return p
	})
}

func TestDumbProxy(t *testing.T) {
	rtt := 10 * time.Millisecond
	R := msOf(rtt)
	measure(t, "dumb-proxy", rtt, nil, func(r *Result) []string {
		var p problems
		p.expect(row(r, "keepalive_reused") == 1 && row(r, "keepalive_hung_ms") >= 800,
			"the kept connection through the dumb proxy hung %.0f ms, want the origin's idle timeout of 1 s", row(r, "keepalive_hung_ms"))
		p.expect(row(r, "proxy_connection_reused") == 0, "Proxy-Connection kept the connection through the dumb proxy")
		p.expect(row(r, "hop_keepalive_reused") == 1 && between(row(r, "hop_keepalive_second_ms"), 2*R, 2*R+slack(2*R)),
			"through hop proxy the second request took %.1f ms, want 2 RTT on the kept connection", row(r, "hop_keepalive_second_ms"))
		return p
	})
}

func TestPipelineHOL(t *testing.T) {
	rtt := 20 * time.Millisecond
	R := msOf(rtt)
	measure(t, "pipeline-hol", rtt, nil, func(r *Result) []string {
		var p problems
		p.expect(between(row(r, "hol_delay_ms"), 140, 150+slack(150)), "head-of-line delay %.0f ms, want the slow response's 150 ms", row(r, "hol_delay_ms"))
		p.expect(between(row(r, "parallel_fast_ms"), R, R+slack(R)), "fast responses on their own connections %.1f ms, want 1 RTT", row(r, "parallel_fast_ms"))
		return p
	})
}

func TestLoss(t *testing.T) {
	measure(t, "loss", 20*time.Millisecond, func(o *Options) { o.Loss = 0.02 }, func(r *Result) []string {
		var p problems
		lost, resent := row(r, "data_lost"), row(r, "retransmitted")
		p.expect(lost > 0 && resent >= lost, "%v segments lost, %v retransmitted", lost, resent)
		p.expect(row(r, "lossy_ms") > row(r, "lossless_ms"), "loss did not slow the transfer")
		return p
	})
}
