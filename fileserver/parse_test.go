package fileserver

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/hop-http/hop/wire"
)

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		in     string
		rel    string
		slash  bool
		status int
	}{
		{"/", ".", true, 0},
		{"/a/b.txt", "a/b.txt", false, 0},
		{"/a/b/", "a/b", true, 0},
		{"//a///b", "a/b", false, 0},
		{"/a/./b", "a/b", false, 0},
		{"/a%20b", "a b", false, 0},
		{"/a%2fb", "a/b", false, 0},
		{"/%41", "A", false, 0},
		{"/.", ".", true, 0},
		{"/..", "", false, 403},
		{"/a/../b", "", false, 403},
		{"/%2e%2e/x", "", false, 403},
		{"/%2E%2e%2Fx", "", false, 403},
		{"/a%2f..%2fb", "", false, 403},
		{"/a%00b", "", false, 400},
		{"/a%0d%0ab", "", false, 400},
		{"/a%7f", "", false, 400},
		{"/a\x01b", "", false, 400},
		{"/a\\b", "", false, 400},
		{"/a%5cb", "", false, 400},
		{"/a%5Cb", "", false, 400},
		{"/a%0", "", false, 400},
		{"/a%g0", "", false, 400},
		{"a", "", false, 400},
		{"", "", false, 400},
		{"*", "", false, 400},
	} {
		p, st := cleanPath([]byte(tc.in))
		if st != tc.status || (st == 0 && (p.rel != tc.rel || p.slash != tc.slash)) {
			t.Errorf("cleanPath(%q) = %+v, %d; want {%s %v}, %d", tc.in, p, st, tc.rel, tc.slash, tc.status)
		}
	}
}

func TestAcceptEncoding(t *testing.T) {
	for _, tc := range []struct {
		in      string
		onFly   coding
		precomp []coding // precompressed codings preferred to identity, best first
	}{
		{"", codingIdentity, nil},
		{"gzip", codingGzip, []coding{codingGzip}},
		{"GZIP", codingGzip, []coding{codingGzip}},
		{"x-gzip", codingGzip, []coding{codingGzip}},
		{"gzip, deflate, br, zstd", codingZstd, []coding{codingBr, codingZstd, codingGzip}},
		{"gzip;q=1.0, zstd;q=0.9", codingGzip, []coding{codingGzip, codingZstd}},
		{"zstd;q=0", codingIdentity, nil},
		{"*", codingZstd, []coding{codingBr, codingZstd, codingGzip}},
		{"*;q=0", codingIdentity, nil},
		{"*, gzip;q=0", codingZstd, []coding{codingBr, codingZstd}},
		// An explicit identity preference rules out the codings it outranks, for
		// siblings as for on-the-fly compression.
		{"identity;q=1, gzip;q=0.5", codingIdentity, nil},
		{"identity, gzip;q=0.5", codingIdentity, nil},
		{"identity;q=0.5, br, gzip;q=0.3", codingIdentity, []coding{codingBr}},
		{"identity;q=0.5, gzip;q=0.5", codingGzip, []coding{codingGzip}}, // a tie goes to the coding
		{"identity;q=0, gzip;q=0.1", codingGzip, []coding{codingGzip}},
		{"*;q=0.5, gzip", codingGzip, []coding{codingGzip, codingBr, codingZstd}},
		{"*;q=0.5, identity;q=0.8, br", codingIdentity, []coding{codingBr}},
		{"gzip;q=0.001", codingGzip, []coding{codingGzip}},
		{"gzip;q=2", codingIdentity, nil},
		{"gzip;q=abc", codingIdentity, nil},
		{"gzip;level=1;q=0.5, zstd;q=0.4", codingGzip, []coding{codingGzip, codingZstd}},
		{"br", codingIdentity, []coding{codingBr}},
		{"br;q=0.2, gzip", codingGzip, []coding{codingGzip, codingBr}},
	} {
		var h wire.Header
		if tc.in != "" {
			h.Add("Accept-Encoding", tc.in)
		}
		a := parseAcceptEncoding(&h)
		if got := a.best(onTheFlyCodings); got != tc.onFly {
			t.Errorf("%q: on the fly %v, want %v", tc.in, got, tc.onFly)
		}
		if got := a.preferred(nil, precompressedCodings); !reflect.DeepEqual(got, tc.precomp) {
			t.Errorf("%q: precompressed %v, want %v", tc.in, got, tc.precomp)
		}
	}
}

func TestPrefersJSON(t *testing.T) {
	for in, want := range map[string]bool{
		"":                                  false,
		"*/*":                               false,
		"application/json":                  true,
		"application/*":                     true,
		"text/html, application/json":       false,
		"text/html;q=0.5, application/json": true,
		"application/json;q=0, */*":         false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false,
		"application/json, text/plain, */*":                               true,
	} {
		var h wire.Header
		if in != "" {
			h.Add("Accept", in)
		}
		if got := prefersJSON(&h); got != want {
			t.Errorf("prefersJSON(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.html": "text/html; charset=utf-8", "A.HTML": "text/html; charset=utf-8",
		"a.js": "text/javascript; charset=utf-8", "a.css": "text/css; charset=utf-8",
		"a.svg": "image/svg+xml", "a.wasm": "application/wasm", "a.png": "image/png",
		"a.json": "application/json", "a.woff2": "font/woff2",
	} {
		if got := contentType(name, nil, 0); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8": true, "application/json": true, "image/svg+xml": true,
		"application/ld+json": true, "application/wasm": true, "image/png": false,
		"font/woff2": false, "application/octet-stream": false, "video/mp4": false,
	} {
		if got := compressible(ct); got != want {
			t.Errorf("compressible(%q) = %v", ct, got)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		200 << 20: "200 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBrotliStoredHelper(t *testing.T) {
	// The header bytes of the helper's stream, checked by hand against RFC 7932.
	got := fmt.Sprintf("% x", brotliStored([]byte("ab")))
	if got != "10 00 10 61 62 03" {
		t.Errorf("brotliStored(ab) = %s", got)
	}
}
