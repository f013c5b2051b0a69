//go:build linux

package lab

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
)

// rawConn reads responses of every framing, across reads, one after another on one
// connection.
func TestRawConn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string // what the server writes, one Write each, then it closes
		method string
		want   []string // the bodies read, in order
		err    string   // the last read's error, if any
	}{
		{"length", []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", "lo"}, "GET", []string{"hello"}, ""},
		{"two in a row", []string{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nbc"}, "GET", []string{"a", "bc"}, ""},
		{"chunked across reads", []string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r", "\nabc\r\n1", "0\r\n" + strings.Repeat("z", 16) + "\r\n0\r\n\r\n"}, "GET",
			[]string{"abc" + strings.Repeat("z", 16)}, ""},
		{"close-delimited", []string{"HTTP/1.0 200 OK\r\n\r\nuntil", " the end"}, "GET", []string{"until the end"}, ""},
		{"HEAD", []string{"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"}, "HEAD", []string{""}, ""},
		{"truncated", []string{"HTTP/1.1 413 Content Too Large\r\nContent-Length: 10\r\n\r\nabc"}, "POST", []string{"abc"}, "body: EOF"},
		{"nothing", nil, "GET", nil, errNoResponse.Error()},
		{"head too large", []string{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", rawHeadLimit)}, "GET", nil, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testnet.Raw(t, func(c net.Conn, _ int) {
				for _, w := range tc.writes {
					c.Write([]byte(w))
					time.Sleep(5 * time.Millisecond)
				}
			})
			client, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			rc := newRawConn(context.Background(), client)
			var got []string
			for i := 0; i < 4; i++ {
				var resp *rawResponse
				resp, err = rc.read(tc.method, time.Now().Add(5*time.Second))
				if resp != nil {
					got = append(got, string(resp.Body))
					if resp.FirstByte.IsZero() || err == nil && resp.Done.Before(resp.FirstByte) {
						t.Errorf("response %d: first byte %v, done %v", i+1, resp.FirstByte, resp.Done)
					}
				}
				if err != nil {
					break
				}
			}
			// Every case ends at the server's close: a read after the last response
			// finds nothing.
			want := tc.err
			if want == "" {
				want = errNoResponse.Error()
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("last error %v, want %q", err, want)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("bodies %q, want %q", got, tc.want)
			}
		})
	}
}

// A canceled experiment ends a read at once.
func TestRawConnCanceled(t *testing.T) {
	client := discardConn(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newRawConn(ctx, client).read("GET", time.Now().Add(time.Minute))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
}

func TestRawHead(t *testing.T) {
	got := string(rawHead("GET", "http://192.0.2.80/", 0, "Host", "192.0.2.80", "Proxy-Connection", "keep-alive"))
	if want := "GET http://192.0.2.80/ HTTP/1.0\r\nHost: 192.0.2.80\r\nProxy-Connection: keep-alive\r\n\r\n"; got != want {
		t.Errorf("rawHead: %q, want %q", got, want)
	}
	head, body := refusal(true)
	if want := "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 23\r\nConnection: close\r\n\r\n"; string(head) != want || len(body) != 23 {
		t.Errorf("refusal: %q, %d bytes", head, len(body))
	}
}
