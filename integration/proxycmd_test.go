package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

// TestProxyForwardContract: the `hop proxy` contract of DESIGN.md in forward mode,
// through the built binary and curl -x: Via on the response and at the origin,
// --cache serving the second request, --admin /metrics counting both and its purge
// removing the entry.
func TestProxyForwardContract(t *testing.T) {
	curl := peer(t, "curl")
	var n atomic.Int64
	origin := cacheOrigin(t, &n)
	admin := freeAddr(t)
	fwd := startHop(t, "hop proxy (forward, --cache)", "proxy", "--cache", "--admin", admin, "--name", "fwd",
		"--access-log", "off")
	dir := t.TempDir()
	target := "http://" + origin + "/hello"
	first := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-x", fwd.url, "-D", "-", target)
	second := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-x", fwd.url, "-D", "-", target)
	for i, r := range []peerRun{first, second} {
		if !strings.Contains(r.stdout, "\r\nVia: 1.1 fwd\r\n") || !strings.Contains(r.stdout, "hello from the origin") {
			t.Errorf("response %d through the forward proxy lacks Via or the body:\n%s", i+1, r.stdout)
		}
	}
	if !strings.Contains(first.stdout, "fwd=uri-miss") || !strings.Contains(second.stdout, "Cache-Status: hop; hit") {
		t.Errorf("Cache-Status: first\n%s\nsecond\n%s", first.stdout, second.stdout)
	}
	// What the origin saw: the proxy's Via (cacheOrigin echoes nothing, so ask a
	// path the cache does not store).
	echo := testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("via=" + string(r.Header.Get("Via"))))
	}))
	if r := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-x", fwd.url, "http://"+echo+"/"); r.stdout != "via=1.1 fwd" {
		t.Errorf("the origin saw %q, want via=1.1 fwd", r.stdout)
	}
	metrics := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "http://"+admin+"/metrics").stdout
	for _, want := range []string{`hop_proxy_requests_total{code="2xx"} 3`, "hop_cache_hits_total 1", "hop_cache_misses_total 2"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(metrics, "hop_"))
		}
	}
	purge := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-X", "POST", "http://"+admin+"/purge?url="+target)
	if strings.TrimSpace(purge.stdout) != "purged" {
		t.Errorf("purge: %q", purge.stdout)
	}
	third := mustRunPeer(t, dir, curl, "-sS", "--max-time", "30", "-x", fwd.url, "-D", "-", target)
	if !strings.Contains(third.stdout, "fwd=uri-miss") || n.Load() != 2 {
		t.Errorf("after the purge (origin saw %d requests):\n%s", n.Load(), third.stdout)
	}
}

// tunnelThrough opens a CONNECT tunnel through the proxy at addr to target.
func tunnelThrough(t *testing.T, addr, target string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		t.Fatalf("CONNECT: %q %v", status, err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			return c, br
		}
	}
}

// echoThrough writes msg into a tunnel to an echo server and reads it back.
func echoThrough(t *testing.T, c net.Conn, br *bufio.Reader, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
		t.Fatalf("tunnel echo: %q %v, want %q", got, err, msg)
	}
}

// echoServer echoes the bytes of every connection.
func echoServer(t *testing.T) string {
	return testnet.Raw(t, func(c net.Conn, _ int) { io.Copy(c, c) })
}

// TestProxySignals: SIGINT and SIGTERM stop hop proxy gracefully: a request in
// flight completes whole, an open CONNECT tunnel keeps carrying bytes until its
// client closes it, and then the proxy exits 0.
func TestProxySignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			echo := echoServer(t)
			var started atomic.Int64
			slow := testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
				started.Add(1)
				time.Sleep(700 * time.Millisecond)
				w.Write([]byte("late but whole"))
			}))
			curl := peer(t, "curl")
			_, port, _ := net.SplitHostPort(echo)
			p := startHop(t, "hop proxy", "proxy", "--connect-ports", port, "--access-log", "off")
			c, br := tunnelThrough(t, p.addr, echo)
			echoThrough(t, c, br, "before;")

			type result struct {
				body string
				err  error
			}
			res := make(chan result, 1)
			go func() {
				r := runPeer(t, t.TempDir(), curl, "-sS", "--max-time", "30", "-x", p.url, "http://"+slow+"/")
				res <- result{r.stdout, r.err}
			}()
			for deadline := time.Now().Add(20 * time.Second); started.Load() == 0; {
				if time.Now().After(deadline) {
					t.Fatal("the request did not reach the origin")
				}
				time.Sleep(5 * time.Millisecond)
			}
			exited := make(chan int, 1)
			go func() { exited <- p.signal(t, sig, 30*time.Second) }()
			if r := <-res; r.err != nil || r.body != "late but whole" {
				t.Errorf("request in flight at %v: %q, %v", sig, r.body, r.err)
			}
			echoThrough(t, c, br, "after the signal;")
			select {
			case code := <-exited:
				t.Fatalf("hop proxy exited (%d) with a tunnel open; log:\n%s", code, p.log())
			case <-time.After(200 * time.Millisecond):
			}
			c.Close()
			select {
			case code := <-exited:
				log := p.log()
				if code != 0 || !strings.Contains(log, "shutting down") || !strings.Contains(log, "waiting for 1 tunnels") {
					t.Errorf("exit %d after %v; log:\n%s", code, sig, log)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("hop proxy did not exit after the tunnel closed")
			}
		})
	}
}

// TestProxyShutdownCutsTunnels: a tunnel still open when --shutdown-timeout runs out
// is closed, the proxy exits (status 1, saying so) and the tunnel's client sees the
// connection end.
func TestProxyShutdownCutsTunnels(t *testing.T) {
	echo := echoServer(t)
	_, port, _ := net.SplitHostPort(echo)
	p := startHop(t, "hop proxy", "proxy", "--connect-ports", port, "--access-log", "off", "--shutdown-timeout", "300ms")
	c, br := tunnelThrough(t, p.addr, echo)
	echoThrough(t, c, br, "hello;")
	start := time.Now()
	code := p.signal(t, syscall.SIGTERM, 20*time.Second)
	if code != 1 || !regexp.MustCompile(`tunnels still open at the deadline were closed`).MatchString(p.log()) {
		t.Errorf("exit %d; log:\n%s", code, p.log())
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before --shutdown-timeout", el)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil || os.IsTimeout(err) {
		t.Errorf("read from the tunnel after the proxy exited: %v, want the connection closed", err)
	}
}
