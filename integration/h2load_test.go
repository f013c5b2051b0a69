package integration

import (
	"regexp"
	"strconv"
	"testing"
)

var (
	h2loadRequests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout$`)
	h2loadStatus   = regexp.MustCompile(`(?m)^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx$`)
	h2loadData     = regexp.MustCompile(`(?m)^traffic: .*\((\d+)\) data$`)
	h2loadProto    = regexp.MustCompile(`(?m)^Application protocol: (\S+)$`)
	h2loadRate     = regexp.MustCompile(`(?m)^finished in [^,]+, ([\d.]+) req/s`)
)

// TestH2load runs h2load over HTTP/1.1 with 16 requests pipelined per connection, in
// both modes, and checks that every request succeeded with a 2xx and the exact body
// bytes.
func TestH2load(t *testing.T) {
	h2load := peer(t, "h2load")
	const n, c, depth = 20000, 10, 16
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startPlaintext(t, m.adapter)
			r := mustRunPeer(t, t.TempDir(), h2load, "--h1", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c),
				"-m", strconv.Itoa(depth), "-t", "1", s.url+"/")
			out := r.stdout
			if p := matchString(t, out, h2loadProto); p != "http/1.1" {
				t.Errorf("h2load used %q, want http/1.1", p)
			}
			req := matchInts(t, out, h2loadRequests)
			total, started, done, succeeded, failed, errored, timeout := req[0], req[1], req[2], req[3], req[4], req[5], req[6]
			if total != n || started != n || done != n || succeeded != n || failed != 0 || errored != 0 || timeout != 0 {
				t.Errorf("h2load: %d total, %d started, %d done, %d succeeded, %d failed, %d errored, %d timeout; want %d succeeded and no failures\n%s",
					total, started, done, succeeded, failed, errored, timeout, n, tail(out))
			}
			st := matchInts(t, out, h2loadStatus)
			if st[0] != n || st[1]+st[2]+st[3] != 0 {
				t.Errorf("h2load status codes: %d 2xx, %d 3xx, %d 4xx, %d 5xx; want %d 2xx only", st[0], st[1], st[2], st[3], n)
			}
			if got := matchInts(t, out, h2loadData)[0]; got != int64(n*len(hello)) {
				t.Errorf("h2load: %d body bytes, want %d", got, n*len(hello))
			}
			t.Logf("h2load --h1 -m %d %s (noisy, shared machine%s): %s req/s", depth, m.name, raceNote(), matchString(t, out, h2loadRate))
		})
	}
}
