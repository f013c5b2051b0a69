package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/internal/testpeer"
	"github.com/hop-http/hop/server"
)

// cacheOrigin serves /page (HTML that fetches /data and shows its Cache-Status),
// /data and /big/N (N bytes, streamed slowly), all cacheable, counting the requests
// other than /favicon.ico.
func cacheOrigin(t *testing.T, n *atomic.Int64) string {
	return testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Path()) != "/favicon.ico" {
			n.Add(1)
		}
		h := w.Header()
		h.Set("Cache-Control", "max-age=600")
		path := string(r.Path())
		switch {
		case path == "/page":
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(`<!DOCTYPE html><html><body><p id="cs">pending</p><script>
fetch("/data").then(function (r) {
  return r.text().then(function (b) {
    document.getElementById("cs").textContent = "status=" + r.headers.get("Cache-Status") + " body=" + b;
  });
});
</script></body></html>`))
		case path == "/data":
			h.Set("Content-Type", "text/plain")
			w.Write([]byte("data"))
		case strings.HasPrefix(path, "/big/"):
			size, _ := strconv.Atoi(path[len("/big/"):])
			w.SetContentLength(int64(size))
			full := bigBody(path, size)
			for sent := 0; sent < size; sent += 64 << 10 {
				if _, err := w.Write(full[sent:min(sent+64<<10, size)]); err != nil {
					return
				}
				w.Flush()
				time.Sleep(2 * time.Millisecond)
			}
		default:
			w.Write([]byte("hello from the origin"))
		}
	}))
}

// bigBody is the repeating content of /big/ bodies: the path, over and over.
func bigBody(path string, n int) []byte {
	return bytes.Repeat([]byte(path+"|"), n/(len(path)+1)+1)[:n]
}

// TestCacheCurl: curl through `hop proxy --upstream ORIGIN --cache` twice; the second
// answer comes from the cache (Cache-Status: hit, Age) and the origin saw one request;
// the admin endpoint's metrics count it, and its purge removes it.
func TestCacheCurl(t *testing.T) {
	curl := peer(t, "curl")
	var n atomic.Int64
	origin := cacheOrigin(t, &n)
	admin := freeAddr(t)
	p := startHop(t, "hop proxy --cache", "proxy", "--upstream", "http://"+origin, "--cache", "--admin", admin)
	dir := t.TempDir()
	first := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-D", "-", p.url+"/hello")
	second := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-D", "-", p.url+"/hello")
	if !strings.Contains(first.stdout, "Cache-Status: hop; fwd=uri-miss; fwd-status=200; stored") {
		t.Errorf("first curl:\n%s", first.stdout)
	}
	if !strings.Contains(second.stdout, "Cache-Status: hop; hit") || !strings.Contains(second.stdout, "Age: ") ||
		!strings.Contains(second.stdout, "hello from the origin") {
		t.Errorf("second curl:\n%s", second.stdout)
	}
	if n.Load() != 1 {
		t.Errorf("origin saw %d requests, want 1", n.Load())
	}
	metrics := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "http://"+admin+"/metrics")
	if !strings.Contains(metrics.stdout, "hop_cache_hits_total 1") || !strings.Contains(metrics.stdout, "hop_cache_bytes_stored") {
		t.Errorf("metrics lack the cache's counters:\n%s", grepLines(metrics.stdout, "hop_cache_"))
	}
	purge := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-X", "POST", "http://"+admin+"/purge?url="+p.url+"/hello")
	if !strings.Contains(purge.stdout, "purged") {
		t.Errorf("purge: %q", purge.stdout)
	}
	third := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-D", "-", p.url+"/hello")
	if !strings.Contains(third.stdout, "fwd=uri-miss") || n.Load() != 2 {
		t.Errorf("after purge (origin %d requests):\n%s", n.Load(), third.stdout)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// killableHop starts `hop args... --addr ADDR` as a process the test may kill
// (startHop's cleanup would report that as a failure) and waits until it listens.
func killableHop(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(hop(t), append(args, "--addr", addr, "--access-log", "off")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(startTimeout)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return cmd, "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("hop %s did not listen on %s", strings.Join(args, " "), addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCacheChromium: headless Chromium loads a page through the caching reverse
// proxy twice, each time with a fresh profile (so its own cache cannot answer); the
// page shows the Cache-Status of a fetch it makes: a miss the first time, a hit the
// second, and the origin saw each URL once.
func TestCacheChromium(t *testing.T) {
	testpeer.Program(t, "chromium", "chromium-browser")
	var n atomic.Int64
	origin := cacheOrigin(t, &n)
	p := startHop(t, "hop proxy --cache", "proxy", "--upstream", "http://"+origin, "--cache")
	dir := t.TempDir()
	load := func(profile string) string {
		dom := testpeer.Chromium(t, filepath.Join(dir, profile), p.url+"/page", "--virtual-time-budget=5000")
		return regexp.MustCompile(`status=[^<]*`).FindString(dom)
	}
	if got := load("one"); !strings.Contains(got, "fwd=uri-miss") || !strings.Contains(got, "body=data") {
		t.Errorf("first load: %q", got)
	}
	if got := load("two"); !strings.Contains(got, "hop; hit") || !strings.Contains(got, "body=data") {
		t.Errorf("second load: %q", got)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("origin saw %d requests for the page and its data over two loads, want 2", got)
	}
}

// TestCacheDiskKill9: hop proxy --cache-dir is killed with SIGKILL while it writes
// large entries; after a restart on the same directory every response is complete
// and correct (a hit or a fresh fetch), never a partial or corrupt entry, and no
// temporary file is left.
func TestCacheDiskKill9(t *testing.T) {
	var n atomic.Int64
	origin := cacheOrigin(t, &n)
	dir := filepath.Join(t.TempDir(), "cache")
	const urls, size = 8, 2 << 20 // 2 MiB each, streamed over ~70 ms
	cmd, purl := killableHop(t, "proxy", "--upstream", "http://"+origin, "--cache-dir", dir)
	// One Host for both runs: the key is the effective request URI.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: hostTransport("cache.test")}
	// Complete a few entries first.
	for i := range 3 {
		resp, err := hc.Get(fmt.Sprintf("%s/big/%d", purl, size+i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Then kill the proxy while the others stream.
	var wg sync.WaitGroup
	for i := 3; i < urls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := hc.Get(fmt.Sprintf("%s/big/%d", purl, size+i))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(30 * time.Millisecond)
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	wg.Wait()

	q := startHop(t, "hop proxy --cache-dir (restarted)", "proxy", "--upstream", "http://"+origin, "--cache-dir", dir)
	hits := 0
	for i := range urls {
		path := fmt.Sprintf("/big/%d", size+i)
		resp, err := hc.Get(q.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(body, bigBody(path, size+i)) {
			t.Errorf("%s after restart: %d bytes, %v, Cache-Status %q: not the complete body", path, len(body), err, resp.Header.Get("Cache-Status"))
		}
		if strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			hits++
		}
	}
	if hits < 3 {
		t.Errorf("%d hits after restart; the 3 entries completed before the kill should have survived", hits)
	}
	tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(tmp) != 0 {
		t.Errorf("%d temporary files left after restart", len(tmp))
	}
	t.Logf("after kill -9 and restart: %d of %d URLs were hits", hits, urls)
}

// hostTransport sends every request with Host: host.
type hostTransport string

func (h hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = string(h)
	return http.DefaultTransport.RoundTrip(r)
}
