package fileserver_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/hop-http/hop/fileserver"
	"github.com/hop-http/hop/server"
)

// Serve a directory with an access log, then fetch a range of a file from it.
func Example() {
	dir, _ := os.MkdirTemp("", "site")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, world\n"), 0o644)

	files, err := fileserver.New(dir, fileserver.Options{CacheControl: "public, max-age=60"})
	if err != nil {
		panic(err)
	}
	defer files.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil)) // os.Stderr in real use
	srv := &server.Server{Handler: server.AccessLog(files, logger)}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/hello.txt", nil)
	req.Header.Set("Range", "bytes=7-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Println(resp.Header.Get("Content-Range"))
	fmt.Print(string(body))
	// Output:
	// 206 Partial Content
	// bytes 7-12/13
	// world
}
