package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNetHTTPClient sends 1000 requests with net/http's client in both modes: 200
// sequentially (one connection for all of them) and 800 from 8 goroutines over a
// Transport that keeps 8 idle connections. Every response must be 200 "Hello, World!"
// with the plaintext fields, and connections must be reused (httptrace GotConn).
func TestNetHTTPClient(t *testing.T) {
	const (
		sequential = 200
		parallel   = 800
		workers    = 8
	)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startPlaintext(t, m.adapter)
			var dials atomic.Int64
			client := newClient(t, workers, &dials)

			var reused, fresh atomic.Int64
			get := func(i int) error {
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
					if info.Reused {
						reused.Add(1)
					} else {
						fresh.Add(1)
					}
				}}
				ctx := httptrace.WithClientTrace(context.Background(), trace)
				resp, err := getHello(ctx, client, fmt.Sprintf("%s/go/%d?i=%d", s.url, i, i))
				switch {
				case err != nil:
					return fmt.Errorf("request %d: %w", i, err)
				case resp.Header.Get("Server") != "hop":
					return fmt.Errorf("request %d: Server %q", i, resp.Header.Get("Server"))
				case resp.Close:
					return fmt.Errorf("request %d: the server asked to close the connection", i)
				}
				return nil
			}

			for i := range sequential {
				if err := get(i); err != nil {
					t.Fatal(err)
				}
			}
			if d, r := dials.Load(), reused.Load(); d != 1 || r != sequential-1 {
				t.Errorf("%d sequential requests: %d dials and %d reused connections, want 1 and %d",
					sequential, d, r, sequential-1)
			}

			for _, err := range inParallel(parallel, workers, func(i int) error { return get(sequential + i) }) {
				t.Error(err)
			}
			total := reused.Load() + fresh.Load()
			if total != sequential+parallel {
				t.Errorf("GotConn called %d times, want %d", total, sequential+parallel)
			}
			// At most one connection per worker, plus a few the Transport may dial
			// while a busy one is about to come back.
			if d := dials.Load(); d > 2*workers {
				t.Errorf("%d requests needed %d connections, want at most %d", total, d, 2*workers)
			}
			t.Logf("net/http client %s: %d requests, %d on reused connections, %d dials",
				m.name, total, reused.Load(), dials.Load())
		})
	}
}

// getHello GETs url with client and checks the plaintext response: status 200, body
// "Hello, World!", Content-Length 13, Content-Type text/plain and a valid Date. The
// returned response's body is already read and closed.
func getHello(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	switch {
	case resp.StatusCode != 200:
		return nil, fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	case string(body) != hello:
		return nil, fmt.Errorf("body %q, want %q", body, hello)
	case resp.ContentLength != int64(len(hello)):
		return nil, fmt.Errorf("Content-Length %d, want %d", resp.ContentLength, len(hello))
	case resp.Header.Get("Content-Type") != "text/plain":
		return nil, fmt.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
		return nil, fmt.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	return resp, nil
}

// newClient returns a net/http client for loopback tests that keeps up to idle
// connections per host and counts its dials.
func newClient(t *testing.T, idle int, dials *atomic.Int64) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		Proxy: nil, // loopback only, whatever the environment says
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// inParallel calls fn(0..n-1) from workers goroutines and returns the errors; a worker
// stops at its first error.
func inParallel(n, workers int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return all
}
