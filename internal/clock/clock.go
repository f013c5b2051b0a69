// Package clock owns hop's coarse clock: the current time, read from an atomic that a
// single background goroutine refreshes every Resolution. On machines whose
// clocksource makes time.Now a system call (common on virtual machines; measured here
// at ~250 ns, 30% of a plaintext request), per-request deadlines and Date fields read
// this instead.
package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Resolution is how stale Now may be.
const Resolution = 10 * time.Millisecond

var (
	now   atomic.Int64
	start sync.Once
)

// Now returns the current time, at most Resolution old. Deadlines computed from it may
// fire up to Resolution early, far less than any timeout hop uses.
func Now() time.Time {
	start.Do(run)
	return time.Unix(0, now.Load())
}

func run() {
	now.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(Resolution)
		for tm := range t.C {
			now.Store(tm.UnixNano())
		}
	}()
}
