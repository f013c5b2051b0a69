package fileserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testpeer"
	"github.com/hop-http/hop/server"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// testTree describes the files created by makeTree, for assertions.
type testTree struct {
	root    string // the served directory
	outside string // a directory next to it holding secret.txt
	big     []byte // big.txt: compressible text, 64 KiB
	data    []byte // data.bin: 200 KiB of random bytes
	css     []byte // style.css
}

const (
	helloBody  = "hello, world\n"
	secretBody = "TOP-SECRET-OUTSIDE-ROOT\n"
)

// makeTree builds a directory to serve, with every kind of file the tests need, and a
// secret file outside it that no request may ever read.
func makeTree(t testing.TB) *testTree {
	t.Helper()
	base := t.TempDir()
	tr := &testTree{root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string, b []byte) {
		t.Helper()
		p := filepath.Join(tr.root, filepath.FromSlash(rel))
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, b, 0o644))
	}
	must(os.MkdirAll(tr.outside, 0o755))
	must(os.WriteFile(filepath.Join(tr.outside, "secret.txt"), []byte(secretBody), 0o644))
	// A file whose name is also reachable by a naive join of "../outside/secret.txt".
	must(os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secretBody), 0o644))

	rng := rand.New(rand.NewPCG(1, 2))
	var big bytes.Buffer
	for i := 0; big.Len() < 64<<10; i++ {
		big.WriteString("line ")
		big.WriteString(strings.Repeat("abcdefghij", 1+i%7))
		big.WriteString("\n")
	}
	tr.big = big.Bytes()[:64<<10]
	tr.data = make([]byte, 200<<10)
	for i := range tr.data {
		tr.data[i] = byte(rng.Uint32())
	}
	tr.css = []byte(strings.Repeat("body { color: #123456; margin: 0 auto; }\n", 60))

	write("index.html", []byte("<!DOCTYPE html><title>home</title>root index\n"))
	write("hello.txt", []byte(helloBody))
	write("big.txt", tr.big)
	write("data.bin", tr.data)
	write("noext", []byte("just some plain words without an extension\n"))
	write("picture", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...))
	write("style.css", tr.css)
	write("style.css.gz", gzipBytes(t, tr.css))
	write("style.css.zst", zstdBytes(t, tr.css))
	write("style.css.br", brotliStored(tr.css))
	write("docs/index.html", []byte("docs index\n"))
	write("sub/a.txt", []byte("a\n"))
	write("sub/b.txt", []byte("bb\n"))
	write("sub/c dir/x.txt", []byte("x\n"))
	write("sub/.hidden.txt", []byte("hidden\n"))
	write(".secret", []byte("dot secret\n"))
	write(".git/config", []byte("[core]\n"))
	must(os.Symlink("hello.txt", filepath.Join(tr.root, "link-in")))
	must(os.Symlink(filepath.Join(tr.outside, "secret.txt"), filepath.Join(tr.root, "link-out")))
	must(os.Symlink("../outside", filepath.Join(tr.root, "dirlink-out")))
	must(os.Symlink(filepath.Join(tr.outside, "secret.txt"), filepath.Join(tr.root, "sub", "escape.txt")))
	must(syscall.Mkfifo(filepath.Join(tr.root, "fifo"), 0o644))
	return tr
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// brotliStored returns a valid brotli stream (RFC 7932) holding b in uncompressed
// meta-blocks, so tests have a real .br sibling without a brotli encoder.
func brotliStored(b []byte) []byte {
	var out []byte
	first := true
	for len(b) > 0 {
		n := min(len(b), 1<<16)
		// Bits, least significant first: [WBITS=0 (16) on the first block], ISLAST=0,
		// MNIBBLES=0 (4 nibbles), MLEN-1 (16 bits), ISUNCOMPRESSED=1; then pad to a byte.
		var bits uint64
		var nb uint
		if first {
			nb = 1 // WBITS: a single 0 bit
			first = false
		}
		nb++ // ISLAST = 0
		nb += 2
		bits |= uint64(n-1) << nb
		nb += 16
		bits |= 1 << nb
		nb++
		for i := uint(0); i < (nb+7)/8; i++ {
			out = append(out, byte(bits>>(8*i)))
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	if first {
		return []byte{0x06} // WBITS=0, ISLAST=1, ISLASTEMPTY=1
	}
	return append(out, 0x03) // ISLAST=1, ISLASTEMPTY=1
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func unzstd(t testing.TB, b []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// startServer serves h on a loopback port (TLS when conf is set) and returns the
// address; the server is closed when the test ends.
func startServer(t testing.TB, h server.Handler, conf *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: h, TLSConfig: conf}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return ln.Addr().String()
}

// startFileServer serves dir with opts and returns the address.
func startFileServer(t testing.TB, dir string, opts Options) string {
	t.Helper()
	return startFileServerMode(t, dir, opts, false)
}

// startFileServerMode is startFileServer with the platform's fast open path disabled
// when portable is set.
func startFileServerMode(t testing.TB, dir string, opts Options, portable bool) string {
	t.Helper()
	h, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.portable = portable
	t.Cleanup(func() { h.Close() })
	return startServer(t, h, nil)
}

// openModes names the two ways files are opened, for tests that run under both.
var openModes = []struct {
	name     string
	portable bool
}{{"fast", false}, {"portable", true}}

// rawResponse is a response read off the wire, body included.
type rawResponse struct {
	*http.Response
	body []byte
}

// rawRequests sends the requests (each a full head, CRLF-terminated) on one connection
// and reads as many responses; bodies are read whole. It lets tests send targets no
// client library would send as they are.
func rawRequests(t testing.TB, addr string, conf *tls.Config, reqs ...string) []rawResponse {
	t.Helper()
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 10 * time.Second}
	if conf != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, conf)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	out := make([]rawResponse, 0, len(reqs))
	for _, rq := range reqs {
		if _, err := io.WriteString(c, rq); err != nil {
			t.Fatal(err)
		}
		method := rq[:strings.IndexByte(rq, ' ')]
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("reading response to %q: %v", firstLine(rq), err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading body of %q: %v", firstLine(rq), err)
		}
		out = append(out, rawResponse{resp, body})
	}
	return out
}

// get sends one request for target with the extra header lines and returns the
// response.
func get(t testing.TB, addr, method, target string, headers ...string) rawResponse {
	t.Helper()
	return rawRequests(t, addr, nil, buildRequest(method, target, headers...))[0]
}

func buildRequest(method, target string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: test\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\r'); i >= 0 {
		return s[:i]
	}
	return s
}

// requirePeer returns the program's path (see testpeer.Program: a missing one skips
// the test, or fails it under HOP_REQUIRE_PEERS=1).
func requirePeer(t testing.TB, name string) string {
	t.Helper()
	return testpeer.Program(t, name)
}

func writeFile(dir, name, content string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
}
