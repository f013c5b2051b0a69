package server

import (
	"context"
	"log/slog"
	"time"
)

// AccessLog wraps next, any handler, so that every request is logged to log at level
// Info with the message "request" once its handler returns (also when it panics; the
// panic then goes on). Each record names the connection, so keep-alive reuse is
// visible:
//
//	conn    the connection's id within the server (1, 2, 3, ...)
//	req     the request's number on that connection, from 1
//	remote  the client's address
//	method, target, status, bytes (body bytes written), enc (Content-Encoding, if any)
//	ms      time spent in the handler, in milliseconds
//	tls     true on TLS connections
//	aborted true when the handler panicked with ErrAbortHandler
//
// A handler that took its connection over (TakeOver) is logged with the status it set
// (101, or the 2xx to CONNECT) once it returns.
func AccessLog(next Handler, log *slog.Logger) Handler {
	return HandlerFunc(func(w *ResponseWriter, r *Request) {
		start := time.Now()
		defer func() {
			p := recover()
			status := w.Status()
			if p != nil && p != ErrAbortHandler {
				status = 500
			}
			attrs := []slog.Attr{
				slog.Uint64("conn", r.ConnID()),
				slog.Int("req", r.ConnRequests()),
				slog.String("remote", r.RemoteAddr().String()),
				slog.String("method", string(r.Method)),
				slog.String("target", string(r.Target)),
				slog.Int("status", status),
				slog.Int64("bytes", w.Written()),
			}
			if enc := w.Header().Get("Content-Encoding"); enc != nil {
				attrs = append(attrs, slog.String("enc", string(enc)))
			}
			attrs = append(attrs, slog.Float64("ms", float64(time.Since(start).Microseconds())/1000))
			if r.TLS() != nil {
				attrs = append(attrs, slog.Bool("tls", true))
			}
			if p == ErrAbortHandler {
				attrs = append(attrs, slog.Bool("aborted", true))
			}
			log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHOP(w, r)
	})
}
