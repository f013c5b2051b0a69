package integration

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"text/template"

	"github.com/hop-http/hop/internal/testpeer"
)

// TestNginxReverseProxy puts nginx in front of hop (testdata/nginx.conf.tmpl) with a
// counting relay between them, so hop serves nginx's upstream client:
//   - 500 requests (4 at a time) through an HTTP/1.1 upstream with keepalive must all
//     succeed over a handful of upstream connections;
//   - 50 requests through nginx's default upstream protocol (HTTP/1.0, Connection:
//     close, no connection cache) must all succeed, one upstream connection each.
//
// nginx's access log must show 200 from the upstream for every request, and its error
// log no warning or error.
func TestNginxReverseProxy(t *testing.T) {
	const (
		keepAliveRequests = 500
		workers           = 4
		http10Requests    = 50
	)
	tmpl, err := template.ParseFiles(testdata(t, "nginx.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startPlaintext(t, m.adapter)
			rl := startRelay(t, s.addr)
			ng := startNginx(t, tmpl, rl.addr())
			base := "http://" + ng.Addrs[0]

			var dials atomic.Int64
			client := newClient(t, workers, &dials)
			errs := inParallel(keepAliveRequests, workers, func(i int) error {
				resp, err := getHello(context.Background(), client, fmt.Sprintf("%s/ka/%d?i=%d", base, i, i))
				if err != nil {
					return fmt.Errorf("via nginx, request %d: %w", i, err)
				}
				if srv := resp.Header.Get("Server"); !strings.HasPrefix(srv, "nginx") {
					return fmt.Errorf("via nginx, request %d: Server %q, want nginx's", i, srv)
				}
				return nil
			})
			for _, err := range errs {
				t.Error(err)
			}
			keepAliveConns := rl.accepted.Load()

			for i := range http10Requests {
				if _, err := getHello(context.Background(), client, fmt.Sprintf("%s/http10/%d", base, i)); err != nil {
					t.Fatalf("via nginx (HTTP/1.0 upstream), request %d: %v", i, err)
				}
			}

			ng.Stop(t) // closes nginx's idle upstream connections
			rl.close()
			http10Conns := rl.accepted.Load() - keepAliveConns
			t.Logf("nginx %s: %d requests over %d upstream HTTP/1.1 connections; %d HTTP/1.0 requests over %d connections",
				m.name, keepAliveRequests, keepAliveConns, http10Requests, http10Conns)
			if keepAliveConns < 1 || keepAliveConns > 2*workers {
				t.Errorf("nginx opened %d upstream connections for %d keep-alive requests, want 1..%d",
					keepAliveConns, keepAliveRequests, 2*workers)
			}
			if http10Conns != http10Requests {
				t.Errorf("nginx opened %d upstream connections for %d HTTP/1.0 requests, want one each",
					http10Conns, http10Requests)
			}
			if n := rl.dialFails.Load(); n != 0 {
				t.Errorf("relay could not reach hop %d times", n)
			}

			access := ng.File("access.log")
			lines := strings.Split(strings.TrimSpace(access), "\n")
			ok := 0
			for _, l := range lines {
				if strings.HasPrefix(l, "200 200 ") {
					ok++
				}
			}
			if want := keepAliveRequests + http10Requests; len(lines) != want || ok != want {
				t.Errorf("nginx access log: %d lines, %d with status 200 from hop; want %d of each\n%s",
					len(lines), ok, want, tail(access))
			}
			errLog := ng.File("error.log")
			for _, level := range []string{"[warn]", "[error]", "[crit]", "[alert]", "[emerg]"} {
				if strings.Contains(errLog, level) {
					t.Errorf("nginx error log has %s entries:\n%s", level, tail(errLog))
					break
				}
			}
		})
	}
}

// startNginx renders the config for upstream and starts nginx on a free loopback port
// (testpeer.StartNginx, which stops it at cleanup).
func startNginx(t *testing.T, tmpl *template.Template, upstream string) *testpeer.Nginx {
	t.Helper()
	return testpeer.StartNginx(t, 1, func(dir string, addrs []string) string {
		var b strings.Builder
		if err := tmpl.Execute(&b, struct{ Dir, Listen, Upstream string }{dir, addrs[0], upstream}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	})
}
