package loadgen_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/hop-http/hop/loadgen"
	"github.com/hop-http/hop/server"
)

// Example loads a local server with 1000 requests over 4 pipelined connections.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteString("Hello, World!")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	res, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:         "http://" + ln.Addr().String() + "/",
		Connections: 4,
		Pipeline:    16,
		Requests:    1000,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("requests:", res.Requests)
	fmt.Println("errors:", res.Errors.Total())
	fmt.Println("persistent connections:", res.ConnectionsOpened <= 4)
	fmt.Println("p50 measured:", res.Latency.ValueAtQuantile(50) > 0)
	// Output:
	// requests: 1000
	// errors: 0
	// persistent connections: true
	// p50 measured: true
}
