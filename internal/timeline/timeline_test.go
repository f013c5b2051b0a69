package timeline

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/server"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }

func TestWaterfall(t *testing.T) {
	w := Waterfall{Title: "GET / → 200", Start: t0, Total: 8 * time.Millisecond, Width: 8, Phases: []Phase{
		{"dns", at(0), at(1)},
		{"connect", at(1), at(2)},
		{"tls", time.Time{}, time.Time{}}, // did not happen
		{"wait", at(2), at(7.5)},
		{"backwards", at(5), at(4)}, // nonsense: no bar, 0 ms
	}}
	var b bytes.Buffer
	n, err := w.WriteTo(&b)
	want := "GET / → 200\n" +
		"  dns           1.000 ms |█       |\n" +
		"  connect       1.000 ms | █      |\n" +
		"  tls           0.000 ms |        |\n" +
		"  wait          5.500 ms |  ██████|\n" +
		"  backwards     0.000 ms |        |\n" +
		"  total         8.000 ms\n"
	if err != nil || b.String() != want || n != int64(b.Len()) {
		t.Errorf("WriteTo = %d, %v:\n%s\nwant:\n%s", n, err, b.String(), want)
	}
	// Without Total the axis ends at the latest phase end.
	w = Waterfall{Start: t0, Width: 4, Phases: []Phase{{"a", at(0), at(1)}, {"b", at(1), at(4)}}}
	b.Reset()
	w.WriteTo(&b)
	if want := "  a             1.000 ms |█   |\n  b             3.000 ms | ███|\n  total         4.000 ms\n"; b.String() != want {
		t.Errorf("axis from the phases:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPrinterAndConnections(t *testing.T) {
	events := []Event{
		{At: at(0), Req: 1, Kind: Note, Text: "resolving a"},
		{At: at(0.5), Req: 2, Kind: Note, Text: "resolving b"},
		{At: at(1), Req: 1, Conn: 1, Kind: Note, Text: "connected as conn #1"},
		{At: at(1.5), Req: 1, Conn: 1, Kind: Sent, Text: "GET / HTTP/1.1"},
		{At: at(1.5), Req: 1, Conn: 1, Kind: Sent},
		{At: at(2), Req: 2, Kind: Note, Text: "could not resolve b"},
		{At: at(3), Req: 1, Conn: 1, Kind: Received, Text: "HTTP/1.1 200 OK"},
		{At: at(4), Req: 3, Kind: Note, Text: "connection wanted"},
		{At: at(4.25), Req: 3, Conn: 1, Kind: Note, Text: "reusing conn #1"},
	}
	var b bytes.Buffer
	p := NewPrinter(&b)
	var rec Recorder
	sink := Tee{p, &rec}
	for _, e := range events {
		sink.Event(e)
	}
	want := "* resolving a\n* resolving b\n* connected as conn #1\n> GET / HTTP/1.1\n>\n* could not resolve b\n" +
		"< HTTP/1.1 200 OK\n* connection wanted\n* reusing conn #1\n"
	if b.String() != want {
		t.Errorf("Printer wrote:\n%s\nwant:\n%s", b.String(), want)
	}
	got := AssignConns(rec.Events())
	for i, c := range []uint64{1, 0, 1, 1, 1, 0, 1, 1, 1} {
		if got[i].Conn != c {
			t.Errorf("AssignConns: event %d (%q) on conn %d, want %d", i, got[i].Text, got[i].Conn, c)
		}
	}
	if events[0].Conn != 0 {
		t.Error("AssignConns changed its input")
	}
	b.Reset()
	if err := WriteConnections(&b, rec.Events()); err != nil {
		t.Fatal(err)
	}
	want = "conn #1 (requests 1, 3)\n" +
		"  +    0.000 ms  req 1  * resolving a\n" +
		"  +    1.000 ms  req 1  * connected as conn #1\n" +
		"  +    1.500 ms  req 1  > GET / HTTP/1.1\n" +
		"  +    1.500 ms  req 1  >\n" +
		"  +    3.000 ms  req 1  < HTTP/1.1 200 OK\n" +
		"  +    4.000 ms  req 3  * connection wanted\n" +
		"  +    4.250 ms  req 3  * reusing conn #1\n" +
		"no connection (requests 2)\n" +
		"  +    0.500 ms  req 2  * resolving b\n" +
		"  +    2.000 ms  req 2  * could not resolve b\n"
	if b.String() != want {
		t.Errorf("WriteConnections:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestClientTrace runs real requests through hop's client and server: the events name
// the connection they belong to, and a redirect's second attempt is told apart.
func TestClientTrace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Path()) == "/moved" {
			w.Header().Set("Location", "/here")
			w.WriteHeader(302)
			return
		}
		w.Header().Set("X-Conn", strconv.FormatUint(r.ConnID(), 10))
		w.WriteString("ok")
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	base := "http://" + ln.Addr().String()

	cl := &client.Client{MaxRedirects: 2}
	defer cl.Close()
	var rec Recorder
	for i, path := range []string{"/a", "/moved"} {
		var req client.Request
		req.SetURL(base + path)
		var tm client.Timings
		req.Trace = tm.Trace(ClientTrace(&rec, i+1))
		var resp client.Response
		if err := cl.Do(&req, &resp); err != nil || resp.Status != 200 {
			t.Fatalf("%s: %v %d", path, err, resp.Status)
		}
		if ph := ClientPhases(&tm); len(ph) != 6 || ph[0].Name != "dns" || ph[5].Name != "transfer" ||
			ph[5].Duration() <= 0 && ph[4].Duration() <= 0 {
			t.Errorf("phases %+v", ph)
		}
	}
	events := rec.Events()
	var text strings.Builder
	for _, e := range events {
		text.WriteString(e.Kind.Prefix() + " " + e.Text + "\n")
	}
	for _, want := range []string{
		"* connection to " + base + " wanted\n",
		"* resolved 127.0.0.1 to 127.0.0.1 (literal",
		"* connected to " + ln.Addr().String() + " as conn #1",
		"> GET /a HTTP/1.1\n",
		"< HTTP/1.1 200 OK\n",
		"* conn #1 kept alive (2 body bytes)\n",
		"* redirect (302) to " + base + "/here\n",
		"> GET /here HTTP/1.1\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("events lack %q:\n%s", want, text.String())
		}
	}
	for _, e := range AssignConns(events) {
		if e.Conn != 1 || e.Req != 1 && e.Req != 2 {
			t.Errorf("event %+v: want conn 1 and request 1 or 2", e)
		}
	}
	if events[0].Conn != 0 || events[0].Req != 1 {
		t.Errorf("first event %+v: want no connection yet", events[0])
	}
}
