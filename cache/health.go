package cache

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// health tracks whether the store answers. After a failure the cache bypasses the
// store (requests go upstream, nothing is stored) and lets one request per
// retryEvery probe it; the outage and the recovery are each logged once.
type health struct {
	log     *slog.Logger
	down    atomic.Bool
	mu      sync.Mutex
	retryAt time.Time
}

const retryEvery = time.Second

// usable reports whether the store may be used now.
func (h *health) usable() bool {
	if !h.down.Load() {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := time.Now(); t.After(h.retryAt) {
		h.retryAt = t.Add(retryEvery)
		return true // a probe
	}
	return false
}

func (h *health) ok() {
	if h.down.Load() {
		h.mu.Lock()
		if h.down.Swap(false) {
			h.log.Info("cache store recovered")
		}
		h.mu.Unlock()
	}
}

func (h *health) failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retryAt = time.Now().Add(retryEvery)
	if !h.down.Swap(true) {
		h.log.Warn("cache store unavailable, bypassing the cache until it answers", "error", err)
	}
}
