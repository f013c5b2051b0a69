//go:build linux

package lab

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testpeer"
)

// needRoot skips a test that needs network namespaces when the process may not
// create them, unless HOP_REQUIRE_PEERS=1 (CI runs as root and must run them all).
func needRoot(t *testing.T) {
	t.Helper()
	if err := Privileged(); err != nil {
		testpeer.Skip(t, "%v", err)
	}
}

// runShort runs the short form of experiment name at the given RTT with a fixed link
// seed, logs what it measured and returns the result.
func runShort(t *testing.T, name string, rtt time.Duration, mod func(*Options)) *Result {
	t.Helper()
	needRoot(t)
	opt := Options{RTT: rtt, Short: true, Seed: 1}
	if mod != nil {
		mod(&opt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, name, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range r.Rows {
		pred := ""
		if row.HasPred {
			pred = "predicted " + trimFloat(row.Predicted)
		}
		t.Logf("%-28s %12s %s %s", row.Key, trimFloat(row.Measured), row.Unit, pred)
	}
	for _, c := range r.Checks {
		t.Logf("check ok=%v: %s", c.OK, c.What)
	}
	t.Logf("%s: %s (%d packets in %v)", r.Verdict, r.Note, len(r.Capture.Records), r.Elapsed.Round(time.Millisecond))
	return r
}

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// attempts is how many times measure runs an experiment before a test fails.
const attempts = 3

// measure runs the short form of experiment name until accept finds nothing wrong
// with the result, at most attempts times, and fails the test with the last
// attempt's problems otherwise. The tests assert physical effects: lower bounds are
// what the protocols impose and hold on any machine; upper bounds leave room for
// the hosts' own work. A busy machine (CI runs several test packages at once, under
// the race detector) only adds delay, now and then a lot of it to one request, which
// another attempt does not repeat; a broken effect fails every attempt.
func measure(t *testing.T, name string, rtt time.Duration, mod func(*Options), accept func(r *Result) []string) *Result {
	t.Helper()
	var r *Result
	var problems []string
	for i := 1; i <= attempts; i++ {
		r = runShort(t, name, rtt, mod)
		if problems = accept(r); len(problems) == 0 {
			return r
		}
		t.Logf("attempt %d of %d: %s", i, attempts, strings.Join(problems, "; "))
	}
	t.Errorf("%s, %d attempts: %s", name, attempts, strings.Join(problems, "; "))
	return r
}

// problems collects failed expectations for measure's accept functions.
type problems []string

func (p *problems) expect(ok bool, format string, args ...any) {
	if !ok {
		*p = append(*p, fmt.Sprintf(format, args...))
	}
}

// row returns the measured figure key, or NaN (which fails every comparison).
func row(r *Result, key string) float64 {
	if x, ok := r.Row(key); ok {
		return x.Measured
	}
	return math.NaN()
}

// between reports lo ≤ v ≤ hi.
func between(v, lo, hi float64) bool { return v >= lo && v <= hi }

// slack is the room above a prediction of pred ms: half of it plus 10 ms.
func slack(pred float64) float64 { return pred/2 + 10 }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
