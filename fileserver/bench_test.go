package fileserver

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkServe measures one keep-alive request and response over loopback per
// operation, with a client that allocates nothing, so allocs/op are the server's.
// The comparison with nginx is fileserver/bench.sh.
func BenchmarkServe(b *testing.B) {
	dir := b.TempDir()
	for name, size := range map[string]int{"1k.bin": 1 << 10, "64k.bin": 64 << 10, "1m.bin": 1 << 20} {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{'x'}, size), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "page.html"), bytes.Repeat([]byte("<p>hello</p>\n"), 800), 0o644)
	addr := startFileServer(b, dir, Options{})
	for _, bc := range []struct {
		name, target string
		headers      []string
	}{
		{"1KiB", "/1k.bin", nil},
		{"64KiB", "/64k.bin", nil},
		{"1MiB", "/1m.bin", nil},
		{"304", "/1k.bin", []string{"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"}},
		{"range", "/1m.bin", []string{"Range: bytes=1000-1999"}},
		{"gzip10KiB", "/page.html", []string{"Accept-Encoding: gzip"}},
		{"zstd10KiB", "/page.html", []string{"Accept-Encoding: zstd"}},
		{"404", "/missing", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Minute))
			req := []byte(buildRequest("GET", bc.target, bc.headers...))
			br := bufio.NewReaderSize(c, 64<<10)
			var n int64
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				m, err := readResponse(br)
				if err != nil {
					b.Fatal(err)
				}
				n = m
			}
			b.SetBytes(n)
		})
	}
}

// readResponse reads one response with a Content-Length or chunked body and returns
// the body length, allocating nothing.
func readResponse(br *bufio.Reader) (int64, error) {
	var length int64 = -1
	chunked := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
		if bytes.HasPrefix(line, []byte("Transfer-Encoding: chunked")) {
			chunked = true
		}
	}
	if !chunked {
		if length < 0 {
			length = 0
		}
		_, err := br.Discard(int(length))
		return length, err
	}
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil {
			return 0, err
		}
		if size == 0 {
			_, err = br.ReadSlice('\n')
			return total, err
		}
		if _, err := br.Discard(int(size) + 2); err != nil {
			return 0, err
		}
		total += size
	}
}
