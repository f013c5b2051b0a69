package policy

import (
	"time"

	"github.com/hop-http/hop/internal/httpcond"
	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/wire"
)

// Heuristic freshness (RFC 9111 §4.2.2): a fraction of the time since Last-Modified,
// at most HeuristicMax.
const (
	HeuristicFraction = 10 // percent
	HeuristicMax      = 24 * time.Hour
)

// maxDuration is MaxDelta seconds as a Duration.
const maxDuration = MaxDelta * time.Second

// seconds converts delta-seconds to a Duration.
func seconds(n int64) time.Duration { return time.Duration(min(n, MaxDelta)) * time.Second }

// heuristicStatus reports the status codes that are heuristically cacheable
// (RFC 9110 §15.1).
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus reports the final status codes whose caching semantics the cache
// knows (RFC 9111 §3, must-understand): those RFC 9110 defines, less 206 and 304,
// which it never stores.
func understoodStatus(code int) bool {
	switch {
	case code >= 200 && code <= 205, code == 207, code == 208, code == 226:
		return true
	case code >= 300 && code <= 308 && code != 304 && code != 306:
		return true
	case code >= 400 && code <= 417, code == 421, code == 422, code == 426, code == 428, code == 429, code == 431, code == 451:
		return true
	case code >= 500 && code <= 505, code == 511:
		return true
	}
	return false
}

// Date returns the Date of a response, or received when it has no valid Date
// (RFC 9110 §6.6.1: a recipient without one uses the time of receipt).
func Date(h *wire.Header, received time.Time) time.Time {
	if v := httpcond.SingleValue(h, "Date"); v != nil {
		if t, ok := httpdate.Parse(v); ok {
			return t
		}
	}
	return received
}

// Lifetime returns the freshness lifetime of a response (RFC 9111 §4.2.1) received
// at received with status code status: s-maxage, else max-age, else Expires minus
// Date (without valid CDN-Cache-Control), else the heuristic. heuristic reports that
// the lifetime is heuristic. An invalid max-age or s-maxage, or an invalid or
// repeated Expires, gives 0 (stale).
func Lifetime(status int, h *wire.Header, d *Response, received time.Time) (lifetime time.Duration, heuristic bool) {
	switch {
	case d.SMaxAge != Absent:
		return seconds(d.SMaxAge), false
	case d.MaxAge != Absent:
		return seconds(d.MaxAge), false
	case d.InvalidFreshness:
		return 0, false
	}
	if !d.Targeted && h.Has("Expires") {
		v := httpcond.SingleValue(h, "Expires")
		exp, ok := httpdate.Parse(v)
		if v == nil || !ok {
			return 0, false // invalid dates, "0" among them, are in the past
		}
		life := exp.Sub(Date(h, received))
		return max(0, min(life, maxDuration)), false
	}
	if d.Targeted && !d.Public {
		return 0, false // a targeted field without freshness gives none
	}
	if !heuristicStatus(status) && !d.Public {
		return 0, false
	}
	if v := httpcond.SingleValue(h, "Last-Modified"); v != nil {
		if lm, ok := httpdate.Parse(v); ok {
			since := Date(h, received).Sub(lm)
			if since > 0 {
				return min(since*HeuristicFraction/100, HeuristicMax), true
			}
		}
	}
	return 0, false
}

// AgeValue returns the Age field of h in seconds, clamped to MaxDelta: the first
// list element of the first Age line; false when absent or not a non-negative
// integer (it is then ignored, RFC 9111 §5.1).
func AgeValue(h *wire.Header) (int64, bool) {
	i := h.Index("Age", 0)
	if i < 0 {
		return 0, false
	}
	_, v := h.At(i)
	var first []byte
	wire.ForEachToken(v, func(t []byte) bool {
		first = t
		return false
	})
	return deltaSeconds(first, true)
}

// InitialAge returns corrected_initial_age (RFC 9111 §4.2.3) for a response received
// at responseTime for a request sent at requestTime.
func InitialAge(h *wire.Header, requestTime, responseTime time.Time) time.Duration {
	apparent := max(0, responseTime.Sub(Date(h, responseTime)))
	delay := max(0, responseTime.Sub(requestTime))
	corrected := delay
	if a, ok := AgeValue(h); ok {
		corrected = min(seconds(a)+delay, maxDuration)
	}
	return max(apparent, corrected)
}

// CurrentAge returns current_age: the initial age plus the time resident in the
// cache since responseTime, at most MaxDelta seconds.
func CurrentAge(initial time.Duration, responseTime, now time.Time) time.Duration {
	return min(initial+max(0, now.Sub(responseTime)), maxDuration)
}
