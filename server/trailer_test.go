package server_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// Trailers go out with the last chunk: announced ones after a streamed body, set-only
// ones on a buffered response (which then goes chunked and gets a Trailer field);
// fields that must not be trailers, or would split the message, are dropped; an
// HTTP/1.0 client and a HEAD get none.
func TestResponseTrailers(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/announced":
			w.Header().Set("Trailer", "X-Checksum")
			w.WriteString("part one, ")
			w.Flush()
			w.WriteString("part two")
			w.Trailer().Set("X-Checksum", "abc123")
		case "/buffered":
			w.WriteString("small")
			w.Trailer().Set("Server-Timing", "db;dur=53")
			w.Trailer().Set("Content-Length", "5")    // framing: never a trailer
			w.Trailer().Set("Host", "evil.test")      // routing: never a trailer
			w.Trailer().Set("X-Split", "a\r\nX-B: c") // would split the message
		case "/length":
			w.SetContentLength(5)
			w.WriteString("fixed")
			w.Trailer().Set("X-Lost", "1")
		}
	})})
	c := dial(t, ts.addr)

	r := c.roundTrip("GET", get("/announced"))
	if r.Framing != wire.FramingChunked || string(r.Body) != "part one, part two" ||
		r.get("Trailer") != "X-Checksum" || string(r.Trailer.Get("X-Checksum")) != "abc123" {
		t.Fatalf("announced trailer: %s, trailer %v", r, &r.Trailer)
	}

	r = c.roundTrip("GET", get("/buffered"))
	if r.Framing != wire.FramingChunked || string(r.Body) != "small" || r.get("Trailer") != "Server-Timing" ||
		r.Trailer.Len() != 1 || string(r.Trailer.Get("Server-Timing")) != "db;dur=53" {
		t.Fatalf("buffered body with a trailer: %s, Trailer %q, trailer %v", r, r.get("Trailer"), &r.Trailer)
	}

	r = c.roundTrip("GET", get("/length"))
	if r.Framing != wire.FramingLength || string(r.Body) != "fixed" {
		t.Fatalf("declared length keeps Content-Length: %s", r)
	}

	r = c.roundTrip("HEAD", head("HEAD /buffered HTTP/1.1", "Host: test"))
	if r.Framing != wire.FramingNone || r.Header.Has("Trailer") {
		t.Fatalf("HEAD: %s %v", r, &r.Header)
	}

	c10 := dial(t, ts.addr)
	r = c10.roundTrip("GET", "GET /buffered HTTP/1.0\r\n\r\n")
	if r.Framing != wire.FramingLength || string(r.Body) != "small" {
		t.Fatalf("HTTP/1.0: %s", r)
	}
}

// The net/http adapter sends net/http's trailers: announced names and TrailerPrefix
// fields; net/http's client reads them.
func TestFromHTTPTrailers(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "data")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}))})
	resp, err := http.Get("http://" + ts.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "data" || resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "yes" {
		t.Fatalf("body %q, trailer %v", body, resp.Trailer)
	}
}
