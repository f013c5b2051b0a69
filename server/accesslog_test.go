package server_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// recordLog is a slog.Handler that keeps every record's attributes.
type recordLog struct {
	mu   sync.Mutex
	recs []map[string]any
}

func (l *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *recordLog) WithGroup(string) slog.Handler            { return l }

func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.Any()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, m)
	l.mu.Unlock()
	return nil
}

// records waits until n records were logged and returns them.
func (l *recordLog) records(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(ioWait)
	for {
		l.mu.Lock()
		recs := append([]map[string]any(nil), l.recs...)
		l.mu.Unlock()
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("log has %v, want %d records", recs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// AccessLog names the connection and the request's number on it, so reuse shows, and
// logs a handler that panics with the 500 the client gets (the panic goes on to the
// server, which answers it), body bytes as sent.
func TestAccessLog(t *testing.T) {
	var log recordLog
	h := server.AccessLog(server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/panic":
			panic("boom")
		case "/gz":
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.WriteHeader(201)
		w.WriteString("hello")
	}), slog.New(&log))
	ts := startServer(t, &server.Server{Handler: h})
	c1 := dial(t, ts.addr)
	c1.roundTrip("GET", get("/a"))
	c1.roundTrip("GET", get("/gz?x=1"))
	c2 := dial(t, ts.addr)
	if r := c2.roundTrip("GET", get("/panic")); r.Status != 500 {
		t.Fatalf("panicking handler: %s", r)
	}
	recs := log.records(t, 3)
	want := []struct {
		conn          uint64
		req           int64
		target        string
		status, bytes int64
		enc           any
	}{
		{1, 1, "/a", 201, 5, nil},
		{1, 2, "/gz?x=1", 201, 5, "gzip"},
		{2, 1, "/panic", 500, int64(len("Internal Server Error\n")), nil},
	}
	for i, w := range want {
		r := recs[i]
		if r["msg"] != "request" || r["conn"] != w.conn || r["req"] != w.req || r["target"] != w.target ||
			r["status"] != w.status || r["bytes"] != w.bytes || r["enc"] != w.enc || r["method"] != "GET" ||
			r["remote"] == "" || r["ms"] == nil {
			t.Errorf("record %d: %v", i, r)
		}
	}
}

// AccessLog logs the status the client got when the server replaced the handler's
// response: 500 for a body overrun, 501 for a CONNECT nobody took over, 400 for an
// unread chunked body found malformed (each was logged with the handler's 200).
func TestAccessLogSentStatus(t *testing.T) {
	var log recordLog
	h := server.AccessLog(server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Path()) == "/overrun" {
			w.SetContentLength(2)
			w.WriteString("too long")
			return
		}
		w.WriteString("ok")
	}), slog.New(&log))
	ts := startServer(t, &server.Server{Handler: h, LingerTimeout: ioWait})
	for _, tc := range []struct {
		req    string
		status int
	}{
		{get("/overrun"), 500},
		{head("CONNECT example.test:443 HTTP/1.1", "Host: example.test:443"), 501},
		{chunkedPost("0x5\r\nhello\r\n0\r\n\r\n"), 400},
	} {
		c := dial(t, ts.addr)
		method, _, _ := strings.Cut(tc.req, " ")
		if r := c.roundTrip(method, tc.req); r.Status != tc.status {
			t.Fatalf("%q: %s, want %d", tc.req, r, tc.status)
		}
	}
	// The records come in the order the connections settled, not the order sent.
	got := map[any]any{}
	for _, rec := range log.records(t, 3) {
		got[rec["target"]] = rec["status"]
	}
	for target, want := range map[string]int64{"/overrun": 500, "example.test:443": 501, "/": 400} {
		if got[target] != want {
			t.Errorf("%s: status %v, want %d (records %v)", target, got[target], want, got)
		}
	}
}
