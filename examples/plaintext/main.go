// Command plaintext is hop's benchmark and acceptance server: every GET answers 200
// "Hello, World!" as text/plain with Server, Date and Content-Length (TechEmpower
// plaintext rules).
//
//	go run ./examples/plaintext [-addr 127.0.0.1:8080] [-adapter] [-shards N]
//
// With -adapter the same response is served through the net/http Handler adapter, so
// the two code paths can be compared.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hop-http/hop/server"
)

var hello = []byte("Hello, World!")

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	adapter := flag.Bool("adapter", false, "serve through the net/http Handler adapter")
	shards := flag.Int("shards", 1, "SO_REUSEPORT listeners (0: one per GOMAXPROCS)")
	flag.Parse()

	var h server.Handler = server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if !r.IsMethod("GET") && !r.IsMethod("HEAD") {
			w.Header().Set("Allow", "GET, HEAD")
			w.WriteHeader(405)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	})
	if *adapter {
		h = server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				w.WriteHeader(405)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Write(hello)
		}))
	}
	srv := &server.Server{Addr: *addr, Handler: h}
	// ServeAll returns as soon as Shutdown has closed the listeners; main waits for
	// Shutdown to finish the requests in flight before the process exits.
	shutDown := make(chan struct{})
	go func() {
		defer close(shutDown)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Printf("plaintext: shutdown: %v", err)
		}
	}()
	lns, err := server.ListenReusePort("tcp", *addr, *shards)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("plaintext: serving http://%s/ (%d listener(s))", lns[0].Addr(), len(lns))
	if err := srv.ServeAll(lns); err != nil && err != server.ErrServerClosed {
		log.Fatal(err)
	}
	<-shutDown
}
