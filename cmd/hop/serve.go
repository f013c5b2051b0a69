package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/hop-http/hop/fileserver"
	"github.com/hop-http/hop/internal/selfsigned"
	"github.com/hop-http/hop/server"
)

func init() { commands["serve"] = cmdServe }

// cmdServe runs `hop serve` until SIGINT or SIGTERM, then shuts down gracefully.
func cmdServe(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return runServe(ctx, args, os.Stdout, os.Stderr, nil)
}

// serveFlags are the flags of `hop serve`.
type serveFlags struct {
	*serving
	root                      string
	tlsCert, tlsKey           string
	tlsSelfSigned             bool
	maxRequests               int
	cacheControl              string
	listing, noListing        bool
	showDotfiles, followLinks bool
	noCompress                bool
	compressMin               int64
}

const serveUsage = `usage: hop serve [--addr HOST:PORT] [--root DIR] [flags]

Serves the files under DIR over HTTP/1.1 (HTTPS with --tls-cert/--tls-key or --tls-self-signed)
with ranges, conditional requests, compression and directory listings, and logs each request
with the id of its connection.
`

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := serveFlags{serving: newServing("hop serve", "127.0.0.1:8080", serveUsage, "requests in flight", stderr)}
	fs := f.fs
	fs.StringVar(&f.root, "root", ".", "`DIR`ectory to serve")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with the certificate chain in `FILE` (PEM; needs --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "private key `FILE` (PEM) for --tls-cert")
	fs.BoolVar(&f.tlsSelfSigned, "tls-self-signed", false, "serve HTTPS with a fresh in-memory certificate for localhost, 127.0.0.1 and ::1")
	fs.IntVar(&f.maxRequests, "max-requests", server.DefaultMaxRequestsPerConn, "requests per connection before it is closed (negative: unlimited)")
	fs.StringVar(&f.cacheControl, "cache-control", "", "Cache-Control `VALUE` for files, e.g. \"public, max-age=3600\"")
	fs.BoolVar(&f.listing, "listing", true, "list directories without an index.html")
	fs.BoolVar(&f.noListing, "no-listing", false, "do not list directories (same as --listing=false)")
	fs.BoolVar(&f.showDotfiles, "show-dotfiles", false, "serve and list files whose name starts with '.'")
	fs.BoolVar(&f.followLinks, "follow-symlinks", false, "let symbolic links point outside the root")
	fs.BoolVar(&f.noCompress, "no-compress", false, "disable compression (precompressed siblings and on the fly)")
	fs.Int64Var(&f.compressMin, "compress-min", fileserver.DefaultCompressMinSize, "smallest file, in `BYTES`, compressed on the fly")
	if err := f.parse(args); err != nil {
		return nil, err
	}
	switch {
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case f.tlsCert != "" && f.tlsSelfSigned:
		return nil, errors.New("--tls-self-signed excludes --tls-cert/--tls-key")
	case f.maxRequests == 0:
		return nil, errors.New("--max-requests must not be 0 (negative means unlimited)")
	}
	if f.noListing {
		f.listing = false
	}
	return &f, nil
}

// runServe is `hop serve` with its context, outputs and a hook told the address once
// the server listens. It returns the exit code.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) int {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return usageExit("hop serve", err, stderr)
	}

	var tlsConf *tls.Config
	switch {
	case f.tlsSelfSigned:
		cert, err := selfsigned.Certificate()
		if err != nil {
			fmt.Fprintln(stderr, "hop serve: self-signed certificate:", err)
			return 1
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case f.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			fmt.Fprintln(stderr, "hop serve:", err)
			return 1
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	fsrv, err := fileserver.New(f.root, fileserver.Options{
		DisableListing:     !f.listing,
		ShowDotfiles:       f.showDotfiles,
		FollowSymlinks:     f.followLinks,
		CacheControl:       f.cacheControl,
		DisableCompression: f.noCompress,
		CompressMinSize:    f.compressMin,
	})
	if err != nil {
		fmt.Fprintln(stderr, "hop serve:", err)
		return 1
	}
	defer fsrv.Close()

	accessLog, errLog, closeLog, err := f.logs(stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hop serve:", err)
		return 1
	}
	defer closeLog()

	var handler server.Handler = fsrv
	if accessLog != nil {
		handler = server.AccessLog(handler, accessLog)
	}

	srv := &server.Server{
		Handler:            handler,
		IdleTimeout:        f.idleTimeout,
		MaxRequestsPerConn: f.maxRequests,
		TLSConfig:          tlsConf,
		Logger:             errLog,
	}
	ln, err := server.Listen("tcp", f.addr)
	if err != nil {
		fmt.Fprintln(stderr, "hop serve:", err)
		return 1
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stderr, "serving %s://%s/ from %s\n", scheme, addr, fsrv.Dir())
	if ready != nil {
		ready(addr)
	}
	return f.serve(ctx, srv, ln, stderr, nil, func(context.Context) int {
		st := srv.Stats()
		fmt.Fprintf(stderr, "hop serve: %d requests on %d connections\n", st.Requests, st.Accepted)
		return 0
	})
}

// openAccessLog resolves the --access-log destination; nil means logging is off.
func openAccessLog(dest string, stdout, stderr io.Writer) (io.Writer, func(), error) {
	switch dest {
	case "stderr", "":
		return stderr, func() {}, nil
	case "stdout", "-":
		return stdout, func() {}, nil
	case "off", "none":
		return nil, func() {}, nil
	}
	file, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return file, func() { file.Close() }, nil
}

func newLogger(format string, out io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(out, nil))
	}
	return slog.New(slog.NewTextHandler(out, nil))
}
