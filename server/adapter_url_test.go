package server

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/hop-http/hop/wire"
)

// urlCorpus are request targets for parseRequestURI: ones its fast path splits, and
// ones it leaves to url.ParseRequestURI (escapes, characters the URL package escapes,
// absolute form, errors).
var urlCorpus = []string{
	"/", "/plaintext", "/a/b/c.html", "/a?b=c", "/a?b=c&d=e;f", "/?", "/a?", "/a??", "/a?b?",
	"/a?b?c", "//double", "/x:y@z", "/$&+,;=", "/-_.~", "/caf%C3%A9", "/a%2Fb", "/a b",
	"/a!b", "/a*b", "/(x)", "/'q'", "/a#frag", "/a?x#y", "/[v]", "/\x7f", "/a?\x01",
	"*", "http://example.com/a?b", "https://h:8080", "example.com", "", "/%zz", "/a\\b",
	"/\u00e9", "/a?\u00e9",
}

// TestParseRequestURIMatchesNetURL: the adapter's target parsing gives the URL (or the
// error) url.ParseRequestURI gives.
func TestParseRequestURIMatchesNetURL(t *testing.T) {
	for _, target := range urlCorpus {
		checkParseRequestURI(t, target)
	}
}

func checkParseRequestURI(t *testing.T, target string) {
	t.Helper()
	want, werr := url.ParseRequestURI(target)
	var got url.URL
	gerr := parseRequestURI(target, &got)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%q: error %v, url.ParseRequestURI's %v", target, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(&got, want) {
		t.Fatalf("%q: %#v, url.ParseRequestURI gives %#v", target, got, *want)
	}
}

func FuzzParseRequestURI(f *testing.F) {
	for _, target := range urlCorpus {
		f.Add(target)
	}
	f.Fuzz(func(t *testing.T, target string) { checkParseRequestURI(t, target) })
}

// TestToHTTPRequestAllocs: converting the plaintext request to an *http.Request costs
// four allocations: the request (WithContext), its Header map (two) and the adapterReq
// block with the context, URL, value slices and strings.
func TestToHTTPRequestAllocs(t *testing.T) {
	const req = "GET /plaintext?x=1 HTTP/1.1\r\nHost: localhost\r\n" +
		"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n" +
		"Connection: keep-alive\r\n\r\n"
	c := &conn{remoteStr: "192.0.2.1:1234"}
	var p wire.Parser
	if _, err := p.ParseRequest([]byte(req), &c.req.Request); err != nil {
		t.Fatal(err)
	}
	c.req.c = c
	allocs := testing.AllocsPerRun(200, func() {
		hr, ar, err := toHTTPRequest(&c.req)
		if err != nil || hr.URL.Path != "/plaintext" || hr.URL.RawQuery != "x=1" || hr.Host != "localhost" ||
			hr.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("%v: %+v", err, hr)
		}
		ar.ctx.finish()
	})
	if allocs > 4 {
		t.Errorf("%v allocations, want at most 4", allocs)
	}
}
