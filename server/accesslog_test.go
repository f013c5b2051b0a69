package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// records waits until the buffer holds n JSON lines and decodes them.
func (s *syncBuffer) records(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(ioWait)
	for {
		s.mu.Lock()
		text := strings.TrimSpace(s.b.String())
		s.mu.Unlock()
		lines := strings.Split(text, "\n")
		if text != "" && len(lines) >= n {
			var out []map[string]any
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				out = append(out, m)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("log has %q, want %d records", text, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// AccessLog names the connection and the request's number on it, so reuse shows, and
// logs a handler that panics with the 500 the client gets (the panic goes on to the
// server, which answers it).
func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	h := server.AccessLog(server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/panic":
			panic("boom")
		case "/gz":
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.WriteHeader(201)
		w.WriteString("hello")
	}), slog.New(slog.NewJSONHandler(&buf, nil)))
	ts := startServer(t, &server.Server{Handler: h})
	c1 := dial(t, ts.addr)
	c1.roundTrip("GET", get("/a"))
	c1.roundTrip("GET", get("/gz?x=1"))
	c2 := dial(t, ts.addr)
	if r := c2.roundTrip("GET", get("/panic")); r.Status != 500 {
		t.Fatalf("panicking handler: %s", r)
	}
	recs := buf.records(t, 3)
	want := []struct {
		conn, req      float64
		target         string
		status, nbytes float64
		enc            any
	}{
		{1, 1, "/a", 201, 5, nil},
		{1, 2, "/gz?x=1", 201, 5, "gzip"},
		{2, 1, "/panic", 500, 0, nil},
	}
	for i, w := range want {
		r := recs[i]
		if r["msg"] != "request" || r["conn"] != w.conn || r["req"] != w.req || r["target"] != w.target ||
			r["status"] != w.status || r["bytes"] != w.nbytes || r["enc"] != w.enc || r["method"] != "GET" ||
			r["remote"] == "" || r["ms"] == nil {
			t.Errorf("record %d: %v", i, r)
		}
	}
}
