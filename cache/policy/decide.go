package policy

import (
	"time"

	"github.com/hop-http/hop/wire"
)

// Facts are what the cache keeps about a stored response to decide how it may be
// reused, computed once when the response is stored or freshened (see [FactsOf]).
type Facts struct {
	Lifetime     time.Duration // freshness lifetime (§4.2.1)
	InitialAge   time.Duration // corrected_initial_age (§4.2.3)
	ResponseTime time.Time     // when the response was received
	// StaleWhileRevalidate and StaleIfError are the RFC 5861 windows, -1 when absent.
	StaleWhileRevalidate, StaleIfError time.Duration
	// NoCache: every reuse needs a successful validation (unqualified no-cache).
	NoCache bool
	// NoStale: a stale response is never served (must-revalidate, proxy-revalidate or
	// s-maxage, §5.2.2.2, §5.2.2.8, §5.2.2.10).
	NoStale bool
	// Heuristic: the lifetime is heuristic.
	Heuristic bool
	// Validator: the response has an ETag or a Last-Modified to validate it with.
	Validator bool
	// Withheld: a qualified no-cache="…" names fields that are not sent in a response
	// served without validation (§5.2.2.4).
	Withheld bool
}

// FactsOf computes the facts of a response with status, header h and directives d,
// received at responseTime for a request sent at requestTime.
func FactsOf(status int, h *wire.Header, d *Response, requestTime, responseTime time.Time) Facts {
	life, heur := Lifetime(status, h, d, responseTime)
	f := Facts{
		Lifetime:             life,
		Heuristic:            heur,
		InitialAge:           InitialAge(h, requestTime, responseTime),
		ResponseTime:         responseTime,
		StaleWhileRevalidate: -1,
		StaleIfError:         -1,
		NoCache:              d.NoCache,
		NoStale:              d.MustRevalidate || d.ProxyRevalidate || d.SMaxAge != Absent,
		Validator:            h.Has("ETag") || h.Has("Last-Modified"),
		Withheld:             d.NoCacheFields != nil,
	}
	if d.StaleWhileRevalidate != Absent {
		f.StaleWhileRevalidate = seconds(d.StaleWhileRevalidate)
	}
	if d.StaleIfError != Absent {
		f.StaleIfError = seconds(d.StaleIfError)
	}
	return f
}

// Age returns the current age of the stored response at now (§4.2.3).
func (f *Facts) Age(now time.Time) time.Duration {
	return CurrentAge(f.InitialAge, f.ResponseTime, now)
}

// TTL returns how long the response stays fresh after now (negative when stale).
func (f *Facts) TTL(now time.Time) time.Duration { return f.Lifetime - f.Age(now) }

// Keep returns how long a store should keep the response after now: until it is
// stale and past its stale windows, and keepStale longer when it can still be of use
// stale — it has a validator (revalidation saves the body transfer), or it may be
// served stale when the origin cannot be reached (not must-revalidate,
// proxy-revalidate, s-maxage or no-cache).
func (f *Facts) Keep(now time.Time, keepStale time.Duration) time.Duration {
	ttl := f.TTL(now)
	k := ttl + max(0, f.StaleWhileRevalidate, f.StaleIfError)
	if f.Validator || !f.NoStale && !f.NoCache {
		k = max(k, ttl+keepStale)
	}
	return k
}

// Action is what the cache does with a request for which it holds a response.
type Action uint8

// Actions of [Evaluate].
const (
	// Serve the stored response: it is fresh and acceptable to the client.
	Serve Action = iota
	// ServeStale serves the stored response stale: the client allowed it (max-stale).
	ServeStale
	// ServeStaleRevalidate serves it stale and revalidates it in the background
	// (stale-while-revalidate, RFC 5861 §3).
	ServeStaleRevalidate
	// Validate forwards the request, conditional on the stored validators (§4.3.1).
	Validate
	// GatewayTimeout answers 504: the client said only-if-cached and the stored
	// response cannot be used without contacting the origin (§5.2.1.7).
	GatewayTimeout
)

var actionText = [...]string{"serve", "serve-stale", "serve-stale-revalidate", "validate", "gateway-timeout"}

func (a Action) String() string { return actionText[a] }

// Evaluate decides how a stored response with facts f may satisfy a request with
// directives rd at now (RFC 9111 §4, §4.2.4, §5.2.1; RFC 5861 §3). It returns the
// action and the response's current age.
func Evaluate(f *Facts, rd *Request, now time.Time) (Action, time.Duration) {
	age := f.Age(now)
	a := evaluate(f, rd, age)
	if rd.OnlyIfCached && a == Validate {
		a = GatewayTimeout
	}
	return a, age
}

func evaluate(f *Facts, rd *Request, age time.Duration) Action {
	if rd.NoCache || f.NoCache {
		return Validate
	}
	// max-age=0 asks for validation, whatever fraction of a second old the response is.
	if rd.MaxAge != Absent && (age > seconds(rd.MaxAge) || rd.MaxAge == 0) {
		return Validate
	}
	left := f.Lifetime - age
	if rd.MinFresh != Absent && left < seconds(rd.MinFresh) {
		return Validate
	}
	if left > 0 {
		return Serve
	}
	if f.NoStale {
		return Validate
	}
	stale := -left
	if rd.MaxStale != Absent && stale <= seconds(rd.MaxStale) {
		return ServeStale
	}
	if f.StaleWhileRevalidate >= 0 && stale <= f.StaleWhileRevalidate && rd.MaxAge == Absent {
		return ServeStaleRevalidate
	}
	return Validate
}

// StaleOnError reports whether the stored response may be served stale, at current
// age age, when validation failed: with a 5xx answer (disconnected false) it needs a
// stale-if-error window of the response or the request (RFC 5861 §4); when the origin
// could not be reached at all (disconnected, §4.2.4) up to maxDisconnected of
// staleness is allowed too. Never for no-cache, must-revalidate, proxy-revalidate or
// s-maxage responses, nor when the client asked for no-cache.
func StaleOnError(f *Facts, rd *Request, age time.Duration, disconnected bool, maxDisconnected time.Duration) bool {
	if f.NoStale || f.NoCache || rd.NoCache {
		return false
	}
	stale := max(0, age-f.Lifetime)
	if f.StaleIfError >= 0 && stale <= f.StaleIfError {
		return true
	}
	if rd.StaleIfError != Absent && stale <= seconds(rd.StaleIfError) {
		return true
	}
	return disconnected && stale <= maxDisconnected
}
