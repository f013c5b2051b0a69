package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/wire"
)

// hdr builds a header from "Name: value" lines.
func hdr(lines ...string) *wire.Header {
	var h wire.Header
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		h.Add(name, strings.TrimSpace(value))
	}
	return &h
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func date(d time.Duration) string { return string(httpdate.Append(nil, t0.Add(d))) }

// §5.2 and §5.2.2: response directives.
func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		check func(d Response) bool
	}{
		{"max-age", []string{"Cache-Control: max-age=60"}, func(d Response) bool { return d.MaxAge == 60 }},
		{"quoted argument accepted (§5.2)", []string{`Cache-Control: max-age="60"`}, func(d Response) bool { return d.MaxAge == 60 }},
		{"leading zeros", []string{"Cache-Control: max-age=003600"}, func(d Response) bool { return d.MaxAge == 3600 }},
		{"names are case-insensitive", []string{"Cache-Control: MAX-AGE=5, nO-StOrE"}, func(d Response) bool { return d.MaxAge == 5 && d.NoStore }},
		{"first of two on one line", []string{"Cache-Control: max-age=1800, max-age=1"}, func(d Response) bool { return d.MaxAge == 1800 }},
		{"first of two lines", []string{"Cache-Control: max-age=1", "Cache-Control: max-age=1800"}, func(d Response) bool { return d.MaxAge == 1 }},
		{"directive inside a quoted string is not one", []string{`Cache-Control: extension="max-age=3600", max-age=1`}, func(d Response) bool { return d.MaxAge == 1 }},
		{"quoted string with commas", []string{`Cache-Control: ext="a, max-age=9, b", max-age=1`}, func(d Response) bool { return d.MaxAge == 1 }},
		{"negative is invalid", []string{"Cache-Control: max-age=-1"}, func(d Response) bool { return d.MaxAge == Absent && d.InvalidFreshness }},
		{"single quotes are invalid", []string{"Cache-Control: max-age='3600'"}, func(d Response) bool { return d.MaxAge == Absent && d.InvalidFreshness }},
		{"space before = is another name", []string{"Cache-Control: max-age =3600"}, func(d Response) bool { return d.MaxAge == Absent && !d.InvalidFreshness }},
		{"space after = is invalid", []string{"Cache-Control: max-age= 3600"}, func(d Response) bool { return d.MaxAge == Absent && d.InvalidFreshness }},
		{"overflow clamps to 2^31", []string{"Cache-Control: max-age=99999999999999999999"}, func(d Response) bool { return d.MaxAge == MaxDelta }},
		{"s-maxage", []string{"Cache-Control: s-maxage=10, max-age=100"}, func(d Response) bool { return d.SMaxAge == 10 && d.MaxAge == 100 }},
		{"no-cache unqualified", []string{"Cache-Control: no-cache"}, func(d Response) bool { return d.NoCache && d.NoCacheFields == nil }},
		{"no-cache qualified", []string{`Cache-Control: no-cache="Set-Cookie, X-A", max-age=5`}, func(d Response) bool {
			return !d.NoCache && string(d.NoCacheFields) == "Set-Cookie, X-A" && d.MaxAge == 5
		}},
		{"no-cache qualified then unqualified", []string{`Cache-Control: no-cache="a", no-cache`}, func(d Response) bool { return d.NoCache && d.NoCacheFields == nil }},
		{"private qualified", []string{`Cache-Control: private="X-User"`}, func(d Response) bool { return !d.Private && string(d.PrivateFields) == "X-User" }},
		{"private", []string{"Cache-Control: private"}, func(d Response) bool { return d.Private }},
		{"flags", []string{"Cache-Control: public, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable"}, func(d Response) bool {
			return d.Public && d.MustRevalidate && d.ProxyRevalidate && d.MustUnderstand && d.NoTransform && d.Immutable
		}},
		{"RFC 5861 windows", []string{"Cache-Control: max-age=1, stale-while-revalidate=30, stale-if-error=60"}, func(d Response) bool {
			return d.StaleWhileRevalidate == 30 && d.StaleIfError == 60
		}},
		{"empty elements", []string{"Cache-Control: , ,max-age=2,,"}, func(d Response) bool { return d.MaxAge == 2 }},
		{"unknown extension ignored", []string{"Cache-Control: foo=bar, max-age=7"}, func(d Response) bool { return d.MaxAge == 7 }},
	} {
		if d := ParseResponse(hdr(tc.lines...)); !tc.check(d) {
			t.Errorf("%s: %q → %+v", tc.name, tc.lines, d)
		}
	}
}

// RFC 9213: CDN-Cache-Control, a Structured Field dictionary, replaces Cache-Control
// when valid and is ignored when not.
func TestParseTargeted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lines    []string
		targeted bool
		check    func(d Response) bool
	}{
		{"max-age", []string{"CDN-Cache-Control: max-age=3600", "Cache-Control: no-store"}, true, func(d Response) bool { return d.MaxAge == 3600 && !d.NoStore }},
		{"flags", []string{"CDN-Cache-Control: private"}, true, func(d Response) bool { return d.Private }},
		{"no-cache", []string{"CDN-Cache-Control: no-cache, max-age=5"}, true, func(d Response) bool { return d.NoCache && d.MaxAge == 5 }},
		{"boolean false is absent", []string{"CDN-Cache-Control: no-store=?0, max-age=5"}, true, func(d Response) bool { return !d.NoStore }},
		{"unknown keys kept valid", []string{"CDN-Cache-Control: foobar, max-age=3600"}, true, func(d Response) bool { return d.MaxAge == 3600 }},
		{"parameters allowed", []string{"CDN-Cache-Control: max-age=60;a=1"}, true, func(d Response) bool { return d.MaxAge == 60 }},
		{"large integer clamps", []string{"CDN-Cache-Control: max-age=99999999999"}, true, func(d Response) bool { return d.MaxAge == MaxDelta }},
		{"two lines are one dictionary", []string{"CDN-Cache-Control: max-age=10", "CDN-Cache-Control: must-revalidate"}, true, func(d Response) bool { return d.MaxAge == 10 && d.MustRevalidate }},
		{"a repeated key takes its last value", []string{"CDN-Cache-Control: max-age=10, max-age=20"}, true, func(d Response) bool { return d.MaxAge == 20 }},
		{"a repeated key across lines takes its last value", []string{"CDN-Cache-Control: max-age=10", "CDN-Cache-Control: max-age=30"}, true, func(d Response) bool { return d.MaxAge == 30 }},
		{"a flag turned off by its repeat", []string{"CDN-Cache-Control: no-store, max-age=5, no-store=?0"}, true, func(d Response) bool { return !d.NoStore && d.MaxAge == 5 }},
		{"a wrong type overridden by the last value", []string{`CDN-Cache-Control: max-age="x", max-age=7`}, true, func(d Response) bool { return d.MaxAge == 7 }},
		{"string for integer: ignored", []string{`CDN-Cache-Control: max-age="10000"`, "Cache-Control: no-store"}, false, func(d Response) bool { return d.NoStore }},
		{"invalid member: ignored", []string{"CDN-Cache-Control: max-age=10000, &&&&&", "Cache-Control: no-store"}, false, func(d Response) bool { return d.NoStore }},
		{"upper-case key: ignored", []string{"CDN-Cache-Control: MaX-aGe=3600", "Cache-Control: max-age=1"}, false, func(d Response) bool { return d.MaxAge == 1 }},
		{"space before =: ignored", []string{"CDN-Cache-Control: max-age =100"}, false, func(d Response) bool { return d.MaxAge == Absent }},
		{"space after =: ignored", []string{"CDN-Cache-Control: max-age= 100"}, false, func(d Response) bool { return d.MaxAge == Absent }},
		{"decimal for integer: ignored", []string{"CDN-Cache-Control: max-age=1.5"}, false, func(d Response) bool { return d.MaxAge == Absent }},
		{"trailing comma: ignored", []string{"CDN-Cache-Control: max-age=1,"}, false, func(d Response) bool { return d.MaxAge == Absent }},
	} {
		d := ParseResponse(hdr(tc.lines...))
		if d.Targeted != tc.targeted || !tc.check(d) {
			t.Errorf("%s: %q → %+v", tc.name, tc.lines, d)
		}
	}
}

// §5.2.1: request directives; §5.4 Pragma.
func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  Request
	}{
		{nil, Request{MaxAge: Absent, MaxStale: Absent, MinFresh: Absent, StaleIfError: Absent}},
		{[]string{"Cache-Control: max-age=0"}, Request{MaxAge: 0, MaxStale: Absent, MinFresh: Absent, StaleIfError: Absent}},
		{[]string{"Cache-Control: max-stale"}, Request{MaxAge: Absent, MaxStale: MaxDelta, MinFresh: Absent, StaleIfError: Absent}},
		{[]string{"Cache-Control: max-stale=5, min-fresh=3"}, Request{MaxAge: Absent, MaxStale: 5, MinFresh: 3, StaleIfError: Absent}},
		{[]string{"Cache-Control: no-cache, no-store, only-if-cached, stale-if-error=9"}, Request{MaxAge: Absent, MaxStale: Absent, MinFresh: Absent, StaleIfError: 9, NoCache: true, NoStore: true, OnlyIfCached: true}},
		{[]string{"Pragma: no-cache"}, Request{MaxAge: Absent, MaxStale: Absent, MinFresh: Absent, StaleIfError: Absent, NoCache: true}},
		{[]string{"Pragma: no-cache", "Cache-Control: max-age=5"}, Request{MaxAge: 5, MaxStale: Absent, MinFresh: Absent, StaleIfError: Absent}},
		{[]string{"Pragma: foo"}, Request{MaxAge: Absent, MaxStale: Absent, MinFresh: Absent, StaleIfError: Absent}},
	} {
		if got := ParseRequest(hdr(tc.lines...)); got != tc.want {
			t.Errorf("%q → %+v, want %+v", tc.lines, got, tc.want)
		}
	}
}

// §3: storing responses.
func TestCanStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		req    []string
		status int
		resp   []string
		want   NotStorable
	}{
		{"fresh 200", "GET", nil, 200, []string{"Cache-Control: max-age=60"}, Storable},
		{"heuristic status without freshness", "GET", nil, 404, nil, Storable},
		{"non-heuristic status without freshness", "GET", nil, 302, nil, ReasonNoFreshness},
		{"non-heuristic status with max-age", "GET", nil, 302, []string{"Cache-Control: max-age=60"}, Storable},
		{"non-heuristic status with Expires", "GET", nil, 503, []string{"Expires: " + date(time.Hour)}, Storable},
		{"unknown status with public", "GET", nil, 599, []string{"Cache-Control: public"}, Storable},
		{"POST", "POST", nil, 200, []string{"Cache-Control: max-age=60"}, ReasonMethod},
		{"HEAD", "HEAD", nil, 200, []string{"Cache-Control: max-age=60"}, ReasonMethod},
		{"206", "GET", nil, 206, []string{"Cache-Control: max-age=60"}, ReasonStatus},
		{"304", "GET", nil, 304, []string{"Cache-Control: max-age=60"}, ReasonStatus},
		{"1xx", "GET", nil, 103, nil, ReasonStatus},
		{"no-store", "GET", nil, 200, []string{"Cache-Control: no-store, max-age=60"}, ReasonNoStore},
		{"request no-store", "GET", []string{"Cache-Control: no-store"}, 200, []string{"Cache-Control: max-age=60"}, ReasonRequestNoStore},
		{"private", "GET", nil, 200, []string{"Cache-Control: private, max-age=60"}, ReasonPrivate},
		{"qualified private stores the rest", "GET", nil, 200, []string{`Cache-Control: private="X-A", max-age=60`}, Storable},
		{"must-understand with a known status overrides no-store", "GET", nil, 200, []string{"Cache-Control: must-understand, no-store, max-age=60"}, Storable},
		{"must-understand with an unknown status", "GET", nil, 599, []string{"Cache-Control: must-understand, no-store, max-age=60"}, ReasonStatus},
		{"Authorization", "GET", []string{"Authorization: Basic eDp5"}, 200, []string{"Cache-Control: max-age=60"}, ReasonAuthorization},
		{"Authorization with public", "GET", []string{"Authorization: Basic eDp5"}, 200, []string{"Cache-Control: public, max-age=60"}, Storable},
		{"Authorization with s-maxage", "GET", []string{"Authorization: Basic eDp5"}, 200, []string{"Cache-Control: s-maxage=60"}, Storable},
		{"Authorization with must-revalidate", "GET", []string{"Authorization: Basic eDp5"}, 200, []string{"Cache-Control: must-revalidate, max-age=60"}, Storable},
		{"Vary: *", "GET", nil, 200, []string{"Cache-Control: max-age=60", "Vary: Accept, *"}, ReasonVaryStar},
		{"CDN-Cache-Control max-age over Cache-Control no-store", "GET", nil, 200, []string{"CDN-Cache-Control: max-age=60", "Cache-Control: no-store"}, Storable},
		{"CDN-Cache-Control no-store over Cache-Control max-age", "GET", nil, 200, []string{"CDN-Cache-Control: no-store", "Cache-Control: max-age=60"}, ReasonNoStore},
	} {
		reqH, respH := hdr(tc.req...), hdr(tc.resp...)
		rd, d := ParseRequest(reqH), ParseResponse(respH)
		if got := CanStore([]byte(tc.method), reqH, &rd, tc.status, respH, &d); got != tc.want {
			t.Errorf("%s: CanStore = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// §3.1: fields never stored.
func TestStoredField(t *testing.T) {
	h := hdr("Connection: X-Conn, close", "X-Conn: 1", "Keep-Alive: timeout=5", "Transfer-Encoding: chunked",
		"Proxy-Authenticate: Basic", "Proxy-Connection: keep-alive", "TE: trailers", "Upgrade: foo",
		"Age: 5", `Cache-Control: private="X-Secret"`, "X-Secret: s", "Set-Cookie: a=b", "Content-Length: 3", "ETag: \"x\"")
	d := ParseResponse(h)
	want := map[string]bool{"Connection": false, "X-Conn": false, "Keep-Alive": false, "Transfer-Encoding": false,
		"Proxy-Authenticate": false, "Proxy-Connection": false, "TE": false, "Upgrade": false, "Age": false,
		"X-Secret": false, "Cache-Control": true, "Set-Cookie": true, "Content-Length": true, "ETag": true}
	for i := 0; i < h.Len(); i++ {
		name, _ := h.At(i)
		if got := StoredField(name, h, &d); got != want[string(name)] {
			t.Errorf("StoredField(%s) = %v", name, got)
		}
	}
}

// §4.2.1 and §4.2.2: freshness lifetime.
func TestLifetime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		lines     []string
		want      time.Duration
		heuristic bool
	}{
		{"max-age", 200, []string{"Cache-Control: max-age=60"}, time.Minute, false},
		{"s-maxage wins (shared)", 200, []string{"Cache-Control: max-age=3600, s-maxage=2"}, 2 * time.Second, false},
		{"s-maxage wins on another line", 200, []string{"Cache-Control: max-age=3600", "Cache-Control: s-maxage=2"}, 2 * time.Second, false},
		{"max-age over Expires", 200, []string{"Cache-Control: max-age=0", "Date: " + date(0), "Expires: " + date(time.Hour)}, 0, false},
		{"Expires - Date", 200, []string{"Date: " + date(0), "Expires: " + date(time.Hour)}, time.Hour, false},
		{"Expires before Date", 200, []string{"Date: " + date(0), "Expires: " + date(-time.Hour)}, 0, false},
		{"Expires without Date uses receipt", 200, []string{"Expires: " + date(30*time.Second)}, 30 * time.Second, false},
		{"invalid Expires is past", 200, []string{"Expires: 0", "Last-Modified: " + date(-time.Hour)}, 0, false},
		{"repeated Expires is invalid", 200, []string{"Expires: " + date(time.Hour), "Expires: " + date(time.Hour)}, 0, false},
		{"Expires in UTC is invalid", 200, []string{"Expires: Sat, 01 Mar 2025 13:00:00 UTC"}, 0, false},
		{"invalid max-age is stale", 200, []string{"Cache-Control: max-age=-1", "Expires: " + date(time.Hour)}, 0, false},
		{"heuristic 10%", 200, []string{"Date: " + date(0), "Last-Modified: " + date(-10*time.Hour)}, time.Hour, true},
		{"heuristic capped at a day", 200, []string{"Date: " + date(0), "Last-Modified: " + date(-1000*time.Hour)}, HeuristicMax, true},
		{"no heuristic for 201", 201, []string{"Date: " + date(0), "Last-Modified: " + date(-10*time.Hour)}, 0, false},
		{"no heuristic for 503", 503, []string{"Date: " + date(0), "Last-Modified: " + date(-10*time.Hour)}, 0, false},
		{"heuristic for 599 with public", 599, []string{"Cache-Control: public", "Date: " + date(0), "Last-Modified: " + date(-10*time.Hour)}, time.Hour, true},
		{"CDN-Cache-Control over Cache-Control", 200, []string{"Cache-Control: max-age=3600", "CDN-Cache-Control: max-age=5"}, 5 * time.Second, false},
		{"CDN-Cache-Control ignores Expires", 200, []string{"CDN-Cache-Control: private", "Date: " + date(0), "Expires: " + date(time.Hour)}, 0, false},
		{"nothing", 200, nil, 0, false},
	} {
		h := hdr(tc.lines...)
		d := ParseResponse(h)
		got, heur := Lifetime(tc.status, h, &d, t0)
		if got != tc.want || heur != tc.heuristic {
			t.Errorf("%s: Lifetime = %v (heuristic %v), want %v (%v)", tc.name, got, heur, tc.want, tc.heuristic)
		}
	}
}

// §4.2.3 and §5.1: age.
func TestAge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		delay time.Duration // response_time - request_time
		want  time.Duration // corrected_initial_age
	}{
		{"no Age, Date now", []string{"Date: " + date(0)}, 0, 0},
		{"Age", []string{"Date: " + date(0), "Age: 30"}, 0, 30 * time.Second},
		{"Age plus response delay", []string{"Date: " + date(0), "Age: 30"}, 2 * time.Second, 32 * time.Second},
		{"apparent age from a slow Date", []string{"Date: " + date(-100*time.Second), "Age: 30"}, 0, 100 * time.Second},
		{"Date in the future: apparent age 0", []string{"Date: " + date(100*time.Second)}, 0, 0},
		{"non-numeric Age ignored", []string{"Date: " + date(0), "Age: old"}, 0, 0},
		{"negative Age ignored", []string{"Date: " + date(0), "Age: -7200"}, 0, 0},
		{"float Age ignored", []string{"Date: " + date(0), "Age: 7200.0"}, 0, 0},
		{"huge Age clamps", []string{"Date: " + date(0), "Age: 99999999999"}, maxDuration, maxDuration},
		{"first element of a list", []string{"Date: " + date(0), "Age: 7200, 0"}, 0, 7200 * time.Second},
		{"first line", []string{"Date: " + date(0), "Age: 0", "Age: 7200"}, 0, 0},
	} {
		h := hdr(tc.lines...)
		got := InitialAge(h, t0.Add(-tc.delay), t0)
		if got != tc.want {
			t.Errorf("%s: InitialAge = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := CurrentAge(10*time.Second, t0, t0.Add(5*time.Second)); got != 15*time.Second {
		t.Errorf("CurrentAge = %v, want 15s", got)
	}
}

// §4, §4.2.4, §5.2.1 and RFC 5861 §3: how a stored response may be reused.
func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		resp  []string // with Date = receipt time t0
		req   []string
		after time.Duration
		want  Action
	}{
		{"fresh", []string{"Cache-Control: max-age=60"}, nil, 10 * time.Second, Serve},
		{"stale", []string{"Cache-Control: max-age=60"}, nil, 61 * time.Second, Validate},
		{"max-age=0", []string{"Cache-Control: max-age=0"}, nil, 0, Validate},
		{"Age beyond max-age", []string{"Cache-Control: max-age=60", "Age: 61"}, nil, 0, Validate},
		{"no-cache validates fresh", []string{"Cache-Control: no-cache, max-age=60"}, nil, 0, Validate},
		{"request no-cache", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: no-cache"}, 0, Validate},
		{"request Pragma no-cache", []string{"Cache-Control: max-age=60"}, []string{"Pragma: no-cache"}, 0, Validate},
		{"request max-age older", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: max-age=5"}, 10 * time.Second, Validate},
		{"request max-age younger", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: max-age=20"}, 10 * time.Second, Serve},
		{"request min-fresh unmet", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: min-fresh=55"}, 10 * time.Second, Validate},
		{"request min-fresh met", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: min-fresh=40"}, 10 * time.Second, Serve},
		{"max-stale allows stale", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: max-stale=10"}, 65 * time.Second, ServeStale},
		{"max-stale too short", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: max-stale=1"}, 65 * time.Second, Validate},
		{"max-stale unbounded", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: max-stale"}, time.Hour, ServeStale},
		{"must-revalidate refuses max-stale", []string{"Cache-Control: max-age=60, must-revalidate"}, []string{"Cache-Control: max-stale"}, 65 * time.Second, Validate},
		{"proxy-revalidate refuses max-stale", []string{"Cache-Control: max-age=60, proxy-revalidate"}, []string{"Cache-Control: max-stale"}, 65 * time.Second, Validate},
		{"s-maxage refuses max-stale", []string{"Cache-Control: s-maxage=60"}, []string{"Cache-Control: max-stale"}, 65 * time.Second, Validate},
		{"stale-while-revalidate", []string{"Cache-Control: max-age=1, stale-while-revalidate=60"}, nil, 30 * time.Second, ServeStaleRevalidate},
		{"after the stale-while-revalidate window", []string{"Cache-Control: max-age=1, stale-while-revalidate=5"}, nil, 30 * time.Second, Validate},
		{"stale-while-revalidate and must-revalidate", []string{"Cache-Control: max-age=1, stale-while-revalidate=60, must-revalidate"}, nil, 30 * time.Second, Validate},
		{"only-if-cached fresh", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: only-if-cached"}, 0, Serve},
		{"only-if-cached stale", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: only-if-cached"}, time.Hour, GatewayTimeout},
		{"heuristic fresh", []string{"Last-Modified: " + date(-100*time.Hour)}, nil, time.Hour, Serve},
	} {
		h := hdr(append([]string{"Date: " + date(0)}, tc.resp...)...)
		d := ParseResponse(h)
		f := FactsOf(200, h, &d, t0, t0)
		rd := ParseRequest(hdr(tc.req...))
		if got, _ := Evaluate(&f, &rd, t0.Add(tc.after)); got != tc.want {
			t.Errorf("%s: Evaluate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// RFC 5861 §4 and RFC 9111 §4.2.4: serving stale when the origin fails.
func TestStaleOnError(t *testing.T) {
	const maxDisc = time.Hour
	for _, tc := range []struct {
		name         string
		resp, req    []string
		after        time.Duration
		disconnected bool
		want         bool
	}{
		{"5xx without stale-if-error", []string{"Cache-Control: max-age=1"}, nil, 10 * time.Second, false, false},
		{"5xx within stale-if-error", []string{"Cache-Control: max-age=1, stale-if-error=60"}, nil, 10 * time.Second, false, true},
		{"5xx past stale-if-error", []string{"Cache-Control: max-age=1, stale-if-error=5"}, nil, 10 * time.Second, false, false},
		{"request stale-if-error", []string{"Cache-Control: max-age=1"}, []string{"Cache-Control: stale-if-error=60"}, 10 * time.Second, false, true},
		{"disconnected", []string{"Cache-Control: max-age=1"}, nil, 10 * time.Second, true, true},
		{"disconnected too long", []string{"Cache-Control: max-age=1"}, nil, 2 * time.Hour, true, false},
		{"disconnected must-revalidate", []string{"Cache-Control: max-age=1, must-revalidate"}, nil, 10 * time.Second, true, false},
		{"disconnected proxy-revalidate", []string{"Cache-Control: max-age=1, proxy-revalidate"}, nil, 10 * time.Second, true, false},
		{"disconnected s-maxage", []string{"Cache-Control: s-maxage=1"}, nil, 10 * time.Second, true, false},
		{"disconnected no-cache", []string{"Cache-Control: max-age=1, no-cache"}, nil, 10 * time.Second, true, false},
		{"must-revalidate beats stale-if-error", []string{"Cache-Control: max-age=1, must-revalidate, stale-if-error=60"}, nil, 10 * time.Second, false, false},
	} {
		h := hdr(append([]string{"Date: " + date(0)}, tc.resp...)...)
		d := ParseResponse(h)
		f := FactsOf(200, h, &d, t0, t0)
		rd := ParseRequest(hdr(tc.req...))
		if got := StaleOnError(&f, &rd, f.Age(t0.Add(tc.after)), tc.disconnected, maxDisc); got != tc.want {
			t.Errorf("%s: StaleOnError = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// §4.1: Vary and secondary keys.
func TestVary(t *testing.T) {
	names := func(lines ...string) string {
		b, ok := AppendVaryNames(nil, hdr(lines...))
		if !ok {
			return "!"
		}
		return string(b)
	}
	if got := names("Vary: Accept-Encoding, accept", "Vary: X-B, Accept"); got != "accept,accept-encoding,x-b," {
		t.Errorf("AppendVaryNames = %q", got)
	}
	if got := names(); got != "" {
		t.Errorf("AppendVaryNames without Vary = %q", got)
	}
	if got := names("Vary: " + strings.Repeat("a,", MaxVary) + "b"); got != "!" {
		t.Errorf("AppendVaryNames with too many names = %q", got)
	}
	for _, v := range []string{"*", "*, *", ", *", "*, Foo", "Foo, *"} {
		if !VaryStar(hdr("Vary: " + v)) {
			t.Errorf("VaryStar(%q) = false", v)
		}
	}
	if !VaryStar(hdr("Vary: Foo", "Vary: *")) || VaryStar(hdr("Vary: Foo")) {
		t.Error("VaryStar across lines")
	}
	key := func(names string, lines ...string) string {
		return string(AppendSecondaryKey(nil, []byte(names), hdr(lines...)))
	}
	for _, tc := range []struct {
		a, b  []string
		names string
		same  bool
	}{
		{[]string{"Accept: text/html"}, []string{"Accept: text/html"}, "accept,", true},
		{[]string{"Accept: text/html"}, []string{"Accept: image/png"}, "accept,", false},
		{[]string{"Accept: a, b"}, []string{"Accept: a,b"}, "accept,", true},
		{[]string{"Accept: a", "Accept: b"}, []string{"Accept: a, b"}, "accept,", true},
		{[]string{"ACCEPT: a"}, []string{"accept: a"}, "accept,", true},
		{nil, []string{"Accept: "}, "accept,", false},
		{nil, nil, "accept,", true},
		{[]string{"Foo: 1", "Bar: 2"}, []string{"Bar: 2", "Foo: 1"}, "bar,foo,", true},
		{[]string{"Foo: 1", "Bar: 2"}, []string{"Foo: 1"}, "bar,foo,", false},
		{[]string{"Foo: 1", "Bar: 2", "Baz: 3"}, []string{"Foo: 1", "Bar: 2", "Baz: 4"}, "bar,baz,foo,", false},
	} {
		if got := key(tc.names, tc.a...) == key(tc.names, tc.b...); got != tc.same {
			t.Errorf("keys of %q and %q under %q: same = %v, want %v", tc.a, tc.b, tc.names, got, tc.same)
		}
	}
}

// §4.3.1, §4.3.4 and §3.2: validation and freshening.
func TestValidation(t *testing.T) {
	stored := hdr("ETag: \"v1\"", "Last-Modified: "+date(-time.Hour), "Content-Length: 5", "A: 1", "Cache-Control: max-age=1")
	out := hdr("If-None-Match: \"client\"", "If-Modified-Since: "+date(-2*time.Hour), "Accept: */*")
	if !SetValidators(out, stored) {
		t.Fatal("SetValidators: not conditional")
	}
	if got := string(out.Get("If-None-Match")); got != `"v1"` {
		t.Errorf("If-None-Match = %q", got)
	}
	if got := string(out.Get("If-Modified-Since")); got != date(-time.Hour) {
		t.Errorf("If-Modified-Since = %q", got)
	}
	if SetValidators(hdr("If-None-Match: \"x\""), hdr("Content-Length: 1")) {
		t.Error("SetValidators without validators: conditional")
	}

	for _, tc := range []struct {
		nm   []string
		want bool
	}{
		{[]string{`ETag: "v1"`}, true},
		{[]string{`ETag: W/"v1"`}, true},
		{[]string{`ETag: "v2"`}, false},
		{[]string{"Last-Modified: " + date(-time.Hour)}, true},
		{[]string{"Last-Modified: " + date(0)}, false},
		{nil, true},
	} {
		if got := Matches304(hdr(tc.nm...), stored); got != tc.want {
			t.Errorf("Matches304(%q) = %v, want %v", tc.nm, got, tc.want)
		}
	}

	nm := hdr("ETag: \"v1\"", "A: 2", "B: 3", "Content-Length: 0", "Connection: close", "Cache-Control: max-age=60")
	var dst wire.Header
	d := ParseResponse(nm)
	Freshen(&dst, stored, nm, &d)
	want := []string{"Last-Modified: " + date(-time.Hour), "Content-Length: 5", "ETag: \"v1\"", "A: 2", "B: 3", "Cache-Control: max-age=60"}
	var got []string
	for i := 0; i < dst.Len(); i++ {
		n, v := dst.At(i)
		got = append(got, string(n)+": "+string(v))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Freshen:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !Bypass(hdr("If-Match: \"x\"")) || Bypass(hdr("If-None-Match: \"x\"")) {
		t.Error("Bypass")
	}
}

// §4.4: invalidation.
func TestInvalidates(t *testing.T) {
	for _, tc := range []struct {
		method string
		status int
		want   bool
	}{
		{"POST", 200, true}, {"PUT", 201, true}, {"DELETE", 204, true}, {"M-SEARCH", 200, true},
		{"PATCH", 303, true}, {"POST", 404, false}, {"POST", 500, false}, {"GET", 200, false},
		{"HEAD", 200, false}, {"OPTIONS", 200, false},
	} {
		if got := Invalidates([]byte(tc.method), tc.status); got != tc.want {
			t.Errorf("Invalidates(%s, %d) = %v", tc.method, tc.status, got)
		}
	}
}

// RFC 9211: Cache-Status members.
func TestCacheStatus(t *testing.T) {
	for _, tc := range []struct {
		s    CacheStatus
		want string
	}{
		{CacheStatus{Hit: true, TTL: 376 * time.Second, HasTTL: true}, "hop; hit; ttl=376"},
		{CacheStatus{Hit: true, TTL: -5 * time.Second, HasTTL: true, Detail: "stale-while-revalidate"}, "hop; hit; ttl=-5; detail=stale-while-revalidate"},
		{CacheStatus{Fwd: FwdURIMiss, FwdStatus: 200, Stored: true, TTL: time.Minute, HasTTL: true}, "hop; fwd=uri-miss; fwd-status=200; stored; ttl=60"},
		{CacheStatus{Fwd: FwdVaryMiss, FwdStatus: 200}, "hop; fwd=vary-miss; fwd-status=200"},
		{CacheStatus{Fwd: FwdStale, FwdStatus: 304, TTL: time.Minute, HasTTL: true}, "hop; fwd=stale; fwd-status=304; ttl=60"},
		{CacheStatus{Fwd: FwdURIMiss, FwdStatus: 200, Collapsed: true}, "hop; fwd=uri-miss; fwd-status=200; collapsed"},
		{CacheStatus{Fwd: FwdMethod}, "hop; fwd=method"},
	} {
		if got := string(AppendCacheStatus(nil, "hop", &tc.s)); got != tc.want {
			t.Errorf("AppendCacheStatus = %q, want %q", got, tc.want)
		}
	}
}

// The per-request parsers allocate nothing.
func TestParseAllocs(t *testing.T) {
	resp := hdr(`Cache-Control: max-age=60, no-cache="a, b", stale-if-error=5`, "Date: "+date(0))
	req := hdr("Cache-Control: max-stale=5")
	n := testing.AllocsPerRun(100, func() {
		d := ParseResponse(resp)
		rd := ParseRequest(req)
		f := FactsOf(200, resp, &d, t0, t0)
		Evaluate(&f, &rd, t0)
	})
	if n != 0 {
		t.Errorf("allocs per parse = %v, want 0", n)
	}
}
