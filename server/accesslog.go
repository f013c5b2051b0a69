package server

import (
	"context"
	"log/slog"
	"time"
)

// AccessLog wraps next, any handler, so that every request is logged to log at level
// Info with the message "request" once its response has been sent (also when the
// handler panics; the panic then goes on). Each record names the connection, so
// keep-alive reuse is visible:
//
//	conn    the connection's id within the server (1, 2, 3, ...)
//	req     the request's number on that connection, from 1
//	remote  the client's address
//	method, target, enc (Content-Encoding, if any)
//	status, bytes  the status and body bytes the server sent: the handler's, or what
//	        replaced it (500 for a panic or a body overrun, 501 for a CONNECT nobody
//	        took over, 400/408 for a request body found malformed or late)
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
			attrs := []slog.Attr{
				slog.Uint64("conn", r.ConnID()),
				slog.Int("req", r.ConnRequests()),
				slog.String("remote", r.RemoteAddr().String()),
				slog.String("method", string(r.Method)),
				slog.String("target", string(r.Target)),
				{}, {}, // status and bytes, once sent
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
			w.whenSent(func(status int, bytes int64) {
				attrs[5], attrs[6] = slog.Int("status", status), slog.Int64("bytes", bytes)
				log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
			})
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHOP(w, r)
	})
}
