package fileserver

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/wire"
)

// check is one expectation on a response.
type check func(t *testing.T, r rawResponse)

func status(code int) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		if r.StatusCode != code {
			t.Errorf("status %d, want %d (body %q)", r.StatusCode, code, trunc(r.body))
		}
	}
}

func header(name, want string) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		got, ok := r.Header[http.CanonicalHeaderKey(name)]
		switch {
		case want == "" && ok:
			t.Errorf("%s: %q, want none", name, got)
		case want != "" && (len(got) != 1 || got[0] != want):
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func hasHeader(name string) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		if r.Header.Get(name) == "" {
			t.Errorf("no %s field", name)
		}
	}
}

func body(want string) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		if string(r.body) != want {
			t.Errorf("body %q, want %q", trunc(r.body), trunc([]byte(want)))
		}
	}
}

func bodyBytes(want []byte) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		if !bytes.Equal(r.body, want) {
			t.Errorf("body of %d bytes differs from the %d expected", len(r.body), len(want))
		}
	}
}

func bodyContains(s string) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		if !bytes.Contains(r.body, []byte(s)) {
			t.Errorf("body %q lacks %q", trunc(r.body), s)
		}
	}
}

func bodyLacks(s string) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		if bytes.Contains(r.body, []byte(s)) {
			t.Errorf("body contains %q", s)
		}
	}
}

func decoded(enc string, want []byte) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		var got []byte
		switch enc {
		case "gzip":
			got = gunzip(t, r.body)
		case "zstd":
			got = unzstd(t, r.body)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("decoded %s body of %d bytes differs from the %d expected", enc, len(got), len(want))
		}
	}
}

// plainError checks an error answer: its status, and a plain-text body readable as it
// is, not labelled with any content coding.
func plainError(code int) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		status(code)(t, r)
		header("Content-Encoding", "")(t, r)
		header("Content-Type", "text/plain; charset=utf-8")(t, r)
		body(strconv.Itoa(code)+" "+wire.StatusText(code)+"\n")(t, r)
	}
}

// multipartBody checks a multipart/byteranges body against data: one part per span
// (first and last byte, inclusive), in order, each with its Content-Range and bytes,
// and nothing after the last.
func multipartBody(data []byte, spans ...[2]int) check {
	return func(t *testing.T, r rawResponse) {
		t.Helper()
		if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
			t.Errorf("Content-Length %s for a body of %d", cl, len(r.body))
		}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Errorf("Content-Type %q: %v", r.Header.Get("Content-Type"), err)
			return
		}
		mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
		for i, sp := range spans {
			p, err := mr.NextPart()
			if err != nil {
				t.Errorf("part %d: %v", i, err)
				return
			}
			wantCR := "bytes " + strconv.Itoa(sp[0]) + "-" + strconv.Itoa(sp[1]) + "/" + strconv.Itoa(len(data))
			if cr := p.Header.Get("Content-Range"); cr != wantCR {
				t.Errorf("part %d Content-Range %q, want %q", i, cr, wantCR)
			}
			b, err := io.ReadAll(p)
			if err != nil {
				t.Errorf("part %d: %v", i, err)
				return
			}
			if !bytes.Equal(b, data[sp[0]:sp[1]+1]) {
				t.Errorf("part %d: %d bytes differ from the file's %d", i, len(b), sp[1]-sp[0]+1)
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Errorf("after the last part: %v, want EOF", err)
		}
	}
}

func trunc(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

type testCase struct {
	name    string
	method  string // default GET
	target  string
	headers []string
	checks  []check
}

func runCases(t *testing.T, addr string, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.method
			if m == "" {
				m = "GET"
			}
			r := get(t, addr, m, tc.target, tc.headers...)
			for _, c := range tc.checks {
				c(t, r)
			}
		})
	}
}

func TestServeBasics(t *testing.T) {
	for _, m := range openModes {
		t.Run(m.name, func(t *testing.T) { testServeBasics(t, m.portable) })
	}
}

func testServeBasics(t *testing.T, portable bool) {
	tr := makeTree(t)
	addr := startFileServerMode(t, tr.root, Options{}, portable)
	runCases(t, addr, []testCase{
		{name: "file", target: "/hello.txt", checks: []check{status(200), body(helloBody),
			header("Content-Type", "text/plain; charset=utf-8"), header("Content-Length", "13"),
			header("Accept-Ranges", "bytes"), header("Vary", "Accept-Encoding"),
			hasHeader("ETag"), hasHeader("Last-Modified"), header("Content-Encoding", "")}},
		{name: "head", method: "HEAD", target: "/hello.txt", checks: []check{status(200), body(""),
			header("Content-Length", "13"), hasHeader("ETag")}},
		{name: "root index", target: "/", checks: []check{status(200), bodyContains("root index"),
			header("Content-Type", "text/html; charset=utf-8")}},
		{name: "dir redirect", target: "/docs", checks: []check{status(301), header("Location", "/docs/")}},
		{name: "dir redirect keeps query", target: "/docs?a=1&b=2", checks: []check{status(301),
			header("Location", "/docs/?a=1&b=2")}},
		{name: "redirect never protocol-relative", target: "//docs", checks: []check{status(301),
			header("Location", "/docs/")}},
		{name: "dir index", target: "/docs/", checks: []check{status(200), body("docs index\n")}},
		{name: "encoded name", target: "/sub/c%20dir/x.txt", checks: []check{status(200), body("x\n")}},
		{name: "sniffed text", target: "/noext", checks: []check{status(200),
			header("Content-Type", "text/plain; charset=utf-8")}},
		{name: "sniffed png", target: "/picture", checks: []check{status(200), header("Content-Type", "image/png"),
			header("Vary", "")}},
		{name: "binary by extension", target: "/data.bin", checks: []check{status(200), bodyBytes(tr.data),
			header("Content-Length", strconv.Itoa(len(tr.data))), header("Vary", "")}},
		{name: "missing", target: "/nope.txt", checks: []check{status(404)}},
		{name: "file as dir", target: "/hello.txt/", checks: []check{status(404)}},
		{name: "below a file", target: "/hello.txt/x", checks: []check{status(404)}},
		{name: "post", method: "POST", target: "/hello.txt", headers: []string{"Content-Length: 0"},
			checks: []check{status(405), header("Allow", "GET, HEAD, OPTIONS")}},
		{name: "delete", method: "DELETE", target: "/hello.txt", checks: []check{status(405)}},
		{name: "options", method: "OPTIONS", target: "/hello.txt", checks: []check{status(204),
			header("Allow", "GET, HEAD, OPTIONS")}},
		{name: "absolute form", target: "http://test/hello.txt", checks: []check{status(200), body(helloBody)}},
		{name: "cache-control unset", target: "/hello.txt", checks: []check{header("Cache-Control", "")}},
	})
}

func TestCacheControlOption(t *testing.T) {
	tr := makeTree(t)
	addr := startFileServer(t, tr.root, Options{CacheControl: "public, max-age=60"})
	r := get(t, addr, "GET", "/hello.txt")
	header("Cache-Control", "public, max-age=60")(t, r)
	etag := r.Header.Get("ETag")
	r = get(t, addr, "GET", "/hello.txt", "If-None-Match: "+etag)
	status(304)(t, r)
	header("Cache-Control", "public, max-age=60")(t, r)
}

// TestSafety sends every traversal trick as-is and asserts the secret outside the root
// never comes back.
func TestSafety(t *testing.T) {
	for _, m := range openModes {
		t.Run(m.name, func(t *testing.T) { testSafety(t, m.portable) })
	}
}

func testSafety(t *testing.T, portable bool) {
	tr := makeTree(t)
	addr := startFileServerMode(t, tr.root, Options{}, portable)
	never := bodyLacks("TOP-SECRET")
	cases := []testCase{
		{name: "dotdot", target: "/../secret.txt", checks: []check{status(403), never}},
		{name: "dotdot deep", target: "/sub/../../outside/secret.txt", checks: []check{status(403), never}},
		{name: "encoded dots", target: "/%2e%2e/secret.txt", checks: []check{status(403), never}},
		{name: "encoded dots upper", target: "/%2E%2E/%2E%2E/outside/secret.txt", checks: []check{status(403), never}},
		{name: "encoded slash", target: "/..%2fsecret.txt", checks: []check{status(403), never}},
		{name: "encoded slash and dots", target: "/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt", checks: []check{status(403), never}},
		{name: "encoded slash inside root", target: "/sub%2fa.txt", checks: []check{status(200), body("a\n")}},
		{name: "backslash", target: "/..\\secret.txt", checks: []check{status(400), never}},
		{name: "encoded backslash", target: "/..%5csecret.txt", checks: []check{status(400), never}},
		{name: "encoded CRLF", target: "/hello.txt%0d%0aX-Injected:%20true", checks: []check{status(400), never}},
		{name: "double encoding", target: "/%252e%252e/secret.txt", checks: []check{status(404), never}},
		{name: "nul", target: "/hello.txt%00.png", checks: []check{status(400), never}},
		{name: "bad escape", target: "/hello%zz.txt", checks: []check{status(400)}},
		{name: "truncated escape", target: "/hello.txt%2", checks: []check{status(400)}},
		{name: "symlink inside", target: "/link-in", checks: []check{status(200), body(helloBody)}},
		{name: "symlink outside", target: "/link-out", checks: []check{status(403), never}},
		{name: "symlinked dir outside", target: "/dirlink-out/secret.txt", checks: []check{status(403), never}},
		{name: "symlink outside in subdir", target: "/sub/escape.txt", checks: []check{status(403), never}},
		{name: "dotfile", target: "/.secret", checks: []check{status(404)}},
		{name: "dot dir", target: "/.git/config", checks: []check{status(404)}},
		{name: "encoded dotfile", target: "/%2esecret", checks: []check{status(404)}},
		{name: "hidden in subdir", target: "/sub/.hidden.txt", checks: []check{status(404)}},
		{name: "fifo", target: "/fifo", checks: []check{status(403)}},
		{name: "listing hides dotfiles and escapes", target: "/sub/", checks: []check{status(200),
			bodyContains("a.txt"), bodyLacks(".hidden"), bodyLacks("escape.txt")}},
	}
	runCases(t, addr, cases)

	t.Run("allowed", func(t *testing.T) {
		addr := startFileServerMode(t, tr.root, Options{ShowDotfiles: true, FollowSymlinks: true}, portable)
		runCases(t, addr, []testCase{
			{name: "dotfile shown", target: "/.secret", checks: []check{status(200), body("dot secret\n")}},
			{name: "symlink followed", target: "/link-out", checks: []check{status(200), body(secretBody)}},
			{name: "dotdot still refused", target: "/../secret.txt", checks: []check{status(403), never}},
			{name: "encoded dotdot still refused", target: "/%2e%2e/secret.txt", checks: []check{status(403), never}},
			{name: "listing shows dotfiles", target: "/sub/", checks: []check{bodyContains(".hidden.txt"),
				bodyContains("escape.txt")}},
		})
	})
}

func TestConditionals(t *testing.T) {
	tr := makeTree(t)
	addr := startFileServer(t, tr.root, Options{})
	r := get(t, addr, "GET", "/hello.txt")
	etag, lm := r.Header.Get("ETag"), r.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q is not strong", etag)
	}
	mod, err := http.ParseTime(lm)
	if err != nil {
		t.Fatal(err)
	}
	before := mod.Add(-time.Hour).Format(http.TimeFormat)
	after := mod.Add(time.Hour).Format(http.TimeFormat)
	notMod := []check{status(304), body(""), header("ETag", etag), header("Content-Type", ""),
		header("Vary", "Accept-Encoding")}
	runCases(t, addr, []testCase{
		{name: "INM match", target: "/hello.txt", headers: []string{"If-None-Match: " + etag}, checks: notMod},
		{name: "INM weak match", target: "/hello.txt", headers: []string{"If-None-Match: W/" + etag}, checks: notMod},
		{name: "INM in list", target: "/hello.txt", headers: []string{`If-None-Match: "x", "a,b", ` + etag}, checks: notMod},
		{name: "INM across fields", target: "/hello.txt", headers: []string{`If-None-Match: "x"`, "If-None-Match: " + etag}, checks: notMod},
		{name: "INM star", target: "/hello.txt", headers: []string{"If-None-Match: *"}, checks: notMod},
		{name: "INM other", target: "/hello.txt", headers: []string{`If-None-Match: "other"`}, checks: []check{status(200), body(helloBody)}},
		{name: "INM head", method: "HEAD", target: "/hello.txt", headers: []string{"If-None-Match: " + etag}, checks: []check{status(304)}},
		{name: "IMS equal", target: "/hello.txt", headers: []string{"If-Modified-Since: " + lm}, checks: notMod},
		{name: "IMS later", target: "/hello.txt", headers: []string{"If-Modified-Since: " + after}, checks: []check{status(304)}},
		{name: "IMS earlier", target: "/hello.txt", headers: []string{"If-Modified-Since: " + before}, checks: []check{status(200)}},
		{name: "IMS rfc850", target: "/hello.txt", headers: []string{"If-Modified-Since: " + mod.UTC().Format("Monday, 02-Jan-06 15:04:05 GMT")}, checks: []check{status(304)}},
		{name: "IMS asctime", target: "/hello.txt", headers: []string{"If-Modified-Since: " + mod.UTC().Format(time.ANSIC)}, checks: []check{status(304)}},
		{name: "IMS invalid ignored", target: "/hello.txt", headers: []string{"If-Modified-Since: yesterday"}, checks: []check{status(200)}},
		{name: "INM beats IMS", target: "/hello.txt", headers: []string{`If-None-Match: "other"`, "If-Modified-Since: " + lm}, checks: []check{status(200)}},
		{name: "IM match", target: "/hello.txt", headers: []string{"If-Match: " + etag}, checks: []check{status(200), body(helloBody)}},
		{name: "IM star", target: "/hello.txt", headers: []string{"If-Match: *"}, checks: []check{status(200)}},
		{name: "IM mismatch", target: "/hello.txt", headers: []string{`If-Match: "other"`}, checks: []check{status(412), bodyLacks("hello")}},
		{name: "IM weak is not strong", target: "/hello.txt", headers: []string{"If-Match: W/" + etag}, checks: []check{status(412)}},
		{name: "IUS earlier", target: "/hello.txt", headers: []string{"If-Unmodified-Since: " + before}, checks: []check{status(412)}},
		{name: "IUS later", target: "/hello.txt", headers: []string{"If-Unmodified-Since: " + after}, checks: []check{status(200)}},
		{name: "IM beats IUS", target: "/hello.txt", headers: []string{"If-Match: " + etag, "If-Unmodified-Since: " + before}, checks: []check{status(200)}},
		{name: "IM then INM", target: "/hello.txt", headers: []string{"If-Match: " + etag, "If-None-Match: " + etag}, checks: []check{status(304)}},
		{name: "If-Range etag", target: "/hello.txt", headers: []string{"Range: bytes=0-4", "If-Range: " + etag},
			checks: []check{status(206), body("hello")}},
		{name: "If-Range stale etag", target: "/hello.txt", headers: []string{"Range: bytes=0-4", `If-Range: "stale"`},
			checks: []check{status(200), body(helloBody)}},
		{name: "If-Range weak etag", target: "/hello.txt", headers: []string{"Range: bytes=0-4", "If-Range: W/" + etag},
			checks: []check{status(200)}},
		{name: "If-Range date", target: "/hello.txt", headers: []string{"Range: bytes=0-4", "If-Range: " + lm},
			checks: []check{status(206), body("hello")}},
		{name: "If-Range other date", target: "/hello.txt", headers: []string{"Range: bytes=0-4", "If-Range: " + after},
			checks: []check{status(200)}},
	})
}

func TestRanges(t *testing.T) {
	for _, m := range openModes {
		t.Run(m.name, func(t *testing.T) { testRanges(t, m.portable) })
	}
}

func testRanges(t *testing.T, portable bool) {
	tr := makeTree(t)
	addr := startFileServerMode(t, tr.root, Options{}, portable)
	n := len(tr.data)
	runCases(t, addr, []testCase{
		{name: "first bytes", target: "/hello.txt", headers: []string{"Range: bytes=0-4"},
			checks: []check{status(206), body("hello"), header("Content-Range", "bytes 0-4/13"), header("Content-Length", "5")}},
		{name: "suffix", target: "/hello.txt", headers: []string{"Range: bytes=-6"},
			checks: []check{status(206), body("world\n"), header("Content-Range", "bytes 7-12/13")}},
		{name: "open end", target: "/hello.txt", headers: []string{"Range: bytes=7-"},
			checks: []check{status(206), body("world\n")}},
		{name: "end clamped", target: "/hello.txt", headers: []string{"Range: bytes=7-1000"},
			checks: []check{status(206), body("world\n"), header("Content-Range", "bytes 7-12/13")}},
		{name: "suffix larger than file", target: "/hello.txt", headers: []string{"Range: bytes=-100"},
			checks: []check{status(206), body(helloBody)}},
		{name: "unsatisfiable", target: "/hello.txt", headers: []string{"Range: bytes=13-"},
			checks: []check{status(416), header("Content-Range", "bytes */13"), bodyLacks("hello")}},
		{name: "unsatisfiable suffix", target: "/hello.txt", headers: []string{"Range: bytes=-0"},
			checks: []check{status(416)}},
		{name: "unsatisfiable dropped from set", target: "/hello.txt", headers: []string{"Range: bytes=50-60, 0-4"},
			checks: []check{status(206), body("hello")}},
		{name: "malformed ignored", target: "/hello.txt", headers: []string{"Range: bytes=abc"},
			checks: []check{status(200), body(helloBody)}},
		{name: "reversed ignored", target: "/hello.txt", headers: []string{"Range: bytes=5-1"},
			checks: []check{status(200), body(helloBody), header("Content-Range", "")}},
		{name: "other unit ignored", target: "/hello.txt", headers: []string{"Range: items=0-1"},
			checks: []check{status(200), body(helloBody), header("Content-Range", "")}},
		{name: "end past int64 is the end", target: "/hello.txt", headers: []string{"Range: bytes=7-99999999999999999999"},
			checks: []check{status(206), body("world\n"), header("Content-Range", "bytes 7-12/13")}},
		{name: "large end past int64", target: "/data.bin", headers: []string{"Range: bytes=1000-99999999999999999999"},
			checks: []check{status(206), bodyBytes(tr.data[1000:]),
				header("Content-Range", "bytes 1000-"+strconv.Itoa(n-1)+"/"+strconv.Itoa(n))}},
		{name: "start past int64 unsatisfiable", target: "/hello.txt", headers: []string{"Range: bytes=99999999999999999999-"},
			checks: []check{plainError(416), header("Content-Range", "bytes */13")}},
		{name: "overlap abuse ignored", target: "/hello.txt", headers: []string{"Range: bytes=0-,0-,0-"},
			checks: []check{status(200), body(helloBody)}},
		{name: "too many ranges ignored", target: "/data.bin",
			headers: []string{"Range: bytes=" + strings.Repeat("0-0,", MaxRanges) + "1-1"},
			checks:  []check{status(200), header("Content-Length", strconv.Itoa(n))}},
		{name: "head ignores range", method: "HEAD", target: "/hello.txt", headers: []string{"Range: bytes=0-4"},
			checks: []check{status(200), header("Content-Length", "13")}},
		{name: "large tail via sendfile", target: "/data.bin", headers: []string{"Range: bytes=1000-"},
			checks: []check{status(206), bodyBytes(tr.data[1000:]),
				header("Content-Range", "bytes 1000-"+strconv.Itoa(n-1)+"/"+strconv.Itoa(n))}},
		{name: "large middle", target: "/data.bin", headers: []string{"Range: bytes=100000-150000"},
			checks: []check{status(206), bodyBytes(tr.data[100000:150001])}},
		{name: "small middle", target: "/data.bin", headers: []string{"Range: bytes=5000-5999"},
			checks: []check{status(206), bodyBytes(tr.data[5000:6000])}},
		// smallBody (16 KiB) is the largest section read into the response buffer.
		{name: "largest buffered section", target: "/data.bin", headers: []string{"Range: bytes=7-16390"},
			checks: []check{status(206), bodyBytes(tr.data[7:16391]), header("Content-Length", "16384")}},
		{name: "smallest sendfile section", target: "/data.bin", headers: []string{"Range: bytes=7-16391"},
			checks: []check{status(206), bodyBytes(tr.data[7:16392]), header("Content-Length", "16385")}},
		{name: "multipart large parts out of order", target: "/data.bin", headers: []string{"Range: bytes=150000-,0-40000,100-199"},
			checks: []check{status(206), multipartBody(tr.data, [2]int{150000, n - 1}, [2]int{0, 40000}, [2]int{100, 199})}},
		{name: "range on compressible text stays identity", target: "/big.txt",
			headers: []string{"Range: bytes=0-99", "Accept-Encoding: gzip, zstd"},
			checks:  []check{status(206), bodyBytes(tr.big[:100]), header("Content-Encoding", ""), header("Vary", "Accept-Encoding")}},
	})
}

func TestMultipartRanges(t *testing.T) {
	tr := makeTree(t)
	addr := startFileServer(t, tr.root, Options{})
	type part struct {
		start, end int
	}
	for _, tc := range []struct {
		name  string
		rng   string
		parts []part
	}{
		{"two small", "bytes=0-9,20-29", []part{{0, 9}, {20, 29}}},
		{"small and large", "bytes=-100,0-40000", []part{{len(tr.data) - 100, len(tr.data) - 1}, {0, 40000}}},
		{"large tail and middle", "bytes=150000-,20000-60000", []part{{150000, len(tr.data) - 1}, {20000, 60000}}},
		// The second part starts at offset 0 where the first left the descriptor.
		{"large tail then start", "bytes=150000-,0-60000", []part{{150000, len(tr.data) - 1}, {0, 60000}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, addr, "GET", "/data.bin", "Range: "+tc.rng)
			status(206)(t, r)
			if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
				t.Errorf("Content-Length %s for a body of %d", cl, len(r.body))
			}
			mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "multipart/byteranges" {
				t.Fatalf("Content-Type %q: %v", r.Header.Get("Content-Type"), err)
			}
			mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
			for i, want := range tc.parts {
				p, err := mr.NextPart()
				if err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				wantCR := "bytes " + strconv.Itoa(want.start) + "-" + strconv.Itoa(want.end) + "/" + strconv.Itoa(len(tr.data))
				if cr := p.Header.Get("Content-Range"); cr != wantCR {
					t.Errorf("part %d Content-Range %q, want %q", i, cr, wantCR)
				}
				if ct := p.Header.Get("Content-Type"); ct != "application/octet-stream" {
					t.Errorf("part %d Content-Type %q", i, ct)
				}
				b, err := io.ReadAll(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, tr.data[want.start:want.end+1]) {
					t.Errorf("part %d: %d bytes differ from the file", i, len(b))
				}
			}
			if _, err := mr.NextPart(); err != io.EOF {
				t.Errorf("after the last part: %v, want EOF", err)
			}
		})
	}
}

func TestCompression(t *testing.T) {
	tr := makeTree(t)
	addr := startFileServer(t, tr.root, Options{})
	runCases(t, addr, []testCase{
		{name: "gzip on the fly", target: "/big.txt", headers: []string{"Accept-Encoding: gzip"},
			checks: []check{status(200), header("Content-Encoding", "gzip"), header("Vary", "Accept-Encoding"),
				decoded("gzip", tr.big), header("Accept-Ranges", "")}},
		{name: "zstd on the fly", target: "/big.txt", headers: []string{"Accept-Encoding: zstd"},
			checks: []check{status(200), header("Content-Encoding", "zstd"), decoded("zstd", tr.big)}},
		{name: "browser preference", target: "/big.txt", headers: []string{"Accept-Encoding: gzip, deflate, br, zstd"},
			checks: []check{header("Content-Encoding", "zstd"), decoded("zstd", tr.big)}},
		{name: "q-values", target: "/big.txt", headers: []string{"Accept-Encoding: zstd;q=0.5, gzip"},
			checks: []check{header("Content-Encoding", "gzip"), decoded("gzip", tr.big)}},
		{name: "refused coding", target: "/big.txt", headers: []string{"Accept-Encoding: zstd;q=0, gzip;q=0.1"},
			checks: []check{header("Content-Encoding", "gzip"), decoded("gzip", tr.big)}},
		{name: "star", target: "/big.txt", headers: []string{"Accept-Encoding: *"},
			checks: []check{header("Content-Encoding", "zstd"), decoded("zstd", tr.big)}},
		{name: "identity preferred", target: "/big.txt", headers: []string{"Accept-Encoding: identity, gzip;q=0.5"},
			checks: []check{header("Content-Encoding", ""), bodyBytes(tr.big)}},
		{name: "identity preferred to precompressed", target: "/style.css", headers: []string{"Accept-Encoding: identity, gzip;q=0.5"},
			checks: []check{header("Content-Encoding", ""), bodyBytes(tr.css), header("Vary", "Accept-Encoding")}},
		{name: "identity preferred to some precompressed", target: "/style.css",
			headers: []string{"Accept-Encoding: identity;q=0.5, gzip;q=0.4, zstd"},
			checks:  []check{header("Content-Encoding", "zstd"), decoded("zstd", tr.css)}},
		{name: "no accept-encoding still varies", target: "/big.txt",
			checks: []check{header("Content-Encoding", ""), header("Vary", "Accept-Encoding"), bodyBytes(tr.big)}},
		{name: "br only: no encoder", target: "/big.txt", headers: []string{"Accept-Encoding: br"},
			checks: []check{header("Content-Encoding", ""), header("Vary", "Accept-Encoding"), bodyBytes(tr.big)}},
		{name: "small text not compressed", target: "/hello.txt", headers: []string{"Accept-Encoding: gzip"},
			checks: []check{header("Content-Encoding", ""), header("Vary", "Accept-Encoding"), body(helloBody)}},
		{name: "binary not compressed", target: "/data.bin", headers: []string{"Accept-Encoding: gzip"},
			checks: []check{header("Content-Encoding", ""), header("Vary", ""), bodyBytes(tr.data)}},
		{name: "head compressed", method: "HEAD", target: "/big.txt", headers: []string{"Accept-Encoding: gzip"},
			checks: []check{status(200), header("Content-Encoding", "gzip"), body("")}},
		{name: "precompressed br", target: "/style.css", headers: []string{"Accept-Encoding: gzip, br, zstd"},
			checks: []check{header("Content-Encoding", "br"), bodyBytes(brotliStored(tr.css)),
				header("Content-Type", "text/css; charset=utf-8"), header("Vary", "Accept-Encoding"),
				header("Accept-Ranges", "bytes")}},
		{name: "precompressed zstd", target: "/style.css", headers: []string{"Accept-Encoding: gzip, zstd"},
			checks: []check{header("Content-Encoding", "zstd"), decoded("zstd", tr.css)}},
		{name: "precompressed gzip", target: "/style.css", headers: []string{"Accept-Encoding: gzip"},
			checks: []check{header("Content-Encoding", "gzip"), decoded("gzip", tr.css),
				header("Content-Length", strconv.Itoa(len(gzipBytes(t, tr.css))))}},
		{name: "precompressed by q", target: "/style.css", headers: []string{"Accept-Encoding: br;q=0.2, gzip"},
			checks: []check{header("Content-Encoding", "gzip"), decoded("gzip", tr.css)}},
		{name: "precompressed identity", target: "/style.css",
			checks: []check{header("Content-Encoding", ""), bodyBytes(tr.css)}},
		{name: "precompressed range", target: "/style.css", headers: []string{"Accept-Encoding: gzip", "Range: bytes=0-1"},
			checks: []check{status(206), header("Content-Encoding", "gzip"), body("\x1f\x8b")}},
		{name: "sibling asked directly", target: "/style.css.gz",
			checks: []check{header("Content-Type", "application/gzip"), header("Content-Encoding", "")}},
		// Error answers are plain text whatever coding was negotiated: only the
		// representation itself is labelled with its coding.
		{name: "412 on the fly", target: "/big.txt", headers: []string{"Accept-Encoding: gzip", `If-Match: "x"`},
			checks: []check{plainError(412), header("Vary", "Accept-Encoding")}},
		{name: "412 precompressed", target: "/style.css", headers: []string{"Accept-Encoding: gzip", `If-Match: "x"`},
			checks: []check{plainError(412), header("Vary", "Accept-Encoding")}},
		{name: "412 by date precompressed", target: "/style.css",
			headers: []string{"Accept-Encoding: br", "If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT"},
			checks:  []check{plainError(412)}},
		{name: "416 precompressed br", target: "/style.css", headers: []string{"Accept-Encoding: br", "Range: bytes=100000-"},
			checks: []check{plainError(416), header("Content-Range", "bytes */"+strconv.Itoa(len(brotliStored(tr.css))))}},
		{name: "304 precompressed", target: "/style.css", headers: []string{"Accept-Encoding: gzip", "If-None-Match: *"},
			checks: []check{status(304), body(""), header("Content-Encoding", ""), hasHeader("ETag")}},
	})

	t.Run("etags differ per coding and revalidate", func(t *testing.T) {
		tags := map[string]string{}
		for _, ae := range []string{"identity", "gzip", "zstd"} {
			r := get(t, addr, "GET", "/big.txt", "Accept-Encoding: "+ae)
			tag := r.Header.Get("ETag")
			for prev, pt := range tags {
				if pt == tag {
					t.Errorf("%s and %s share ETag %s", prev, ae, tag)
				}
			}
			tags[ae] = tag
			r = get(t, addr, "GET", "/big.txt", "Accept-Encoding: "+ae, "If-None-Match: "+tag)
			status(304)(t, r)
			header("Vary", "Accept-Encoding")(t, r)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		addr := startFileServer(t, tr.root, Options{DisableCompression: true})
		r := get(t, addr, "GET", "/big.txt", "Accept-Encoding: gzip, br")
		header("Content-Encoding", "")(t, r)
		header("Vary", "")(t, r)
		r = get(t, addr, "GET", "/style.css", "Accept-Encoding: gzip, br")
		header("Content-Encoding", "")(t, r)
		bodyBytes(tr.css)(t, r)
	})
}

func TestListing(t *testing.T) {
	tr := makeTree(t)
	addr := startFileServer(t, tr.root, Options{})
	r := get(t, addr, "GET", "/sub/")
	status(200)(t, r)
	header("Content-Type", "text/html; charset=utf-8")(t, r)
	for _, s := range []string{`href="./a.txt"`, `href="./b.txt"`, `href="./c%20dir/"`, `href="../"`, "Index of /sub/"} {
		bodyContains(s)(t, r)
	}

	r = get(t, addr, "GET", "/sub/", "Accept: application/json")
	status(200)(t, r)
	header("Content-Type", "application/json")(t, r)
	header("Vary", "Accept, Accept-Encoding")(t, r)
	var es []Entry
	if err := json.Unmarshal(r.body, &es); err != nil {
		t.Fatalf("%v in %q", err, r.body)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "c dir,a.txt,b.txt" {
		t.Errorf("entries %s, want directories first then files by name", got)
	}
	if !es[0].IsDir || es[0].URL != "./c%20dir/" || es[2].Size != 3 || es[2].ModTime.IsZero() {
		t.Errorf("entries %+v", es)
	}

	r = get(t, addr, "GET", "/sub/?sort=size&order=desc", "Accept: application/json")
	es = nil
	json.Unmarshal(r.body, &es)
	if len(es) != 3 || es[0].Name != "b.txt" {
		t.Errorf("sorted by size desc: %+v", es)
	}

	// Browsers ask for HTML first; a JSON-only client gets JSON.
	r = get(t, addr, "GET", "/sub/", "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	header("Content-Type", "text/html; charset=utf-8")(t, r)

	// Listings revalidate.
	r = get(t, addr, "GET", "/sub/")
	r2 := get(t, addr, "GET", "/sub/", "If-None-Match: "+r.Header.Get("ETag"))
	status(304)(t, r2)

	t.Run("root has no parent link", func(t *testing.T) {
		dir := t.TempDir()
		addr := startFileServer(t, dir, Options{})
		r := get(t, addr, "GET", "/")
		status(200)(t, r)
		bodyLacks(`href="../"`)(t, r)
		r = get(t, addr, "GET", "/", "Accept: application/json")
		body("[]\n")(t, r)
	})
	t.Run("disabled", func(t *testing.T) {
		addr := startFileServer(t, tr.root, Options{DisableListing: true})
		status(404)(t, get(t, addr, "GET", "/sub/"))
		status(200)(t, get(t, addr, "GET", "/docs/"))
	})
	t.Run("truncated", func(t *testing.T) {
		addr := startFileServer(t, tr.root, Options{MaxListing: 2})
		r := get(t, addr, "GET", "/sub/")
		bodyContains("listing truncated")(t, r)
	})
	t.Run("escaped names", func(t *testing.T) {
		dir := t.TempDir()
		name := `<b>&"x".txt`
		if err := writeFile(dir, name, "x"); err != nil {
			t.Fatal(err)
		}
		addr := startFileServer(t, dir, Options{})
		r := get(t, addr, "GET", "/")
		bodyLacks("<b>&")(t, r)
		bodyContains("&lt;b&gt;&amp;&#34;x&#34;.txt")(t, r)
	})
}

// TestKeepAlive sends several requests, bodies sent by sendfile included, on one
// connection: each response must be framed exactly for the next one to parse.
func TestKeepAlive(t *testing.T) {
	tr := makeTree(t)
	addr := startFileServer(t, tr.root, Options{})
	rs := rawRequests(t, addr, nil,
		buildRequest("GET", "/data.bin"),
		buildRequest("GET", "/hello.txt"),
		buildRequest("GET", "/data.bin", "Range: bytes=100-"),
		buildRequest("GET", "/data.bin", "Range: bytes=0-1,100000-"),
		buildRequest("HEAD", "/data.bin"),
		buildRequest("GET", "/big.txt", "Accept-Encoding: gzip"),
		buildRequest("GET", "/nope"),
		buildRequest("GET", "/hello.txt"),
	)
	bodyBytes(tr.data)(t, rs[0])
	body(helloBody)(t, rs[1])
	bodyBytes(tr.data[100:])(t, rs[2])
	status(206)(t, rs[3])
	multipartBody(tr.data, [2]int{0, 1}, [2]int{100000, len(tr.data) - 1})(t, rs[3])
	body("")(t, rs[4])
	decoded("gzip", tr.big)(t, rs[5])
	status(404)(t, rs[6])
	body(helloBody)(t, rs[7])
}

func TestNew(t *testing.T) {
	if _, err := New(t.TempDir()+"/missing", Options{}); err == nil {
		t.Error("New on a missing directory succeeded")
	}
	dir := t.TempDir()
	writeFile(dir, "f", "x")
	if _, err := New(dir+"/f", Options{}); err == nil {
		t.Error("New on a file succeeded")
	}
	h, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", h.Dir(), dir)
	}
}
