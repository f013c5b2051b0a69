//go:build linux

package lab

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// The request the servers refuse and the answer they give.
const (
	uploadLimit = 64 << 10 // larger declared bodies are refused
	refusalPage = 32 << 10 // the 413's body: more than an initial window of 10 segments
)

// refusal is the 413 both servers send for an upload that is too large: the same head
// and a page of refusalPage bytes (or short, a single line).
func refusal(short bool) (head, body []byte) {
	body = []byte("request body too large\n")
	if !short {
		body = append(body, fill[:refusalPage-len(body)]...)
	}
	head = wire.AppendStatusLine(nil, 1, 413, "")
	head = wire.AppendField(head, "Content-Type", "text/plain")
	head = wire.AppendIntField(head, "Content-Length", int64(len(body)))
	head = append(wire.AppendField(head, "Connection", "close"), '\r', '\n')
	return head, body
}

// halfCloseOutcome is what the client saw.
type halfCloseOutcome struct {
	written  int64 // body bytes the client managed to write
	writeErr error
	status   int   // 0: no response head
	got      int64 // response body bytes received
	want     int64 // declared
	readErr  error
	elapsed  time.Duration
}

func (o halfCloseOutcome) complete() bool {
	return o.status == 413 && o.got == o.want && o.readErr == nil
}

// runHalfClose sends a request whose body is larger than the server accepts. The
// server answers 413 at once, with the body still arriving, and closes. An abortive
// close (close(2) with unread input) makes the kernel send RST and throw away what it
// had not sent yet; hop's server shuts down its write side, drains the rest of the
// body for a bounded time, and then closes, so that the whole 413 arrives.
func runHalfClose(e *env) error {
	body := int64(1 << 20)
	if e.short {
		body = 512 << 10
	}
	web := e.host("web")

	// The abortive server: reads what has arrived, answers, closes.
	ln, err := web.Listen("tcp", ":8080")
	if err != nil {
		return err
	}
	e.cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				n, _ := c.Read(buf) // the head, perhaps some body: enough to decide
				head, page := refusal(bytes.Contains(buf[:n], []byte("/upload?short")))
				c.Write(append(head, page...))
				c.Close() // unread input: RST instead of FIN, unsent data discarded
			}()
		}
	}()
	// hop's server with the same refusal, sent by a handler that does not read the
	// body; the server then closes the connection gracefully.
	if _, _, err := e.startServer("web", 80, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		// The length the server's parser found (a chunked body's is unknown: refused).
		if r.Framing != wire.FramingChunked && r.ContentLength <= uploadLimit {
			b, _ := r.ReadBody(uploadLimit)
			fmt.Fprintf(w, "%d bytes\n", len(b))
			return
		}
		_, page := refusal(false)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(413)
		w.Write(page)
	}), nil); err != nil {
		return err
	}

	abortAddr := net.JoinHostPort(web.Addr.String(), "8080")
	var abortive, abortiveShort, lingering halfCloseOutcome
	if err := e.leg("abortive close, 32 KiB 413", func() (err error) {
		abortive, err = e.postTooLarge(abortAddr, "/upload", body)
		return err
	}); err != nil {
		return err
	}
	if err := e.leg("abortive close, one-line 413", func() (err error) {
		abortiveShort, err = e.postTooLarge(abortAddr, "/upload?short", body)
		return err
	}); err != nil {
		return err
	}
	if err := e.leg("hop's lingering close, 32 KiB 413", func() (err error) {
		lingering, err = e.postTooLarge(net.JoinHostPort(web.Addr.String(), "80"), "/upload", body)
		return err
	}); err != nil {
		return err
	}

	e.measurePred("abortive_complete", "abortive close: whole 413 received (1/0)", "", b2f(abortive.complete()), 0)
	e.measure("abortive_received_bytes", fmt.Sprintf("abortive close: 413 body bytes received of %d", abortive.want), "bytes", float64(abortive.got))
	e.measure("abortive_sent_bytes", "abortive close: request body bytes written before the reset", "bytes", float64(abortive.written))
	e.measurePred("abortive_short_complete", "abortive close, one-line 413: received (1/0)", "", b2f(abortiveShort.complete()), 1)
	e.measurePred("lingering_complete", "lingering close: whole 413 received (1/0)", "", b2f(lingering.complete()), 1)
	e.measure("lingering_received_bytes", "lingering close: 413 body bytes received", "bytes", float64(lingering.got))
	e.measure("lingering_sent_bytes", "lingering close: request body bytes written", "bytes", float64(lingering.written))
	e.measure("lingering_ms", "lingering close: request start → response read", "ms", timeline.Millis(lingering.elapsed))

	e.check(!abortive.complete(), "after the abortive close the client got %d of %d bytes of the 413 (%v)", abortive.got, abortive.want, cmp.Or(abortive.readErr, abortive.writeErr))
	e.check(lingering.complete(), "after hop's lingering close the client got %d of %d bytes of the 413 (%v)", lingering.got, lingering.want, cmp.Or(lingering.readErr, lingering.writeErr))
	e.check(abortiveShort.complete(), "a one-line 413 that arrived before the RST is still read (Linux keeps received data after a reset)")
	labels := []string{"abortive, 32 KiB 413", "abortive, one line", "lingering, 32 KiB 413"}
	e.plot(Plot{Title: "Bytes of the 413 the client received", XLabel: "how the server closed", YLabel: "bytes", Kind: "bar", Series: []Series{
		{Name: "received", Labels: labels, Y: []float64{float64(abortive.got), float64(abortiveShort.got), float64(lingering.got)}},
		{Name: "sent by the server", Labels: labels, Y: []float64{float64(abortive.want), float64(abortiveShort.want), float64(lingering.want)}, Dashed: true},
	}})
	e.note("abortive close: %d of %d bytes of the 413 arrived (the rest was still in the server's send queue when it reset); lingering close: all %d; a one-line 413 survives the reset on Linux",
		abortive.got, abortive.want, lingering.got)
	return nil
}

// postTooLarge writes a POST with a body of size bytes to addr, as most clients do:
// the whole body first (stopping at a write error), then it reads the response (also
// after a write error: the server may have answered before it stopped reading).
func (e *env) postTooLarge(addr, path string, size int64) (halfCloseOutcome, error) {
	var out halfCloseOutcome
	conn, err := e.dialRaw(addr)
	if err != nil {
		return out, err
	}
	defer conn.Close()
	start := time.Now()
	head := rawHead("POST", path, 1, "Host", addr, "Content-Type", "application/octet-stream", "Content-Length", strconv.FormatInt(size, 10))
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(head); err != nil {
		out.writeErr = err
	}
	chunk := make([]byte, 16<<10)
	for out.writeErr == nil && out.written < size {
		n, err := conn.Write(chunk[:min(int64(len(chunk)), size-out.written)])
		out.written += int64(n)
		out.writeErr = err
	}
	rc := newRawConn(e.ctx, conn)
	resp, err := rc.read("POST", time.Now().Add(5*time.Second))
	out.elapsed = time.Since(start)
	out.readErr = err
	if resp != nil {
		out.status = resp.Status
		out.got = int64(len(resp.Body))
		out.want = resp.Declared
	}
	return out, nil
}
