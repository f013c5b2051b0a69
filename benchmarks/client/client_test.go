package client

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/benchmarks/servers"
	hop "github.com/hop-http/hop/client"
	"github.com/valyala/fasthttp"
)

var (
	nginxOnce sync.Once
	nginx     *Nginx
	nginxErr  error
)

// server returns the shared nginx, started on first use (pinned to SERVER_CPU when
// set) and stopped by TestMain.
func server(b *testing.B) string {
	nginxOnce.Do(func() {
		bin := os.Getenv("NGINX")
		if bin == "" {
			if p, err := exec.LookPath("nginx"); err == nil {
				bin = p
			} else {
				bin = "/usr/sbin/nginx"
			}
		}
		if _, err := os.Stat(bin); err != nil {
			nginxErr = fmt.Errorf("nginx not installed: %w", err)
			return
		}
		nginx, nginxErr = StartNginx(bin, os.Getenv("SERVER_CPU"))
	})
	if nginxErr != nil {
		if os.Getenv("HOP_REQUIRE_PEERS") == "1" {
			b.Fatal(nginxErr)
		}
		b.Skip(nginxErr)
	}
	return nginx.Addr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if nginx != nil {
		nginx.Stop()
	}
	os.Exit(code)
}

// conns lists the connection counts to benchmark: CONNS (e.g. "1 50"), default 1
// and 50.
func conns() []int {
	s := os.Getenv("CONNS")
	if s == "" {
		s = "1 50"
	}
	var out []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// runClients runs b.N requests over c goroutines (one connection each), each driving
// its own client loop made by newLoop, and reports the process's CPU time per request.
func runClients(b *testing.B, c int, newLoop func() func() error) {
	loops := make([]func() error, c)
	for i := range loops {
		loops[i] = newLoop()
	}
	// Warm up with c calls at once, so that the client opens its connections before
	// the timer starts (one call after the other would reuse a single connection).
	warm := make([]error, c)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			warm[i] = loop()
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range warm {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := CPUTime()
	began := time.Now()
	var next sync.WaitGroup
	var failed error
	var mu sync.Mutex
	per := b.N / c
	for i := 0; i < c; i++ {
		n := per
		if i < b.N%c {
			n++
		}
		next.Add(1)
		go func(loop func() error, n int) {
			defer next.Done()
			for j := 0; j < n; j++ {
				if err := loop(); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
			}
		}(loops[i], n)
	}
	next.Wait()
	elapsed := time.Since(began)
	cpu := CPUTime() - cpu0
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func check(status int, body []byte) error {
	if status != 200 || string(body) != servers.Body {
		return fmt.Errorf("got %d %q", status, body)
	}
	return nil
}

// hopLoop makes loops of GET requests to url with hop's native client, each reusing
// its own Request and Response.
func hopLoop(cl *hop.Client, url string) func() func() error {
	return func() func() error {
		var req hop.Request
		var resp hop.Response
		return func() error {
			if err := req.SetURL(url); err != nil {
				return err
			}
			if err := cl.Do(&req, &resp); err != nil {
				return err
			}
			return check(resp.Status, resp.Body)
		}
	}
}

// stdLoop makes loops of GET requests to url with a net/http client (whatever its
// transport), each reading the body into its own buffer.
func stdLoop(hc *http.Client, url string) func() func() error {
	return func() func() error {
		buf := make([]byte, 64)
		return func() error {
			resp, err := hc.Get(url)
			if err != nil {
				return err
			}
			n, _ := io.ReadFull(resp.Body, buf[:len(servers.Body)])
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return check(resp.StatusCode, buf[:n])
		}
	}
}

// BenchmarkGet compares the clients on GET requests to nginx, with 1 and 50
// concurrent connections.
func BenchmarkGet(b *testing.B) {
	addr := server(b)
	url := "http://" + addr + "/"
	for _, c := range conns() {
		b.Run("hop/conns="+strconv.Itoa(c), func(b *testing.B) {
			cl := &hop.Client{MaxConnsPerHost: c}
			defer cl.Close()
			runClients(b, c, hopLoop(cl, url))
		})
		b.Run("hop-nocheck/conns="+strconv.Itoa(c), func(b *testing.B) {
			// The liveness check skipped for connections idle less than a millisecond:
			// what the check costs.
			cl := &hop.Client{MaxConnsPerHost: c, LivenessCheckMinIdle: time.Millisecond}
			defer cl.Close()
			runClients(b, c, hopLoop(cl, url))
		})
		b.Run("fasthttp/conns="+strconv.Itoa(c), func(b *testing.B) {
			hc := &fasthttp.HostClient{Addr: addr, MaxConns: c}
			defer hc.CloseIdleConnections()
			runClients(b, c, func() func() error {
				req := fasthttp.AcquireRequest()
				resp := fasthttp.AcquireResponse()
				return func() error {
					req.SetRequestURI(url)
					if err := hc.Do(req, resp); err != nil {
						return err
					}
					return check(resp.StatusCode(), resp.Body())
				}
			})
		})
		b.Run("nethttp/conns="+strconv.Itoa(c), func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
			defer tr.CloseIdleConnections()
			runClients(b, c, stdLoop(&http.Client{Transport: tr}, url))
		})
		b.Run("hop-roundtripper/conns="+strconv.Itoa(c), func(b *testing.B) {
			cl := &hop.Client{MaxConnsPerHost: c}
			defer cl.Close()
			runClients(b, c, stdLoop(&http.Client{Transport: &hop.Transport{Client: cl}}, url))
		})
	}
}
