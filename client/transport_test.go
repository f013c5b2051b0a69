package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/hop-http/hop/server"
)

func TestTransport(t *testing.T) {
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/redirect":
			w.Header().Set("Location", "/echo?from=redirect")
			w.WriteHeader(302)
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("part1"))
			w.Flush()
			w.Write([]byte("part2"))
		default:
			echoConn(w, r)
		}
	})
	cl := newClient(t, nil)
	hc := &http.Client{Transport: &Transport{Client: cl}}

	resp, err := hc.Get(base + "/echo?q=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "GET /echo?q=1 " || resp.Header.Get("X-Conn") == "" ||
		resp.ContentLength != int64(len(body)) || resp.Proto != "HTTP/1.1" {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	resp, err = hc.Post(base+"/echo", "text/plain", strings.NewReader("posted"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "POST /echo posted" {
		t.Fatalf("POST: %q", body)
	}

	resp, err = hc.Get(base + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "GET /echo?from=redirect " || resp.Request.URL.Path != "/echo" {
		t.Fatalf("redirect: %q", body)
	}

	resp, err = hc.Get(base + "/trailer")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "part1part2" || len(resp.TransferEncoding) != 1 || resp.ContentLength != -1 {
		t.Fatalf("chunked: %q %v %d", body, resp.TransferEncoding, resp.ContentLength)
	}
	if _, ok := resp.Trailer["X-Sum"]; !ok {
		t.Errorf("announced trailer missing: %v", resp.Trailer)
	}
	if s := cl.Stats(); s.NewConns != 1 {
		t.Errorf("the http.Client used %d connections, want 1 (reuse)", s.NewConns)
	}
}

func TestTransportHTTPTrace(t *testing.T) {
	base := startHop(t, echoConn)
	hc := &http.Client{Transport: &Transport{Client: newClient(t, nil)}}
	var mu sync.Mutex
	var events []string
	add := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	ct := &httptrace.ClientTrace{
		GetConn:              func(hp string) { add("getconn") },
		ConnectStart:         func(n, a string) { add("connect") },
		ConnectDone:          func(n, a string, err error) { add("connected") },
		GotConn:              func(i httptrace.GotConnInfo) { add("gotconn reused=" + boolStr(i.Reused)) },
		WroteHeaders:         func() { add("wroteheaders") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { add("wrote") },
		GotFirstResponseByte: func() { add("firstbyte") },
	}
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), ct), "GET", base+"/", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	want := "getconn connect connected gotconn reused=false wroteheaders wrote firstbyte " +
		"getconn gotconn reused=true wroteheaders wrote firstbyte"
	if got := strings.Join(events, " "); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestTransportEarlyClose(t *testing.T) {
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		w.Write([]byte(strings.Repeat("x", 50000)))
	})
	cl := newClient(t, nil)
	hc := &http.Client{Transport: &Transport{Client: cl}}
	for i := 0; i < 3; i++ {
		resp, err := hc.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		io.ReadFull(resp.Body, buf)
		resp.Body.Close() // the rest is drained: the connection stays usable
	}
	if s := cl.Stats(); s.NewConns != 1 || s.Reused != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestTransportCancel(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	hc := &http.Client{Transport: &Transport{Client: newClient(t, nil)}}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
	go cancel()
	if _, err := hc.Do(req); err == nil {
		t.Fatal("no error after cancel")
	}
}

// A response to HEAD declares the length of the body a GET would get (net/http's
// ContentLength for HEAD), -1 when it declares none.
func TestTransportHEADContentLength(t *testing.T) {
	url, _ := serveScript(t, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n")
	hc := &http.Client{Transport: &Transport{Client: newClient(t, nil)}}
	for _, want := range []int64{1000, -1} {
		resp, err := hc.Head(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ContentLength != want {
			t.Errorf("ContentLength %d, want %d", resp.ContentLength, want)
		}
	}
}
