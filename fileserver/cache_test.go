package fileserver

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCacheServesFromMemory: with a long CacheValid, a small file is opened once and
// then answered from memory: a change to it, or its removal, is not seen, and neither
// is a file created where the cache found nothing. That is what makes a hot file cost
// no system call per request.
func TestCacheServesFromMemory(t *testing.T) {
	dir := t.TempDir()
	writeFile(dir, "a.txt", "one\n")
	addr := startFileServer(t, dir, Options{CacheValid: time.Hour})
	first := get(t, addr, "GET", "/a.txt")
	body("one\n")(t, first)
	status(404)(t, get(t, addr, "GET", "/new.txt"))

	writeFile(dir, "a.txt", "two, longer\n")
	writeFile(dir, "new.txt", "new\n")
	again := get(t, addr, "GET", "/a.txt")
	body("one\n")(t, again)
	for _, f := range []string{"ETag", "Last-Modified", "Content-Type", "Content-Length"} {
		if a, b := first.Header.Get(f), again.Header.Get(f); a != b {
			t.Errorf("%s %q from the file, %q from the cache", f, a, b)
		}
	}
	status(404)(t, get(t, addr, "GET", "/new.txt"))
	os.Remove(filepath.Join(dir, "a.txt"))
	body("one\n")(t, get(t, addr, "GET", "/a.txt"))
	// A range and a conditional request are answered from the cached contents too.
	body("ne")(t, get(t, addr, "GET", "/a.txt", "Range: bytes=1-2"))
	status(304)(t, get(t, addr, "GET", "/a.txt", "If-None-Match: "+first.Header.Get("ETag")))
}

// TestCacheRevalidates: once an entry is older than CacheValid, the next request opens
// the path again, so changes are served within CacheValid.
func TestCacheRevalidates(t *testing.T) {
	dir := t.TempDir()
	writeFile(dir, "a.txt", "one\n")
	addr := startFileServer(t, dir, Options{CacheValid: 20 * time.Millisecond})
	body("one\n")(t, get(t, addr, "GET", "/a.txt"))
	status(404)(t, get(t, addr, "GET", "/new.txt"))
	writeFile(dir, "a.txt", "two, longer\n")
	writeFile(dir, "new.txt", "new\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, n := get(t, addr, "GET", "/a.txt"), get(t, addr, "GET", "/new.txt")
		if string(a.body) == "two, longer\n" && n.StatusCode == 200 && string(n.body) == "new\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: /a.txt %q, /new.txt %d %q; want the new contents", a.body, n.StatusCode, n.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCacheOffAndLargeFiles: with CacheValid negative every request opens its file,
// and files larger than cacheMaxFile are never cached (they go out by sendfile).
func TestCacheOffAndLargeFiles(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("x", cacheMaxFile+1)
	writeFile(dir, "a.txt", "one\n")
	writeFile(dir, "big.bin", big)
	off := startFileServer(t, dir, Options{CacheValid: -1})
	on := startFileServer(t, dir, Options{CacheValid: time.Hour})
	body("one\n")(t, get(t, off, "GET", "/a.txt"))
	bodyBytes([]byte(big))(t, get(t, on, "GET", "/big.bin"))
	writeFile(dir, "a.txt", "two\n")
	bigger := strings.Repeat("y", cacheMaxFile+2)
	writeFile(dir, "big.bin", bigger)
	body("two\n")(t, get(t, off, "GET", "/a.txt"))
	bodyBytes([]byte(bigger))(t, get(t, on, "GET", "/big.bin"))
}

// TestCacheOpen: the second open of a small file comes from the cache with no
// descriptor; a directory is cached as one, and its listing (which needs a descriptor)
// still works when the directory comes from the cache.
func TestCacheOpen(t *testing.T) {
	tr := makeTree(t)
	h, err := New(tr.root, Options{CacheValid: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for i := 0; i < 2; i++ {
		f, err := h.open("hello.txt")
		if err != nil {
			t.Fatal(err)
		}
		if got := f.cached && f.fd < 0 && f.f == nil; !got {
			t.Errorf("open %d: cached %v, fd %d: want the contents from the cache", i+1, f.cached, f.fd)
		}
		buf := make([]byte, 64)
		n, _ := f.ReadAt(buf, 0)
		if !bytes.Equal(buf[:n], []byte(helloBody)) {
			t.Errorf("open %d: read %q", i+1, buf[:n])
		}
		f.Close()
	}
	d, err := h.open("sub")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err = h.open("sub"); err != nil || !d.dir || !d.cached {
		t.Fatalf("second open of a directory: %+v, %v", d, err)
	}
	addr := startServer(t, h, nil)
	for i := 0; i < 2; i++ {
		r := get(t, addr, "GET", "/sub/")
		status(200)(t, r)
		bodyContains("</html>")(t, r)
	}
}
