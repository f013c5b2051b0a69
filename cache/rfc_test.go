package cache_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/cache"
)

// step is one request of a scenario and what must come of it.
type step struct {
	advance time.Duration // move the clock before the request
	method  string        // default GET
	path    string        // default /r
	req     []string      // request fields
	origin  answer        // the origin's answer, if the request reaches it

	origins int      // origin requests so far, after this step
	status  int      // status the client gets (default 200)
	body    string   // body the client gets ("" = not checked, "<empty>" = empty)
	cs      string   // a substring of Cache-Status
	age     string   // the Age the client gets ("" = not checked, "-" = absent)
	saw     []string // fields the origin saw in this step's request ("Name: value"; "Name: -" = absent)
	has     []string // response fields the client gets ("Name: value"; "Name: -" = absent)
}

type scenario struct {
	name  string
	steps []step
}

func ok200(fields ...string) answer { return answer{status: 200, fields: fields, body: "body-1"} }

func run(t *testing.T, scenarios []scenario) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			for i, st := range sc.steps {
				e.clock.Advance(st.advance)
				method, path := st.method, st.path
				if method == "" {
					method = "GET"
				}
				if path == "" {
					path = "/r"
				}
				before := e.originCount()
				r := e.do(method, path, st.origin, st.req...)
				if r.err != nil {
					t.Fatalf("step %d: %v", i+1, r.err)
				}
				check(t, e, i+1, st, r, before)
			}
		})
	}
}

func check(t *testing.T, e *env, n int, st step, r result, before int) {
	t.Helper()
	if got := e.originCount(); got != st.origins {
		t.Errorf("step %d: origin saw %d requests, want %d", n, got, st.origins)
	}
	want := st.status
	if want == 0 {
		want = 200
	}
	if r.status != want {
		t.Errorf("step %d: status %d, want %d (Cache-Status %q)", n, r.status, want, r.header.Get("Cache-Status"))
	}
	switch st.body {
	case "":
	case "<empty>":
		if r.body != "" {
			t.Errorf("step %d: body %q, want none", n, r.body)
		}
	default:
		if r.body != st.body {
			t.Errorf("step %d: body %q, want %q", n, r.body, st.body)
		}
	}
	if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, st.cs) {
		t.Errorf("step %d: Cache-Status %q, want it to contain %q", n, cs, st.cs)
	}
	if !strings.HasPrefix(r.header.Get("Cache-Status"), "hop") {
		t.Errorf("step %d: no Cache-Status from hop: %q", n, r.header.Get("Cache-Status"))
	}
	switch {
	case st.age == "-":
		if v, ok := r.header["Age"]; ok {
			t.Errorf("step %d: Age %q, want none", n, v)
		}
	case st.age != "":
		if got := r.header.Get("Age"); got != st.age {
			t.Errorf("step %d: Age %q, want %q", n, got, st.age)
		}
	}
	for _, f := range st.has {
		name, value, _ := strings.Cut(f, ":")
		value = strings.TrimSpace(value)
		got, present := r.header[httpCanon(name)]
		if value == "-" {
			if present {
				t.Errorf("step %d: response has %s: %q, want none", n, name, got)
			}
			continue
		}
		if strings.Join(got, ", ") != e.expand(value) {
			t.Errorf("step %d: response %s: %q, want %q", n, name, got, e.expand(value))
		}
	}
	if len(st.saw) > 0 {
		if e.originCount() == before {
			t.Errorf("step %d: origin not reached, cannot check %q", n, st.saw)
			return
		}
		s := e.lastSeen()
		for _, f := range st.saw {
			name, value, _ := strings.Cut(f, ":")
			value = strings.TrimSpace(value)
			got := s.header.Get(name)
			if value == "-" {
				if got != nil {
					t.Errorf("step %d: origin saw %s: %q, want none", n, name, got)
				}
				continue
			}
			if string(got) != e.expand(value) {
				t.Errorf("step %d: origin saw %s: %q, want %q", n, name, got, e.expand(value))
			}
		}
	}
}

func httpCanon(name string) string {
	b := []byte(strings.ToLower(name))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '-'
	}
	return string(b)
}

// RFC 9111 §3: which responses are stored.
func TestStoring(t *testing.T) {
	run(t, []scenario{
		{"fresh 200 is stored", []step{
			{origin: ok200("Cache-Control: max-age=60"), origins: 1, body: "body-1", cs: "fwd=uri-miss; fwd-status=200; stored", age: "-"},
			{origins: 1, body: "body-1", cs: "hit", age: "0"},
		}},
		{"204 is stored (no body to wait for)", []step{
			{origin: answer{status: 204, fields: []string{"Cache-Control: max-age=60"}}, status: 204, origins: 1, cs: "stored"},
			{status: 204, origins: 1, cs: "hit", body: "<empty>"},
		}},
		{"empty 200 is stored", []step{
			{origin: answer{status: 200, fields: []string{"Cache-Control: max-age=60", "Content-Length: 0"}}, origins: 1, cs: "stored"},
			{origins: 1, cs: "hit", body: "<empty>", has: []string{"Content-Length: 0"}},
		}},
		{"no-store", []step{
			{origin: ok200("Cache-Control: no-store, max-age=60"), origins: 1, cs: "fwd=uri-miss"},
			{origin: ok200("Cache-Control: no-store, max-age=60"), origins: 2, cs: "fwd=uri-miss"},
		}},
		{"request no-store", []step{
			{req: []string{"Cache-Control: no-store"}, origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{origin: ok200("Cache-Control: max-age=60"), origins: 2, cs: "fwd=uri-miss"},
		}},
		{"private", []step{
			{origin: ok200("Cache-Control: private, max-age=60"), origins: 1},
			{origin: ok200("Cache-Control: private, max-age=60"), origins: 2, cs: "fwd=uri-miss"},
		}},
		{"qualified private: stored without the field", []step{
			{origin: ok200(`Cache-Control: private="X-User", max-age=60`, "X-User: alice", "X-Other: 1"), origins: 1},
			{origins: 1, cs: "hit", has: []string{"X-User: -", "X-Other: 1"}},
		}},
		{"Authorization without public", []step{
			{req: []string{"Authorization: Basic eDp5"}, origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{req: []string{"Authorization: Basic eDp5"}, origin: ok200("Cache-Control: max-age=60"), origins: 2},
			{origin: ok200("Cache-Control: max-age=60"), origins: 3, cs: "fwd=uri-miss"},
		}},
		{"a response stored for a request without Authorization serves one with it (RFC 9111 §3.5 restricts the stored request)", []step{
			{origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{req: []string{"Authorization: Basic eDp5"}, origins: 1, cs: "hit", body: "body-1"},
		}},
		{"Authorization with public", []step{
			{req: []string{"Authorization: Basic eDp5"}, origin: ok200("Cache-Control: public, max-age=60"), origins: 1},
			{origins: 1, cs: "hit"},
		}},
		{"302 without freshness is not stored", []step{
			{origin: answer{status: 302, fields: []string{"Location: /x"}}, status: 302, origins: 1},
			{origin: answer{status: 302, fields: []string{"Location: /x"}}, status: 302, origins: 2},
		}},
		{"302 with max-age is stored", []step{
			{origin: answer{status: 302, fields: []string{"Location: /x", "Cache-Control: max-age=60"}}, status: 302, origins: 1},
			{status: 302, origins: 1, cs: "hit", has: []string{"Location: /x"}},
		}},
		{"404 is heuristically cacheable", []step{
			{origin: answer{status: 404, fields: []string{"Last-Modified: {now-36000}"}, body: "nope"}, status: 404, origins: 1},
			{status: 404, origins: 1, cs: "hit", body: "nope"},
		}},
		{"must-understand with an unknown status", []step{
			{origin: answer{status: 599, fields: []string{"Cache-Control: max-age=60, no-store, must-understand"}}, status: 599, origins: 1},
			{origin: answer{status: 599}, status: 599, origins: 2},
		}},
		{"must-understand with 200 overrides no-store", []step{
			{origin: ok200("Cache-Control: max-age=60, no-store, must-understand"), origins: 1},
			{origins: 1, cs: "hit"},
		}},
		{"Set-Cookie is stored", []step{
			{origin: ok200("Cache-Control: max-age=60", "Set-Cookie: a=b"), origins: 1},
			{origins: 1, cs: "hit", has: []string{"Set-Cookie: a=b"}},
		}},
		{"POST is not stored", []step{
			{method: "POST", origin: ok200("Cache-Control: max-age=60"), origins: 1, cs: "fwd=method"},
			{origin: ok200("Cache-Control: max-age=60"), origins: 2, cs: "fwd=uri-miss"},
		}},
		{"different query is a different key", []step{
			{path: "/r?a=1", origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{path: "/r?a=2", origin: ok200("Cache-Control: max-age=60"), origins: 2, cs: "fwd=uri-miss"},
			{path: "/r?a=1", origins: 2, cs: "hit"},
		}},
	})
}

// RFC 9111 §4.2: freshness and age.
func TestFreshness(t *testing.T) {
	run(t, []scenario{
		{"max-age fresh then stale", []step{
			{origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{advance: 30 * time.Second, origins: 1, cs: "hit; ttl=30", age: "30"},
			{advance: 31 * time.Second, origin: ok200("Cache-Control: max-age=60"), origins: 2, cs: "fwd=stale; fwd-status=200; stored"},
		}},
		{"max-age=0", []step{
			{origin: ok200("Cache-Control: max-age=0"), origins: 1},
			{origin: ok200("Cache-Control: max-age=0"), origins: 2},
		}},
		{"s-maxage over a longer max-age", []step{
			{origin: ok200("Cache-Control: max-age=3600, s-maxage=10"), origins: 1},
			{advance: 11 * time.Second, origin: ok200(), origins: 2},
		}},
		{"Expires minus Date", []step{
			{origin: ok200("Expires: {now+100}"), origins: 1},
			{advance: 50 * time.Second, origins: 1, cs: "hit", age: "50"},
			{advance: 51 * time.Second, origin: ok200(), origins: 2},
		}},
		{"Expires in the past", []step{
			{origin: ok200("Expires: {now-10}", "ETag: \"e\""), origins: 1},
			{origin: ok200(), origins: 2},
		}},
		{"invalid Expires is in the past", []step{
			{origin: ok200("Expires: 0", "ETag: \"e\""), origins: 1},
			{origin: ok200(), origins: 2},
		}},
		{"max-age over Expires", []step{
			{origin: ok200("Cache-Control: max-age=0", "Expires: {now+3600}", "ETag: \"e\""), origins: 1},
			{origin: ok200(), origins: 2},
		}},
		{"heuristic from Last-Modified", []step{
			{origin: ok200("Last-Modified: {now-36000}"), origins: 1},
			{advance: 3000 * time.Second, origins: 1, cs: "hit"},
			{advance: 700 * time.Second, origin: ok200(), origins: 2},
		}},
		{"Age from upstream counts (§4.2.3)", []step{
			{origin: ok200("Cache-Control: max-age=60", "Age: 50"), origins: 1},
			{advance: 5 * time.Second, origins: 1, cs: "hit", age: "55"},
			{advance: 6 * time.Second, origin: ok200(), origins: 2},
		}},
		{"Age greater than max-age", []step{
			{origin: ok200("Cache-Control: max-age=60", "Age: 61"), origins: 1},
			{origin: ok200(), origins: 2},
		}},
		{"non-numeric Age is ignored", []step{
			{origin: ok200("Cache-Control: max-age=60", "Age: old"), origins: 1},
			{origins: 1, cs: "hit", age: "0"},
		}},
		{"Date is kept, not regenerated", []step{
			{origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{advance: 10 * time.Second, origins: 1, cs: "hit", has: []string{"Date: {now-10}"}},
		}},
	})
}

// RFC 9111 §5.2.1: request directives.
func TestRequestDirectives(t *testing.T) {
	run(t, []scenario{
		{"no-cache validates", []step{
			{origin: ok200("Cache-Control: max-age=60", `ETag: "v1"`), origins: 1},
			{req: []string{"Cache-Control: no-cache"}, origin: answer{status: 304, fields: []string{`ETag: "v1"`}}, origins: 2,
				cs: "fwd=request; fwd-status=304", body: "body-1", saw: []string{`If-None-Match: "v1"`}},
		}},
		{"Pragma: no-cache validates", []step{
			{origin: ok200("Cache-Control: max-age=60", `ETag: "v1"`), origins: 1},
			{req: []string{"Pragma: no-cache"}, origin: answer{status: 304, fields: []string{`ETag: "v1"`}}, origins: 2, body: "body-1"},
		}},
		{"max-age=0 validates", []step{
			{origin: ok200("Cache-Control: max-age=60", `ETag: "v1"`), origins: 1},
			{req: []string{"Cache-Control: max-age=0"}, origin: answer{status: 304}, origins: 2, body: "body-1", saw: []string{`If-None-Match: "v1"`}},
		}},
		{"max-age older than the response", []step{
			{origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{advance: 20 * time.Second, req: []string{"Cache-Control: max-age=10"}, origin: ok200("Cache-Control: max-age=60"), origins: 2},
			{advance: 5 * time.Second, req: []string{"Cache-Control: max-age=10"}, origins: 2, cs: "hit"},
		}},
		{"min-fresh", []step{
			{origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{advance: 30 * time.Second, req: []string{"Cache-Control: min-fresh=40"}, origin: ok200("Cache-Control: max-age=60"), origins: 2},
			{req: []string{"Cache-Control: min-fresh=40"}, origins: 2, cs: "hit"},
		}},
		{"max-stale", []step{
			{origin: ok200("Cache-Control: max-age=10"), origins: 1},
			{advance: 15 * time.Second, req: []string{"Cache-Control: max-stale=10"}, origins: 1, cs: "hit; ttl=-5", age: "15"},
			{req: []string{"Cache-Control: max-stale=2"}, origin: ok200("Cache-Control: max-age=10"), origins: 2},
		}},
		{"max-stale refused by must-revalidate", []step{
			{origin: ok200("Cache-Control: max-age=10, must-revalidate"), origins: 1},
			{advance: 15 * time.Second, req: []string{"Cache-Control: max-stale"}, origin: ok200(), origins: 2},
		}},
		{"only-if-cached miss: 504", []step{
			{req: []string{"Cache-Control: only-if-cached"}, status: 504, origins: 0, cs: "fwd=miss"},
		}},
		{"only-if-cached hit", []step{
			{origin: ok200("Cache-Control: max-age=60"), origins: 1},
			{req: []string{"Cache-Control: only-if-cached"}, origins: 1, cs: "hit"},
			{advance: time.Hour, req: []string{"Cache-Control: only-if-cached"}, status: 504, origins: 1},
		}},
	})
}

// RFC 9111 §4.3: validation.
func TestValidation(t *testing.T) {
	run(t, []scenario{
		{"ETag: If-None-Match, 304 serves the stored body", []step{
			{origin: ok200("Cache-Control: max-age=10", `ETag: "v1"`, "X-A: 1"), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 304, fields: []string{`ETag: "v1"`, "Cache-Control: max-age=10", "X-A: 2"}},
				origins: 2, body: "body-1", cs: "fwd=stale; fwd-status=304; ttl=10", age: "0",
				saw: []string{`If-None-Match: "v1"`}, has: []string{"X-A: 2"}},
			{advance: 5 * time.Second, origins: 2, cs: "hit", body: "body-1", has: []string{"X-A: 2"}},
		}},
		{"Last-Modified: If-Modified-Since", []step{
			{origin: ok200("Cache-Control: max-age=10", "Last-Modified: {now-3600}"), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 304}, origins: 2, body: "body-1", saw: []string{"If-Modified-Since: {now-3620}", "If-None-Match: -"}},
		}},
		{"304 keeps fields it omits and never updates Content-Length", []step{
			{origin: ok200("Cache-Control: max-age=10", `ETag: "v1"`, "X-Keep: k"), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 304, fields: []string{`ETag: "v1"`, "Content-Length: 99"}}, origins: 2,
				body: "body-1", has: []string{"X-Keep: k", "Content-Length: 6"}},
		}},
		{"200 during validation replaces the entry", []step{
			{origin: ok200("Cache-Control: max-age=10", `ETag: "v1"`), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 200, fields: []string{"Cache-Control: max-age=60", `ETag: "v2"`}, body: "body-2"}, origins: 2, body: "body-2", cs: "fwd=stale; fwd-status=200; stored"},
			{origins: 2, body: "body-2", cs: "hit"},
		}},
		{"no-cache: every reuse validates", []step{
			{origin: ok200("Cache-Control: no-cache, max-age=60", `ETag: "v1"`), origins: 1},
			{origin: answer{status: 304}, origins: 2, body: "body-1", saw: []string{`If-None-Match: "v1"`}},
			{origin: answer{status: 304}, origins: 3, body: "body-1"},
		}},
		{"qualified no-cache: fields withheld from unvalidated reuse", []step{
			{origin: ok200(`Cache-Control: no-cache="X-Secret", max-age=60`, "X-Secret: s", "X-Open: o"), origins: 1},
			{origins: 1, cs: "hit", has: []string{"X-Secret: -", "X-Open: o"}},
		}},
		{"must-revalidate: validated when stale", []step{
			{origin: ok200("Cache-Control: max-age=10, must-revalidate", `ETag: "v1"`), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 304}, origins: 2, saw: []string{`If-None-Match: "v1"`}},
		}},
		{"client If-None-Match ignored for a stored 404 (RFC 9110 §13.2.1: not a 2xx)", []step{
			{origin: answer{status: 404, fields: []string{"Cache-Control: max-age=60", `ETag: "nf"`}, body: "not here"}, status: 404, origins: 1},
			{req: []string{`If-None-Match: "nf"`}, status: 404, origins: 1, cs: "hit", body: "not here"},
		}},
		{"client If-None-Match answered from a fresh entry", []step{
			{origin: ok200("Cache-Control: max-age=60", `ETag: "v1"`), origins: 1},
			{req: []string{`If-None-Match: "v1"`}, status: 304, origins: 1, cs: "hit", body: "<empty>", has: []string{`ETag: "v1"`}},
			{req: []string{`If-None-Match: "other"`}, origins: 1, cs: "hit", body: "body-1"},
		}},
		{"client If-Modified-Since answered from a fresh entry", []step{
			{origin: ok200("Cache-Control: max-age=60", "Last-Modified: {now-3600}"), origins: 1},
			{req: []string{"If-Modified-Since: {now-100}"}, status: 304, origins: 1, cs: "hit"},
			{req: []string{"If-Modified-Since: {now-7200}"}, origins: 1, cs: "hit", body: "body-1"},
		}},
		{"If-None-Match takes precedence over If-Modified-Since", []step{
			{origin: ok200("Cache-Control: max-age=60", `ETag: "v1"`, "Last-Modified: {now-3600}"), origins: 1},
			{req: []string{`If-None-Match: "other"`, "If-Modified-Since: {now}"}, origins: 1, body: "body-1"},
		}},
		{"client conditional on a stale entry: 304 to the client after the origin's 304", []step{
			{origin: ok200("Cache-Control: max-age=10", `ETag: "v1"`), origins: 1},
			{advance: 20 * time.Second, req: []string{`If-None-Match: "v1"`}, origin: answer{status: 304}, status: 304, origins: 2, saw: []string{`If-None-Match: "v1"`}},
		}},
		{"Vary fields are sent when validating", []step{
			{req: []string{"Abc: 123"}, origin: ok200("Cache-Control: max-age=10", `ETag: "v1"`, "Vary: Abc"), origins: 1},
			{advance: 20 * time.Second, req: []string{"Abc: 123"}, origin: answer{status: 304}, origins: 2, saw: []string{"Abc: 123", `If-None-Match: "v1"`}},
		}},
	})
}

// RFC 9111 §4.1: Vary.
func TestVary(t *testing.T) {
	run(t, []scenario{
		{"matching and not", []step{
			{req: []string{"Accept-Language: en"}, origin: ok200("Cache-Control: max-age=60", "Vary: Accept-Language"), origins: 1},
			{req: []string{"Accept-Language: en"}, origins: 1, cs: "hit"},
			{req: []string{"Accept-Language: fr"}, origin: answer{status: 200, fields: []string{"Cache-Control: max-age=60", "Vary: Accept-Language"}, body: "fr"}, origins: 2, cs: "fwd=vary-miss", body: "fr"},
			{req: []string{"Accept-Language: fr"}, origins: 2, cs: "hit", body: "fr"},
			{req: []string{"Accept-Language: en"}, origins: 2, cs: "hit", body: "body-1"},
		}},
		{"absent in the request", []step{
			{req: []string{"Foo: 1"}, origin: ok200("Cache-Control: max-age=60", "Vary: Foo"), origins: 1},
			{origin: ok200("Cache-Control: max-age=60", "Vary: Foo"), origins: 2, cs: "fwd=vary-miss"},
		}},
		{"absent in the stored request", []step{
			{origin: ok200("Cache-Control: max-age=60", "Vary: Foo"), origins: 1},
			{req: []string{"Foo: 1"}, origin: ok200("Cache-Control: max-age=60", "Vary: Foo"), origins: 2},
			{origins: 2, cs: "hit"},
		}},
		{"normalised values", []step{
			{req: []string{"Accept: a, b"}, origin: ok200("Cache-Control: max-age=60", "Vary: Accept"), origins: 1},
			{req: []string{"Accept: a,b"}, origins: 1, cs: "hit"},
		}},
		{"three fields in any order", []step{
			{req: []string{"A: 1", "B: 2", "C: 3"}, origin: ok200("Cache-Control: max-age=60", "Vary: C, A, B"), origins: 1},
			{req: []string{"C: 3", "B: 2", "A: 1"}, origins: 1, cs: "hit"},
			{req: []string{"C: 3", "B: 2", "A: 9"}, origin: ok200("Cache-Control: max-age=60", "Vary: C, A, B"), origins: 2},
		}},
		{"Vary: * is never reused", []step{
			{origin: ok200("Cache-Control: max-age=60", "Vary: *"), origins: 1},
			{origin: ok200("Cache-Control: max-age=60", "Vary: *"), origins: 2},
		}},
	})
}

// varied is a fresh response that varies on Accept-Language.
func varied(body string) answer {
	return answer{status: 200, fields: []string{"Cache-Control: max-age=600", "Vary: Accept-Language"}, body: body}
}

// RFC 9111 §4.4: invalidation by unsafe methods.
func TestInvalidation(t *testing.T) {
	fresh := ok200("Cache-Control: max-age=600")
	run(t, []scenario{
		{"POST invalidates its target", []step{
			{origin: fresh, origins: 1},
			{origins: 1, cs: "hit"},
			{method: "POST", origin: answer{status: 200}, origins: 2, cs: "fwd=method"},
			{origin: fresh, origins: 3, cs: "fwd=uri-miss"},
		}},
		{"PUT and DELETE too", []step{
			{origin: fresh, origins: 1},
			{method: "PUT", origin: answer{status: 204}, status: 204, origins: 2},
			{origin: fresh, origins: 3},
			{method: "DELETE", origin: answer{status: 200}, origins: 4},
			{origin: fresh, origins: 5, cs: "fwd=uri-miss"},
		}},
		{"an error does not invalidate", []step{
			{origin: fresh, origins: 1},
			{method: "POST", origin: answer{status: 500}, status: 500, origins: 2},
			{origins: 2, cs: "hit"},
		}},
		{"same-origin Location and Content-Location", []step{
			{path: "/a", origin: fresh, origins: 1},
			{path: "/b", origin: fresh, origins: 2},
			{method: "POST", path: "/form", origin: answer{status: 201, fields: []string{"Location: /a", "Content-Location: /b"}}, status: 201, origins: 3},
			{path: "/a", origin: fresh, origins: 4, cs: "fwd=uri-miss"},
			{path: "/b", origin: fresh, origins: 5, cs: "fwd=uri-miss"},
		}},
		{"every variant goes: an old one never comes back under a new marker", []step{
			{req: []string{"Accept-Language: en"}, origin: varied("en-old"), origins: 1},
			{req: []string{"Accept-Language: fr"}, origin: varied("fr-old"), origins: 2},
			{method: "POST", origin: answer{status: 200}, origins: 3, cs: "fwd=method"},
			// fr is fetched anew, which stores a marker with the same Vary names again
			{req: []string{"Accept-Language: fr"}, origin: varied("fr-new"), origins: 4, body: "fr-new"},
			{req: []string{"Accept-Language: fr"}, origins: 4, body: "fr-new", cs: "hit"},
			// en must not be served from before the POST
			{req: []string{"Accept-Language: en"}, origin: varied("en-new"), origins: 5, body: "en-new", cs: "fwd=vary-miss"},
			{req: []string{"Accept-Language: en"}, origins: 5, body: "en-new", cs: "hit"},
			{req: []string{"Accept-Language: fr"}, origins: 5, body: "fr-new", cs: "hit"},
		}},
		{"other-origin Location is left alone", []step{
			{path: "/a", origin: fresh, origins: 1},
			{method: "POST", path: "/form", origin: answer{status: 201, fields: []string{"Location: http://elsewhere.test/a"}}, status: 201, origins: 2},
			{path: "/a", origins: 2, cs: "hit"},
		}},
	})
}

// HEAD from a stored GET (§4) and ranges from a complete stored response.
func TestHeadAndRange(t *testing.T) {
	body := "0123456789"
	stored := answer{status: 200, fields: []string{"Cache-Control: max-age=600", `ETag: "r1"`}, body: body}
	run(t, []scenario{
		{"HEAD from a stored GET", []step{
			{origin: stored, origins: 1},
			{method: "HEAD", origins: 1, cs: "hit", body: "<empty>", has: []string{"Content-Length: 10"}},
		}},
		{"single range", []step{
			{origin: stored, origins: 1},
			{req: []string{"Range: bytes=2-4"}, status: 206, origins: 1, cs: "hit", body: "234", has: []string{"Content-Range: bytes 2-4/10"}},
			{req: []string{"Range: bytes=-3"}, status: 206, origins: 1, body: "789"},
		}},
		{"unsatisfiable range", []step{
			{origin: stored, origins: 1},
			{req: []string{"Range: bytes=20-"}, status: 416, origins: 1, has: []string{"Content-Range: bytes */10"}},
		}},
		{"If-Range with another tag gets the whole", []step{
			{origin: stored, origins: 1},
			{req: []string{"Range: bytes=2-4", `If-Range: "other"`}, origins: 1, body: body},
			{req: []string{"Range: bytes=2-4", `If-Range: "r1"`}, status: 206, origins: 1, body: "234"},
		}},
		{"too many ranges get the whole", []step{
			{origin: stored, origins: 1},
			{req: []string{"Range: bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,0-0,1-1,2-2,3-3,4-4,5-5,6-6"}, origins: 1, body: body},
		}},
	})
}

// Several ranges of a complete stored response are answered 206 with a
// multipart/byteranges body (RFC 9110 §14.6), each part with the stored
// Content-Type and its Content-Range; HEAD gets the same length without the body.
func TestMultipartRanges(t *testing.T) {
	e := newEnv(t, nil)
	body := "0123456789abcdefghij"
	stored := answer{status: 200, fields: []string{"Cache-Control: max-age=600", "Content-Type: text/plain"}, body: body}
	e.do("GET", "/m", stored)
	for _, method := range []string{"GET", "HEAD"} {
		r := e.do(method, "/m", stored, "Range: bytes=1-3, -2, 10-")
		mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
		if r.status != 206 || err != nil || mt != "multipart/byteranges" || r.header.Get("Content-Range") != "" ||
			!strings.Contains(r.header.Get("Cache-Status"), "hit") {
			t.Fatalf("%s: %d, Content-Type %q (%v), Content-Range %q, Cache-Status %q", method, r.status,
				r.header.Get("Content-Type"), err, r.header.Get("Content-Range"), r.header.Get("Cache-Status"))
		}
		if method == "HEAD" {
			if r.body != "" || r.header.Get("Content-Length") == "" {
				t.Errorf("HEAD: body %q, Content-Length %q", r.body, r.header.Get("Content-Length"))
			}
			continue
		}
		if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(r.body)) {
			t.Errorf("Content-Length %s for a %d-byte body", got, len(r.body))
		}
		mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
		var got []string
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("part %d: %v\n%q", len(got), err, r.body)
			}
			b, _ := io.ReadAll(part)
			got = append(got, part.Header.Get("Content-Type")+"|"+part.Header.Get("Content-Range")+"|"+string(b))
		}
		want := []string{"text/plain|bytes 1-3/20|123", "text/plain|bytes 18-19/20|ij", "text/plain|bytes 10-19/20|abcdefghij"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("parts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if n := e.originCount(); n != 1 {
		t.Errorf("origin saw %d requests", n)
	}
}

// A 200 answer to a HEAD the cache forwards freshens the stored GET when its
// validators and Content-Length agree with it, and makes it stale otherwise (RFC
// 9111 §4.3.5).
func TestHeadFreshens(t *testing.T) {
	get := answer{status: 200, fields: []string{"Cache-Control: max-age=10", `ETag: "v1"`, "X-Stored: kept"}, body: "body-1"}
	head := func(etag, body string, fields ...string) answer {
		return answer{status: 200, fields: append([]string{"Cache-Control: max-age=600", "ETag: " + etag}, fields...), body: body}
	}
	run(t, []scenario{
		{"matching HEAD freshens", []step{
			{origin: get, origins: 1},
			{advance: 20 * time.Second, method: "HEAD", origin: head(`"v1"`, "body-1", "X-Fresh: yes"), origins: 2,
				cs: "fwd=stale; fwd-status=200", body: "<empty>", saw: []string{`If-None-Match: "v1"`},
				has: []string{"X-Fresh: yes", "X-Stored: kept", `ETag: "v1"`, "Content-Length: 6"}},
			{origins: 2, cs: "hit", body: "body-1", has: []string{"X-Fresh: yes", "Cache-Control: max-age=600"}},
		}},
		{"HEAD with another ETag makes it stale", []step{
			{origin: get, origins: 1},
			{advance: 20 * time.Second, method: "HEAD", origin: head(`"v2"`, "body-2"), origins: 2},
			{origin: ok200("Cache-Control: max-age=600"), origins: 3, cs: "fwd=uri-miss", body: "body-1"},
		}},
		{"HEAD with another Content-Length makes it stale", []step{
			{origin: get, origins: 1},
			{advance: 20 * time.Second, method: "HEAD", origin: head(`"v1"`, "a longer body"), origins: 2},
			{origin: ok200("Cache-Control: max-age=600"), origins: 3, cs: "fwd=uri-miss"},
		}},
	})
}

// RFC 5861: stale-while-revalidate and stale-if-error; RFC 9111 §4.2.4.
func TestServingStale(t *testing.T) {
	run(t, []scenario{
		{"stale-if-error on a 500", []step{
			{origin: ok200("Cache-Control: max-age=10, stale-if-error=60"), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 500}, origins: 2, body: "body-1", cs: "fwd=stale; fwd-status=500; ttl=-10; detail=stale-if-error"},
		}},
		{"past the stale-if-error window", []step{
			{origin: ok200("Cache-Control: max-age=10, stale-if-error=5"), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 500}, status: 500, origins: 2},
		}},
		{"500 without stale-if-error", []step{
			{origin: ok200("Cache-Control: max-age=10"), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 503}, status: 503, origins: 2},
		}},
		{"request stale-if-error", []step{
			{origin: ok200("Cache-Control: max-age=10"), origins: 1},
			{advance: 20 * time.Second, req: []string{"Cache-Control: stale-if-error=60"}, origin: answer{status: 502}, origins: 2, body: "body-1"},
		}},
		{"must-revalidate refuses stale-if-error", []step{
			{origin: ok200("Cache-Control: max-age=10, must-revalidate, stale-if-error=60"), origins: 1},
			{advance: 20 * time.Second, origin: answer{status: 500}, status: 500, origins: 2},
		}},
	})
}

// RFC 9213: CDN-Cache-Control is obeyed instead of Cache-Control.
func TestTargeted(t *testing.T) {
	run(t, []scenario{
		{"CDN-Cache-Control max-age over Cache-Control no-store", []step{
			{origin: ok200("CDN-Cache-Control: max-age=60", "Cache-Control: no-store"), origins: 1},
			{origins: 1, cs: "hit", has: []string{"Cache-Control: no-store", "CDN-Cache-Control: max-age=60"}},
		}},
		{"CDN-Cache-Control shorter than Cache-Control", []step{
			{origin: ok200("CDN-Cache-Control: max-age=5", "Cache-Control: max-age=3600"), origins: 1},
			{advance: 10 * time.Second, origin: ok200(), origins: 2},
		}},
		{"CDN-Cache-Control private", []step{
			{origin: ok200("CDN-Cache-Control: private", "Cache-Control: max-age=3600"), origins: 1},
			{origin: ok200(), origins: 2},
		}},
		{"invalid CDN-Cache-Control is ignored", []step{
			{origin: ok200(`CDN-Cache-Control: max-age="60"`, "Cache-Control: max-age=3600"), origins: 1},
			{advance: 100 * time.Second, origins: 1, cs: "hit"},
		}},
	})
}

// Answers without a body from the cache (304 to a conditional request, 416) keep the
// client's connection: several of them and a full answer on one connection, read
// with net/http's parser from a raw socket (net/http's client would silently retry
// on a closed connection and hide a close).
func TestBodilessAnswersKeepConnection(t *testing.T) {
	e := newEnv(t, nil)
	e.do("GET", "/k", answer{status: 200, fields: []string{"Cache-Control: max-age=600", `ETag: "k1"`}, body: "kept"})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.proxy, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i, tc := range []struct {
		fields string
		status int
		body   string
	}{
		{"If-None-Match: \"k1\"\r\n", 304, ""},
		{"Range: bytes=50-\r\n", 416, ""},
		{"If-None-Match: \"k1\"\r\n", 304, ""},
		{"", 200, "kept"},
	} {
		fmt.Fprintf(c, "GET /k HTTP/1.1\r\nHost: %s\r\n%s\r\n", strings.TrimPrefix(e.proxy, "http://"), tc.fields)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on the kept connection: %v", i+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status || string(b) != tc.body || resp.Close {
			t.Fatalf("request %d: %d %q %v (close %v), want %d %q", i+1, resp.StatusCode, b, err, resp.Close, tc.status, tc.body)
		}
	}
}

// TestPurgeVariants: PURGE and Cache.Purge remove every variant of a URL, not only
// its Vary marker: after a purge no variant stored before it is served again.
func TestPurgeVariants(t *testing.T) {
	for _, how := range []string{"PURGE", "Cache.Purge"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, nil, func(c *cache.Cache) { c.AllowPurge = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
			for _, lang := range []string{"en", "fr"} {
				if r := e.do("GET", "/p", varied(lang+"-old"), "Accept-Language: "+lang); r.body != lang+"-old" {
					t.Fatalf("%s: %q", lang, r.body)
				}
			}
			if how == "PURGE" {
				if r := e.do("PURGE", "/p", answer{}); r.status != 200 {
					t.Fatalf("PURGE: %d", r.status)
				}
			} else if found, err := e.cache.Purge(context.Background(), e.proxy+"/p"); !found || err != nil {
				t.Fatalf("Purge: %v %v", found, err)
			}
			if r := e.do("GET", "/p", varied("fr-new"), "Accept-Language: fr"); r.body != "fr-new" {
				t.Fatalf("fr after the purge: %q", r.body)
			}
			if r := e.do("GET", "/p", varied("en-new"), "Accept-Language: en"); r.body != "en-new" {
				t.Errorf("en after the purge and a new fr: %q (%s), want a new fetch", r.body, r.header.Get("Cache-Status"))
			}
			if n := e.originCount(); n != 4 {
				t.Errorf("origin saw %d requests, want 4", n)
			}
		})
	}
}
