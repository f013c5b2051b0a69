package fileserver

import (
	"bufio"
	"bytes"
	"context"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/wire"
)

// curlResult is what curl reported for one transfer.
type curlResult struct {
	status int
	header http.Header
	body   []byte
	stderr string
}

// runCurl runs curl with args against the server and returns the final response.
func runCurl(t *testing.T, curl string, args ...string) curlResult {
	t.Helper()
	dir := t.TempDir()
	hfile, bfile := filepath.Join(dir, "h"), filepath.Join(dir, "b")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := append([]string{"-sS", "--max-time", "20", "-D", hfile, "-o", bfile}, args...)
	cmd := exec.CommandContext(ctx, curl, all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	hb, err := os.ReadFile(hfile)
	if err != nil {
		t.Fatal(err)
	}
	res := curlResult{stderr: stderr.String()}
	res.body, _ = os.ReadFile(bfile) // absent when there was no body
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(hb)))
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("curl header dump %q: %v", hb, err)
	}
	if f := strings.Fields(line); len(f) >= 2 {
		res.status, _ = strconv.Atoi(f[1])
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil && len(mh) == 0 {
		t.Fatalf("curl header dump %q: %v", hb, err)
	}
	res.header = http.Header(mh)
	return res
}

// TestCurl drives the server with curl, the way people check a file server by hand:
// ranges, conditionals, compression (decoded by curl itself) and traversal attempts.
func TestCurl(t *testing.T) {
	curl := requirePeer(t, "curl")
	tr := makeTree(t)
	addr := startFileServer(t, tr.root, Options{})
	base := "http://" + addr

	type want struct {
		status  int
		body    []byte // nil: not checked
		headers map[string]string
	}
	first := runCurl(t, curl, base+"/hello.txt")
	etag, lm := first.header.Get("ETag"), first.header.Get("Last-Modified")
	etagFile := filepath.Join(t.TempDir(), "etag")
	if err := os.WriteFile(etagFile, []byte(etag+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := []byte("TOP-SECRET")

	for _, tc := range []struct {
		name string
		args []string
		want want
	}{
		// Ranges.
		{"range single", []string{"-r", "0-4", base + "/hello.txt"},
			want{206, []byte("hello"), map[string]string{"Content-Range": "bytes 0-4/13"}}},
		{"range suffix", []string{"-r", "-6", base + "/hello.txt"}, want{206, []byte("world\n"), nil}},
		{"range large tail", []string{"-r", "1000-", base + "/data.bin"}, want{206, tr.data[1000:], nil}},
		{"range unsatisfiable", []string{"-r", "500-", base + "/hello.txt"},
			want{416, nil, map[string]string{"Content-Range": "bytes */13"}}},
		{"resume download", []string{"-C", "7", base + "/hello.txt"}, want{206, []byte("world\n"), nil}},
		// Conditionals.
		{"if-modified-since", []string{"-z", lm, base + "/hello.txt"}, want{304, nil, map[string]string{"ETag": etag}}},
		{"if-unmodified-since older", []string{"-z", "-Mon, 01 Jan 2001 00:00:00 GMT", base + "/hello.txt"}, want{412, nil, nil}},
		{"etag-compare", []string{"--etag-compare", etagFile, base + "/hello.txt"}, want{304, nil, nil}},
		{"if-none-match other", []string{"-H", `If-None-Match: "nope"`, base + "/hello.txt"}, want{200, []byte(helloBody), nil}},
		{"if-match fails", []string{"-H", `If-Match: "nope"`, base + "/hello.txt"}, want{412, nil, nil}},
		{"if-range current", []string{"-r", "0-4", "-H", "If-Range: " + etag, base + "/hello.txt"}, want{206, []byte("hello"), nil}},
		{"if-range stale", []string{"-r", "0-4", "-H", `If-Range: "old"`, base + "/hello.txt"}, want{200, []byte(helloBody), nil}},
		// Compression, decoded by curl.
		{"gzip on the fly", []string{"--compressed", "-H", "Accept-Encoding: gzip", base + "/big.txt"},
			want{200, tr.big, map[string]string{"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}}},
		{"zstd on the fly", []string{"--compressed", "-H", "Accept-Encoding: zstd", base + "/big.txt"},
			want{200, tr.big, map[string]string{"Content-Encoding": "zstd", "Vary": "Accept-Encoding"}}},
		{"precompressed br", []string{"--compressed", "-H", "Accept-Encoding: br", base + "/style.css"},
			want{200, tr.css, map[string]string{"Content-Encoding": "br", "Content-Type": "text/css; charset=utf-8"}}},
		{"precompressed gzip", []string{"--compressed", "-H", "Accept-Encoding: gzip", base + "/style.css"},
			want{200, tr.css, map[string]string{"Content-Encoding": "gzip"}}},
		{"precompressed zstd", []string{"--compressed", "-H", "Accept-Encoding: zstd", base + "/style.css"},
			want{200, tr.css, map[string]string{"Content-Encoding": "zstd"}}},
		{"identity varies too", []string{base + "/big.txt"},
			want{200, tr.big, map[string]string{"Content-Encoding": "", "Vary": "Accept-Encoding"}}},
		// Error answers stay readable with a coding negotiated: curl would fail (exit 61)
		// decoding a plain body labelled gzip or br.
		{"if-match fails compressed", []string{"--compressed", "-H", `If-Match: "x"`, base + "/big.txt"},
			want{412, []byte("412 Precondition Failed\n"), map[string]string{"Content-Encoding": ""}}},
		{"if-match fails precompressed", []string{"--compressed", "-H", "Accept-Encoding: gzip", "-H", `If-Match: "x"`, base + "/style.css"},
			want{412, []byte("412 Precondition Failed\n"), map[string]string{"Content-Encoding": ""}}},
		{"range unsatisfiable br", []string{"--compressed", "-H", "Accept-Encoding: br", "-r", "100000-", base + "/style.css"},
			want{416, []byte("416 Range Not Satisfiable\n"), map[string]string{"Content-Encoding": ""}}},
		// Traversal attempts: never the secret.
		{"dotdot", []string{"--path-as-is", base + "/../secret.txt"}, want{403, nil, nil}},
		{"dotdot to sibling", []string{"--path-as-is", base + "/../outside/secret.txt"}, want{403, nil, nil}},
		{"encoded dots", []string{"--path-as-is", base + "/%2e%2e/%2e%2e/secret.txt"}, want{403, nil, nil}},
		{"encoded slash", []string{"--path-as-is", base + "/..%2fsecret.txt"}, want{403, nil, nil}},
		{"mixed encoding", []string{"--path-as-is", base + "/sub/%2e./%2E%2e%2foutside/secret.txt"}, want{403, nil, nil}},
		{"nul byte", []string{"--path-as-is", base + "/hello.txt%00.png"}, want{400, nil, nil}},
		{"symlink outside", []string{base + "/link-out"}, want{403, nil, nil}},
		{"symlinked dir outside", []string{base + "/dirlink-out/secret.txt"}, want{403, nil, nil}},
		{"dotfile", []string{base + "/.git/config"}, want{404, nil, nil}},
		// HEAD.
		{"head", []string{"-I", base + "/data.bin"}, want{200, nil, map[string]string{"Content-Length": strconv.Itoa(len(tr.data))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCurl(t, curl, tc.args...)
			if r.status != tc.want.status {
				t.Errorf("status %d, want %d (body %q)", r.status, tc.want.status, trunc(r.body))
			}
			if tc.want.body != nil && !bytes.Equal(r.body, tc.want.body) {
				t.Errorf("body of %d bytes differs from the %d expected: %q", len(r.body), len(tc.want.body), trunc(r.body))
			}
			for k, v := range tc.want.headers {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if bytes.Contains(r.body, secret) {
				t.Errorf("response carries the secret from outside the root")
			}
		})
	}

	t.Run("curl's own choice", func(t *testing.T) {
		// What curl offers depends on its build; the answer must be the coding the
		// server's own rule picks from that offer, decoded by curl to the file.
		r := runCurl(t, curl, "-v", "--compressed", base+"/big.txt")
		var offer string
		for line := range strings.SplitSeq(r.stderr, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "> "); ok {
				if name, val, ok := strings.Cut(v, ":"); ok && strings.EqualFold(name, "Accept-Encoding") {
					offer = strings.TrimSpace(val)
				}
			}
		}
		if offer == "" {
			t.Fatalf("curl --compressed sent no Accept-Encoding:\n%s", r.stderr)
		}
		var h wire.Header
		h.Add("Accept-Encoding", offer)
		a := parseAcceptEncoding(&h)
		want := a.best(onTheFlyCodings)
		if want == codingIdentity {
			t.Fatalf("curl offers %q: neither gzip nor zstd", offer)
		}
		if r.status != 200 || !bytes.Equal(r.body, tr.big) {
			t.Errorf("status %d, body of %d bytes (want 200 and the %d of big.txt)", r.status, len(r.body), len(tr.big))
		}
		if got := r.header.Get("Content-Encoding"); got != want.String() {
			t.Errorf("curl offered %q: Content-Encoding %q, want %q", offer, got, want)
		}
		if got := r.header.Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("Vary %q", got)
		}
	})

	t.Run("multiple ranges", func(t *testing.T) {
		r := runCurl(t, curl, "-r", "0-9,20-29,-5", base+"/big.txt")
		if r.status != 206 {
			t.Fatalf("status %d", r.status)
		}
		mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
		n := len(tr.big)
		for i, want := range [][]byte{tr.big[0:10], tr.big[20:30], tr.big[n-5:]} {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			var got bytes.Buffer
			got.ReadFrom(p)
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("part %d = %q, want %q", i, got.Bytes(), want)
			}
		}
	})

	t.Run("keep-alive across files", func(t *testing.T) {
		// curl reuses one connection for several URLs: "Re-using existing connection".
		r := runCurl(t, curl, "-v", base+"/hello.txt", base+"/data.bin", base+"/big.txt")
		if !strings.Contains(r.stderr, "Re-using existing connection") {
			t.Errorf("curl did not reuse the connection:\n%s", r.stderr)
		}
	})
}
