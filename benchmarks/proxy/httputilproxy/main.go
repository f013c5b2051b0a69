// Command httputilproxy is the net/http contender of benchmarks/proxy: a reverse proxy
// built on net/http/httputil.ReverseProxy with a keep-alive upstream transport sized
// like hop's and nginx's in the same benchmark.
//
//	httputilproxy -addr 127.0.0.1:18180 -upstream http://127.0.0.1:18181
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18180", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:18181", "origin URL")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httputilproxy:", err)
		os.Exit(2)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httputilproxy:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "httputilproxy on http://%s/ -> %s (GOMAXPROCS=%d, pid %d)\n", ln.Addr(), u, runtime.GOMAXPROCS(0), os.Getpid())
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "httputilproxy:", err)
		os.Exit(1)
	}
}
