package server_test

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// WriteHeader with a 1xx code sends an interim response at once, carrying the fields
// set so far, which stay for the final response; several may precede it, and an
// HTTP/1.0 client gets none.
func TestInterimResponses(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Add("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(103)
		w.Header().Add("Link", "</app.js>; rel=preload; as=script")
		w.WriteHeader(103)
		if r.Minor == 1 {
			<-release // the 103s must have left before the handler finishes
		}
		w.WriteString("done")
	})})
	c := dial(t, ts.addr)
	c.write(get("/"))
	first, err := c.readHead("GET")
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.readHead("GET")
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != 103 || first.get("Link") != "</style.css>; rel=preload; as=style" || first.Header.Len() != 1 {
		t.Fatalf("first interim response %s %v", first, &first.Header)
	}
	if second.Status != 103 || second.Header.Len() != 2 {
		t.Fatalf("second interim response %s %v", second, &second.Header)
	}
	final := c.mustResponse("GET")
	links := 0
	final.Header.Values("Link", func([]byte) { links++ })
	if final.Status != 200 || string(final.Body) != "done" || links != 2 {
		t.Fatalf("final response %s with %d Link fields", final, links)
	}

	c10 := dial(t, ts.addr)
	if r := c10.roundTrip("GET", "GET / HTTP/1.0\r\n\r\n"); r.Status != 200 || string(r.Body) != "done" {
		t.Fatalf("HTTP/1.0 client got %s, want the final response only", r)
	}
}

// The net/http adapter forwards 1xx: net/http's client sees a 103 through httptrace.
func TestFromHTTPInterim(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	}))})
	var mu sync.Mutex
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		got = append(got, http.StatusText(code)+" "+h.Get("Link"))
		mu.Unlock()
		return nil
	}}
	req, _ := http.NewRequest("GET", "http://"+ts.addr+"/", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if string(body) != "final" || len(got) != 1 || got[0] != "Early Hints </a.css>; rel=preload" {
		t.Fatalf("body %q, 1xx seen %q", body, got)
	}
}

// Handlers control 100 Continue: WriteHeader(100) sends it once (not again at the first
// body read); DisableAutoContinue keeps the server from sending it, so a proxy can relay
// the upstream's decision.
func TestHandlerControlsContinue(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/explicit":
			w.WriteHeader(100)
			b, _ := io.ReadAll(r.Body())
			w.Write(b)
		case "/manual":
			r.DisableAutoContinue()
			b, _ := io.ReadAll(r.Body()) // the client sends the body without a 100
			w.Write(b)
		case "/refuse":
			r.DisableAutoContinue()
			w.WriteHeader(417)
		}
	})})

	t.Run("explicit 100 sent once", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(head("PUT /explicit HTTP/1.1", "Host: test", "Expect: 100-continue", "Content-Length: 5"))
		if r, err := c.readHead("PUT"); err != nil || r.Status != 100 {
			t.Fatalf("first head %v, %v", r, err)
		}
		c.write("hello")
		if r := c.mustResponse("PUT"); r.Status != 200 || string(r.Body) != "hello" {
			t.Fatalf("final %s (a second 100?)", r)
		}
	})
	t.Run("no automatic 100", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(head("PUT /manual HTTP/1.1", "Host: test", "Expect: 100-continue", "Content-Length: 5"))
		// Nothing may arrive while the client waits for a 100 that never comes.
		c.nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		var one [1]byte
		if n, _ := c.nc.Read(one[:]); n > 0 {
			t.Fatalf("the server sent %q though the handler disabled the automatic 100", one[:n])
		}
		c.write("hello") // as clients do after their own timeout
		if r := c.mustResponse("PUT"); r.Status != 200 || string(r.Body) != "hello" {
			t.Fatalf("response %s", r)
		}
	})
	t.Run("final status instead", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(head("PUT /refuse HTTP/1.1", "Host: test", "Expect: 100-continue", "Content-Length: 5"))
		if r := c.mustResponse("PUT"); r.Status != 417 || !r.closes() {
			t.Fatalf("response %s, want 417 and close (the body was never sent)", r)
		}
		c.expectClosed()
	})
}

// Stats counts requests and the server's own rejections by status; open connections
// are counted by state.
func TestStats(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: textHandler, DisablePark: true})
	c := dial(t, ts.addr)
	c.roundTrip("GET", get("/a"))
	c.roundTrip("GET", get("/b"))
	bad := dial(t, ts.addr)
	if r := bad.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"); r.Status != 400 {
		t.Fatalf("repeated Host: %s", r)
	}
	bad.expectClosed()
	deadline := time.Now().Add(ioWait)
	for {
		st := ts.Stats()
		if st.Accepted == 2 && st.Requests == 2 && st.Rejected[400] == 1 && st.Idle == 1 && st.Active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The ConnState hook sees one connection's life in order: new, active and idle for each
// request, closed at the end; the ConnInfo names the connection.
func TestConnStateSequence(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var infos []server.ConnInfo
	ts := startServer(t, &server.Server{Handler: textHandler, DisablePark: true,
		ConnState: func(info server.ConnInfo, st server.ConnState) {
			mu.Lock()
			seen = append(seen, st.String())
			infos = append(infos, info)
			mu.Unlock()
		}})
	c := dial(t, ts.addr)
	c.roundTrip("GET", get("/1"))
	c.roundTrip("GET", get("/2"))
	c.nc.Close()
	want := "new active idle active idle closed"
	deadline := time.Now().Add(ioWait)
	for {
		mu.Lock()
		got := strings.Join(seen, " ")
		mu.Unlock()
		if got == want {
			break
		}
		if time.Now().After(deadline) || len(got) > len(want) {
			t.Fatalf("states %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, info := range infos {
		if info.ID != 1 || info.Remote.String() != c.nc.LocalAddr().String() || info.Local.String() != ts.addr || info.TLS {
			t.Fatalf("ConnInfo %+v for client %s on %s", info, c.nc.LocalAddr(), ts.addr)
		}
	}
}
