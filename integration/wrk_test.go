package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRate     = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	wrkSummary  = regexp.MustCompile(`(?m)^HOP-WRK requests=(\d+) checked=(\d+) bad=(\d+) connect=(\d+) read=(\d+) write=(\d+) status=(\d+) timeout=(\d+)$`)
	wrkFirstBad = regexp.MustCompile(`(?m)^HOP-WRK-FIRST-BAD (.*)$`)
)

// TestWrk runs wrk pipelined (testdata/pipeline.lua: 16 requests per write, every
// response checked) in both modes, plain keep-alive and with Connection: close. The
// unscripted runs go through a counting relay so the test sees how many connections
// wrk needed: exactly one per wrk connection with keep-alive, at least one per request
// with Connection: close.
func TestWrk(t *testing.T) {
	wrk := peer(t, "wrk")
	const conns = 20
	tests := []struct {
		name     string
		adapter  bool
		duration string
		depth    int    // pipeline depth with testdata/pipeline.lua; 0: no script
		header   string // extra request field
	}{
		{"pipelined native", false, "3s", 16, ""},
		{"pipelined adapter", true, "2s", 16, ""},
		{"keep-alive native", false, "2s", 0, ""},
		{"close native", false, "2s", 0, "Connection: close"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startPlaintext(t, tc.adapter)
			target := s.url
			var rl *relay
			if tc.depth == 0 {
				rl = startRelay(t, s.addr)
				target = "http://" + rl.addr()
			}
			args := []string{"-t", "1", "-c", strconv.Itoa(conns), "-d", tc.duration, "--timeout", "10s"}
			if tc.header != "" {
				args = append(args, "-H", tc.header)
			}
			if tc.depth > 0 {
				args = append(args, "-s", testdata(t, "pipeline.lua"), target+"/", "--", strconv.Itoa(tc.depth))
			} else {
				args = append(args, target+"/")
			}
			r := mustRunPeer(t, t.TempDir(), wrk, args...)
			out := r.stdout
			for _, bad := range []string{"Socket errors", "Non-2xx or 3xx responses"} {
				if strings.Contains(out, bad) {
					t.Errorf("wrk reports %q:\n%s", bad, tail(out))
				}
			}
			requests := matchInts(t, out, wrkRequests)[0]
			if requests <= 0 {
				t.Errorf("wrk completed %d requests, want > 0\n%s", requests, tail(out))
			}
			if tc.depth > 0 {
				sum := matchInts(t, out, wrkSummary)
				if sum[0] != requests || sum[1] != requests || sum[2] != 0 {
					t.Errorf("wrk script: %d requests, %d responses checked, %d bad (first: %s); want all %d checked and good",
						sum[0], sum[1], sum[2], firstMatch(out, wrkFirstBad), requests)
				}
				if e := sum[3:]; e[0]+e[1]+e[2]+e[3]+e[4] != 0 {
					t.Errorf("wrk errors: connect %d, read %d, write %d, status %d, timeout %d; want none", e[0], e[1], e[2], e[3], e[4])
				}
			}
			if rl != nil {
				rl.close() // wait for every relayed connection to end before counting
				opened := rl.accepted.Load()
				if n := rl.dialFails.Load(); n != 0 {
					t.Errorf("relay could not reach the server %d times", n)
				}
				// wrk first opens and closes one probe connection (wrk.resolve checks
				// that the address connects), then opens its -c connections.
				if tc.header == "" && opened != conns+1 {
					t.Errorf("wrk with keep-alive opened %d connections, want %d (%d and wrk's probe): the server closed some",
						opened, conns+1, conns)
				}
				if tc.header != "" && opened < requests {
					t.Errorf("wrk with %q opened %d connections for %d requests, want one per request", tc.header, opened, requests)
				}
				t.Logf("wrk %s: %d requests over %d connections", tc.name, requests, opened)
			}
			t.Logf("wrk %s (noisy, shared machine%s%s): %s req/s", tc.name, raceNote(), relayNote(rl), matchString(t, out, wrkRate))
		})
	}
}

// relayNote labels throughput measured through the counting relay.
func relayNote(rl *relay) string {
	if rl != nil {
		return ", through the counting relay"
	}
	return ""
}

// firstMatch returns the first group of re in s, or "".
func firstMatch(s string, re *regexp.Regexp) string {
	if m := re.FindStringSubmatch(s); len(m) > 1 {
		return m[1]
	}
	return ""
}
