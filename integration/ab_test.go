package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	abComplete  = regexp.MustCompile(`(?m)^Complete requests:\s+(\d+)$`)
	abFailed    = regexp.MustCompile(`(?m)^Failed requests:\s+(\d+)$`)
	abKeepAlive = regexp.MustCompile(`(?m)^Keep-Alive requests:\s+(\d+)$`)
	abHTML      = regexp.MustCompile(`(?m)^HTML transferred:\s+(\d+) bytes$`)
	abDocLength = regexp.MustCompile(`(?m)^Document Length:\s+(\d+) bytes$`)
	abRate      = regexp.MustCompile(`(?m)^Requests per second:\s+([\d.]+)`)
)

// TestApacheBench runs ab with HTTP/1.0 keep-alive (-k) and without, and checks ab's
// counters. Without -k, ab reads each response until the server closes the connection,
// so a server that kept HTTP/1.0 connections open would make ab time out.
func TestApacheBench(t *testing.T) {
	ab := peer(t, "ab")
	tests := []struct {
		name      string
		adapter   bool
		keepAlive bool
		n, c      int
	}{
		{"native keep-alive", false, true, 20000, 20},
		{"adapter keep-alive", true, true, 5000, 20},
		{"native close", false, false, 2000, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startPlaintext(t, tc.adapter)
			args := []string{"-n", strconv.Itoa(tc.n), "-c", strconv.Itoa(tc.c), "-s", "60"}
			if tc.keepAlive {
				args = append(args, "-k")
			}
			r := mustRunPeer(t, t.TempDir(), ab, append(args, s.url+"/")...)
			out := r.stdout
			if got := matchInts(t, out, abComplete)[0]; got != int64(tc.n) {
				t.Errorf("ab: Complete requests %d, want %d", got, tc.n)
			}
			if got := matchInts(t, out, abFailed)[0]; got != 0 {
				t.Errorf("ab: Failed requests %d, want 0\n%s", got, tail(out))
			}
			if got := matchInts(t, out, abDocLength)[0]; got != int64(len(hello)) {
				t.Errorf("ab: Document Length %d, want %d", got, len(hello))
			}
			if got := matchInts(t, out, abHTML)[0]; got != int64(tc.n*len(hello)) {
				t.Errorf("ab: HTML transferred %d bytes, want %d", got, tc.n*len(hello))
			}
			if tc.keepAlive {
				if got := matchInts(t, out, abKeepAlive)[0]; got != int64(tc.n) {
					t.Errorf("ab: Keep-Alive requests %d, want %d", got, tc.n)
				}
			}
			for _, bad := range []string{"Non-2xx responses", "Write errors", "Exceptions"} {
				if strings.Contains(out, bad) {
					t.Errorf("ab reports %q:\n%s", bad, tail(out))
				}
			}
			t.Logf("ab %s (noisy, shared machine%s): %s req/s", tc.name, raceNote(), matchString(t, out, abRate))
		})
	}
}
