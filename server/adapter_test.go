package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// adapterMux is a net/http application with routing, headers, status codes, request
// bodies, query parameters and streaming.
func adapterMux(t *testing.T, proceed <-chan struct{}) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if r.ContentLength >= 0 && r.ContentLength != int64(len(b)) {
			http.Error(w, "ContentLength mismatch", 400)
			return
		}
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.Header().Set("X-Sum", fmt.Sprintf("%x", sha256.Sum256(b)))
		w.Write(b)
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil {
			http.Error(w, "bad code", 400)
			return
		}
		w.Header().Set("X-Code", r.PathValue("code"))
		w.WriteHeader(code)
		if code != 204 && code != 304 {
			fmt.Fprintf(w, "status %d", code)
		}
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s|%s|%s|%s|%v", r.Proto, r.Host, r.RequestURI, r.Header.Get("User-Agent"), r.RemoteAddr != "")
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "no Flusher", 500)
			return
		}
		io.WriteString(w, "part1\n")
		f.Flush()
		select {
		case <-proceed:
		case <-r.Context().Done():
			return
		case <-time.After(ioWait):
			t.Errorf("the client did not receive the first part while the handler ran")
		}
		io.WriteString(w, "part2\n")
	})
	return mux
}

// TestFromHTTP serves a net/http application through FromHTTP and drives it with
// net/http's own client: ~200 requests from 4 workers over kept-alive connections.
func TestFromHTTP(t *testing.T) {
	var opened atomic.Int64
	proceed := make(chan struct{})
	ts := startServer(t, &server.Server{
		Handler: server.FromHTTP(adapterMux(t, proceed)),
		ConnState: func(_ server.ConnInfo, st server.ConnState) {
			if st == server.StateNew {
				opened.Add(1)
			}
		},
	})
	base := "http://" + ts.addr
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: ioWait}

	t.Run("streaming", func(t *testing.T) {
		resp, err := hc.Get(base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("TransferEncoding %v, want chunked", resp.TransferEncoding)
		}
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "part1\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		close(proceed)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "part2\n" {
			t.Errorf("rest %q, %v", rest, err)
		}
	})

	t.Run("info", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/info?x=1", nil)
		req.Header.Set("User-Agent", "hop-test")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "HTTP/1.1|" + ts.addr + "|/info?x=1|hop-test|true"; string(b) != want {
			t.Errorf("info %q, want %q", b, want)
		}
	})

	const workers, perWorker = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if err := adapterRequest(hc, base, w*perWorker+i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Fatalf("%d of %d requests failed", n, workers*perWorker)
	}
	// Keep-alive: a handful of connections served 200 requests.
	if o := opened.Load(); o > 3*workers {
		t.Errorf("%d connections for %d requests from %d workers: connections are not reused", o, workers*perWorker, workers)
	}
}

// adapterRequest makes the i-th request of TestFromHTTP and checks its response.
func adapterRequest(hc *http.Client, base string, i int) error {
	check := func(resp *http.Response, err error, status int, body string, hdr map[string]string) error {
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("request %d: body: %w", i, err)
		}
		if resp.StatusCode != status || string(b) != body {
			return fmt.Errorf("request %d: %d %q, want %d %q", i, resp.StatusCode, truncate(b, 80), status, truncate([]byte(body), 80))
		}
		for k, v := range hdr {
			if got := strings.Join(resp.Header.Values(k), ","); got != v {
				return fmt.Errorf("request %d: %s %q, want %q", i, k, got, v)
			}
		}
		return nil
	}
	switch i % 4 {
	case 0:
		name := fmt.Sprintf("n%d&x", i)
		resp, err := hc.Get(base + "/hello?name=" + strings.ReplaceAll(name, "&", "%26"))
		return check(resp, err, 200, "hello "+name, map[string]string{"X-Multi": "a,b", "Content-Type": "text/plain; charset=utf-8"})
	case 1:
		size := (i * 7919) % (150 << 10) // some bodies exceed the response buffer
		body := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		resp, err := hc.Post(base+"/echo", "application/x-test", bytes.NewReader(body))
		return check(resp, err, 200, string(body), map[string]string{
			"Content-Type": "application/x-test", "X-Sum": fmt.Sprintf("%x", sha256.Sum256(body)),
		})
	case 2:
		// A chunked upload: the body has no known length.
		body := strings.Repeat("chunk", i)
		req, _ := http.NewRequest("POST", base+"/echo", io.MultiReader(strings.NewReader(body)))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "text/x-chunked")
		resp, err := hc.Do(req)
		return check(resp, err, 200, body, map[string]string{"Content-Type": "text/x-chunked"})
	default:
		codes := []int{200, 201, 404, 418, 500, 204, 410}
		code := codes[(i/4)%len(codes)]
		body := fmt.Sprintf("status %d", code)
		if code == 204 {
			body = ""
		}
		resp, err := hc.Get(base + "/status/" + strconv.Itoa(code))
		return check(resp, err, code, body, map[string]string{"X-Code": strconv.Itoa(code)})
	}
}

// TestFromHTTPNotFoundAndMethods: the mux's own 404 and 405 pass through.
func TestFromHTTPNotFoundAndMethods(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(adapterMux(t, nil))})
	c := dial(t, ts.addr)
	if r := c.roundTrip("GET", get("/nope")); r.Status != 404 {
		t.Errorf("unknown path: %s", r)
	}
	if r := c.roundTrip("DELETE", "DELETE /hello HTTP/1.1\r\nHost: test\r\n\r\n"); r.Status != 405 || r.get("Allow") == "" {
		t.Errorf("wrong method: %s, Allow %q", r, r.get("Allow"))
	}
	// A handler that writes nothing answers 200 with an empty body.
	ts2 := startServer(t, &server.Server{Handler: server.FromHTTP(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))})
	c2 := dial(t, ts2.addr)
	if r := c2.roundTrip("GET", get("/")); r.Status != 200 || len(r.Body) != 0 || r.get("Content-Length") != "0" {
		t.Errorf("empty handler: %s", r)
	}
}

// TestFromHTTPContextCanceled: the http.Request context ends when the client leaves.
func TestFromHTTPContextCanceled(t *testing.T) {
	started := make(chan struct{}, 1)
	result := make(chan error, 1)
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			result <- nil
		case <-time.After(3 * ioWait):
			result <- context.DeadlineExceeded
		}
	}))})
	c := dial(t, ts.addr)
	c.write(get("/"))
	waitFor(t, started, "the handler")
	c.nc.Close()
	if err := waitFor(t, result, "the context to end"); err != nil {
		t.Errorf("context not canceled: %v", err)
	}
}

// TestFromHTTPContext: the adapter's request context follows net/http's: cancelled
// when ServeHTTP returns (a context kept or derived from it sees that), carrying the
// local address, and cancelled when the client goes away also when Done is first asked
// for from another goroutine while the handler is busy.
func TestFromHTTPContext(t *testing.T) {
	kept := make(chan context.Context, 4)
	derived := make(chan context.Context, 4)
	gone := make(chan error, 1)
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.URL.Path {
		case "/keep":
			if ctx.Err() != nil {
				t.Errorf("context ended while the handler runs: %v", ctx.Err())
			}
			if a, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); !ok || a.String() == "" {
				t.Errorf("LocalAddrContextKey: %v", ctx.Value(http.LocalAddrContextKey))
			}
			d, cancel := context.WithCancel(ctx)
			_ = cancel
			kept <- ctx
			derived <- d
			io.WriteString(w, "kept")
		case "/gone":
			// Another goroutine asks first, while this one writes and waits.
			go func() {
				select {
				case <-ctx.Done():
					gone <- nil
				case <-time.After(3 * ioWait):
					gone <- context.DeadlineExceeded
				}
			}()
			w.(http.Flusher).Flush()
			select {
			case <-ctx.Done():
			case <-time.After(3 * ioWait):
			}
		}
	}))})
	c := dial(t, ts.addr)
	if r := c.roundTrip("GET", get("/keep")); r.Status != 200 {
		t.Fatalf("response %s", r)
	}
	for _, ch := range []chan context.Context{kept, derived} {
		ctx := <-ch
		select {
		case <-ctx.Done():
		case <-time.After(ioWait):
			t.Fatal("context not cancelled after ServeHTTP returned")
		}
		if ctx.Err() != context.Canceled {
			t.Errorf("Err() = %v after ServeHTTP returned", ctx.Err())
		}
		if v := ctx.Value(http.LocalAddrContextKey); v != nil {
			t.Errorf("LocalAddrContextKey after the request: %v", v)
		}
	}
	c.write(get("/gone"))
	c.readHead("GET")
	c.nc.Close()
	if err := waitFor(t, gone, "the context to end"); err != nil {
		t.Errorf("context not cancelled when the client went away: %v", err)
	}
}

// TestFromHTTPKeptRequest: nothing of a request is reused for the next one: a handler
// that keeps the *http.Request, its URL, fields and body after returning still sees
// them unchanged while later requests on the same connection are served.
func TestFromHTTPKeptRequest(t *testing.T) {
	var kept []*http.Request
	var mu sync.Mutex
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		kept = append(kept, r)
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
	}))})
	c := dial(t, ts.addr)
	const n = 20
	for i := 0; i < n; i++ {
		req := head(fmt.Sprintf("POST /r%d?i=%d HTTP/1.1", i, i), "Host: test", fmt.Sprintf("X-I: %d", i),
			fmt.Sprintf("X-Pad: %s", strings.Repeat("p", i*40)), "Content-Length: 2") + "ab"
		if r := c.roundTrip("POST", req); r.Status != 200 {
			t.Fatalf("request %d: %s", i, r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, r := range kept {
		if r.URL.Path != fmt.Sprintf("/r%d", i) || r.URL.RawQuery != fmt.Sprintf("i=%d", i) ||
			r.RequestURI != fmt.Sprintf("/r%d?i=%d", i, i) || r.Header.Get("X-I") != strconv.Itoa(i) ||
			r.Header.Get("X-Pad") != strings.Repeat("p", i*40) || r.Host != "test" {
			t.Errorf("request %d kept as %s %v %v", i, r.RequestURI, r.URL, r.Header)
		}
		if _, err := r.Body.Read(make([]byte, 1)); err != http.ErrBodyReadAfterClose {
			t.Errorf("request %d: body read after ServeHTTP: %v", i, err)
		}
	}
}

// TestFromHTTPAllocs: a plaintext request through the net/http adapter allocates at
// most 4 objects (the *http.Request, its Header map in two, and one block with the
// context, URL and strings), counted over many requests on one in-memory connection.
// The conversion alone is held to 4 under the race detector too (TestToHTTPRequestAllocs).
func TestFromHTTPAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops objects: counted by TestToHTTPRequestAllocs instead")
	}
	h := server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = plainType
		w.Write(benchHello)
	}))
	srv := &server.Server{Handler: h, MaxRequestsPerConn: -1}
	defer srv.Close()
	serveMem(t, srv, 1, 100) // warm up pools
	const n = 20000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	serveMem(t, srv, 1, n)
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 4.5 {
		t.Errorf("%.2f allocations per request, want at most 4", per)
	}
}

var plainType = []string{"text/plain"}
