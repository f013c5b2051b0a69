package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

func TestMetricsAndAccessLog(t *testing.T) {
	origin := serve(t, &recorder{})
	dead := closedPort(t)
	var logBuf testnet.Buffer
	bal, _ := NewBalancer(RoundRobin, "http://"+origin)
	tr := &Transport{Client: testClient(t)}
	srv := &server.Server{}
	m := NewMetrics(srv, tr.Client, bal)
	p := &Proxy{Exchanger: tr, Metrics: m, AccessLog: slog.New(slog.NewJSONHandler(&logBuf, nil))}
	srv.Handler = p
	addr := serveWith(t, srv)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for range 4 {
		roundTrip(t, c, br, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	roundTrip(t, c, br, "GET http://"+dead+"/ HTTP/1.1\r\nHost: x\r\n\r\n")

	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	// The client's connection turns idle once the server is back to waiting for the
	// next request, a moment after the client read the last response.
	out := scrape()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out, `hop_proxy_client_connections{state="idle"} 1`) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		out = scrape()
	}
	for _, want := range []string{
		`hop_proxy_requests_total{code="2xx"} 4`,
		`hop_proxy_requests_total{code="5xx"} 1`,
		`hop_proxy_errors_total{kind="connection_refused"} 1`,
		`hop_proxy_upstream_requests_total{reused="false"} 1`,
		`hop_proxy_upstream_requests_total{reused="true"} 3`,
		`hop_proxy_upstream_reuse_ratio 0.75`,
		`hop_proxy_request_duration_seconds_count 5`,
		`hop_proxy_client_connections{state="open"} 1`,
		`hop_proxy_client_connections{state="idle"} 1`,
		`hop_proxy_upstream_connections{state="idle"} 1`,
		`hop_proxy_upstream_healthy{upstream="http://` + origin + `"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", out)
	}

	// Access log: one JSON record per request naming both connections.
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 5 {
		t.Fatalf("%d log records, want 5:\n%s", len(recs), logBuf.String())
	}
	for i, r := range recs[:4] {
		if r["conn"] != 1.0 || r["req"] != float64(i+1) || r["up_conn"] != 1.0 || r["up_reused"] != (i > 0) || r["status"] != 200.0 {
			t.Errorf("record %d: %v", i, r)
		}
		if _, ok := r["up_ms"]; !ok {
			t.Errorf("record %d has no up_ms", i)
		}
	}
	if r := recs[4]; r["status"] != 502.0 || r["error"] != "connection_refused" {
		t.Errorf("failed request's record: %v", r)
	}
}

// TestMetricsShuttingDown: a tunnel refused during shutdown is counted under its own
// kind, and each status class is one series.
func TestMetricsShuttingDown(t *testing.T) {
	m := NewMetrics(nil, nil, nil)
	addr, p := forwardProxy(t, func(p *Proxy, _ *Transport) { p.Metrics = m; p.ConnectPorts = []int{1} })
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, _ := get(t, addr, "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n")
	if resp.StatusCode != 503 {
		t.Fatalf("CONNECT during shutdown: %d", resp.StatusCode)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	if !strings.Contains(out, `hop_proxy_errors_total{kind="shutting_down"} 1`+"\n") {
		t.Errorf("shutting_down not counted:\n%s", out)
	}
	if strings.Count(out, `hop_proxy_requests_total{code="1xx"}`) != 1 || !strings.Contains(out, `hop_proxy_requests_total{code="5xx"} 1`+"\n") {
		t.Errorf("requests_total series:\n%s", out)
	}
}
