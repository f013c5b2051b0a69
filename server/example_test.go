package server_test

import (
	"bufio"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"

	"github.com/hop-http/hop/server"
)

// ExampleServer serves a native handler on a loopback port and requests it with
// net/http's client.
func ExampleServer() {
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "Hello from %s (request %d on its connection)", r.Path(), r.ConnRequests())
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	resp, err := http.Get("http://" + ln.Addr().String() + "/hello")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	fmt.Println(string(body))
	// Output:
	// 200 OK text/plain
	// Hello from /hello (request 1 on its connection)
}

// ExampleFromHTTP runs an existing net/http handler (here a ServeMux) on hop.
func ExampleFromHTTP() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /greet/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!", r.PathValue("name"))
	})
	srv := &server.Server{Handler: server.FromHTTP(mux)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	resp, err := http.Get("http://" + ln.Addr().String() + "/greet/gopher")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output:
	// Hello, gopher!
}

// Example_takeOver is a minimal CONNECT proxy: the handler dials the target, answers
// 200 through TakeOver (no Content-Length, no chunking: the tunnel starts after the
// head) and splices bytes both ways. Here the target is an echo server.
func Example_takeOver() {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if !r.IsMethod("CONNECT") {
			w.WriteHeader(405)
			return
		}
		target, err := net.Dial("tcp", string(r.Target)) // a real proxy checks the target first
		if err != nil {
			w.WriteHeader(502)
			return
		}
		w.WriteHeader(200)
		client, early, err := w.TakeOver()
		if err != nil {
			target.Close()
			return
		}
		target.Write(early) // bytes the client sent before it saw the 200
		go func() { io.Copy(target, client); target.(*net.TCPConn).CloseWrite() }()
		io.Copy(client, target)
		client.Close()
		target.Close()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %[1]s\r\n\r\n", echo.Addr())
	br := bufio.NewReader(c)
	status, _ := br.ReadString('\n')
	for line := status; line != "\r\n"; {
		line, _ = br.ReadString('\n') // the rest of the head
	}
	fmt.Println(strings.TrimSpace(status))
	fmt.Fprintln(c, "ping through the tunnel")
	reply, _ := br.ReadString('\n')
	fmt.Print(reply)
	// Output:
	// HTTP/1.1 200 OK
	// ping through the tunnel
}

// ExampleResponseWriter_WriteHeader sends 103 Early Hints before the final response:
// the Link field goes out at once, so that a browser can fetch the stylesheet while
// the page is still being made (and stays set for the final response).
func ExampleResponseWriter_WriteHeader() {
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		// ... slow work ...
		w.Header().Set("Content-Type", "text/html")
		w.WriteString("<!doctype html><link rel=stylesheet href=/style.css>")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		fmt.Println(code, h.Get("Link"))
		return nil
	}}
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	resp, err := http.DefaultClient.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Link"))
	// Output:
	// 103 </style.css>; rel=preload; as=style
	// 200 </style.css>; rel=preload; as=style
}

// ExampleResponseWriter_Trailer sends a checksum of a streamed body as a trailer field,
// announced in the head with Trailer.
func ExampleResponseWriter_Trailer() {
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		h := crc32.NewIEEE()
		for _, part := range []string{"streamed ", "body"} {
			w.WriteString(part)
			h.Write([]byte(part))
			w.Flush()
		}
		w.Trailer().Set("X-Checksum", fmt.Sprintf("%08x", h.Sum32()))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body) // trailers arrive after the body
	resp.Body.Close()
	fmt.Println(string(body), resp.TransferEncoding, resp.Trailer.Get("X-Checksum"))
	// Output:
	// streamed body [chunked] cfb63d6c
}
