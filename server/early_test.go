package server_test

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// TestRejectAtOnce: a request head that is already invalid is answered 400 as soon as
// the deciding byte is in, without waiting for a line feed. The server's header
// timeout is a minute and the test waits 20 s at most, so an answer can only come from
// the byte itself. The handler is the probe's (it is never reached).
func TestRejectAtOnce(t *testing.T) {
	addr := probeServer(t, &server.Server{ReadHeaderTimeout: time.Minute})
	for _, tt := range []struct {
		name, sent string
		want       *wire.Error
	}{
		{"bare CR after the version", "GET / HTTP/1.1\rHost: a", wire.ErrInvalidVersion},
		{"NUL in the target", "GET /a\x00b", wire.ErrInvalidTarget},
		{"non-ASCII in the target", "GET /caf\xc3\xa9", wire.ErrInvalidTarget},
		{"fragment in the target", "GET /a#b", wire.ErrInvalidTarget},
		{"control character in the method", "GE\x01T", wire.ErrInvalidMethod},
		{"a TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", wire.ErrInvalidMethod},
		{"bad version byte", "GET / HTTQ", wire.ErrInvalidVersion},
		{"NUL in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Test: val\x00", wire.ErrInvalidFieldValue},
		{"bare CR in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Test: val\rue", wire.ErrInvalidFieldValue},
		{"invalid name byte before the colon", "GET / HTTP/1.1\r\nHost: a\r\nBad[Na", wire.ErrInvalidFieldName},
		{"space before the colon", "GET / HTTP/1.1\r\nHost: a\r\nX ", wire.ErrSpaceBeforeColon},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b", wire.ErrObsFold},
		{"a method filling the request line", strings.Repeat("A", wire.DefaultMaxRequestLine), wire.ErrMethodTooLong},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(tt.sent)); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			var got []byte
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break // the server closes after the 400
				}
			}
			want := "HTTP/1.1 400 "
			if !bytes.HasPrefix(got, []byte(want)) || !bytes.Contains(got, []byte(tt.want.Reason)) {
				t.Fatalf("got %q, want a %s with %q and a close", got, want, tt.want.Reason)
			}
		})
	}
}
