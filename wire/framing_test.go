package wire

import "testing"

// A client that receives an HTTP/1.0 message with Transfer-Encoding must treat its
// framing as faulty and close the connection after it (RFC 9112 §6.1), whatever
// Connection says: the body is read as chunked, and the connection is not kept.
func TestHTTP10ResponseWithTransferEncoding(t *testing.T) {
	for _, tc := range []struct {
		head string
		keep bool
	}{
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", false},
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", true},
	} {
		var p Parser
		var r Response
		if _, err := p.ParseResponse([]byte(tc.head), &r, []byte("GET")); err != nil {
			t.Fatalf("%q: %v", tc.head, err)
		}
		if r.KeepAlive != tc.keep {
			t.Errorf("%q: KeepAlive %v, want %v", tc.head, r.KeepAlive, tc.keep)
		}
	}
}
