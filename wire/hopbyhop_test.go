package wire

import (
	"fmt"
	"testing"
)

func TestRemoveHopByHop(t *testing.T) {
	type kv = [2]string
	tests := []struct {
		name string
		in   []kv
		want string
	}{
		{"standard set", []kv{
			{"Host", "a"}, {"Connection", "keep-alive"}, {"Keep-Alive", "timeout=5"},
			{"Proxy-Connection", "keep-alive"}, {"TE", "trailers"}, {"Transfer-Encoding", "chunked"},
			{"Upgrade", "websocket"}, {"Trailer", "X-Sum"}, {"Proxy-Authorization", "Basic eA=="},
			{"Proxy-Authenticate", "Basic"}, {"Accept", "*/*"},
		}, "Host: a|Accept: */*|"},
		{"fields named by Connection", []kv{
			{"X-A", "1"}, {"Connection", "x-a, X-B"}, {"x-b", "2"}, {"X-C", "3"}, {"X-B", "4"},
		}, "X-C: 3|"},
		{"several Connection fields", []kv{
			{"X-A", "1"}, {"Connection", "close"}, {"X-B", "2"}, {"connection", "X-B"},
			{"Connection", "x-a"}, {"Date", "d"},
		}, "Date: d|"},
		{"Connection naming a missing or end-to-end-looking field", []kv{
			{"Connection", "x-missing, , Cache-Control"}, {"Cache-Control", "no-cache"}, {"Via", "1.1 a"},
		}, "Via: 1.1 a|"},
		{"case-insensitive names", []kv{
			{"CONNECTION", "FOO"}, {"foo", "1"}, {"KEEP-ALIVE", "x"}, {"te", "trailers"}, {"Bar", "2"},
		}, "Bar: 2|"},
		{"nothing to remove", []kv{{"A", "1"}, {"B", "2"}}, "A: 1|B: 2|"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			for _, f := range tt.in {
				h.Add(f[0], f[1])
			}
			RemoveHopByHop(&h)
			if got := headerString(&h); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRemoveHopByHopParsed(t *testing.T) {
	// A parsed (borrowed) table: removal must not write into the read buffer.
	raw := []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Trace\r\nX-Trace: 1\r\nAccept: */*\r\n\r\n")
	before := string(raw)
	var p Parser
	var r Request
	if _, err := p.ParseRequest(raw, &r); err != nil {
		t.Fatal(err)
	}
	RemoveHopByHop(&r.Header)
	if got := headerString(&r.Header); got != "Host: a|Accept: */*|" {
		t.Errorf("got %q", got)
	}
	if string(raw) != before {
		t.Error("RemoveHopByHop wrote into the parsed buffer")
	}
}

func TestRemoveHopByHopAllocs(t *testing.T) {
	var h Header
	fill := func() {
		h.Reset()
		h.Add("Host", "a")
		h.Add("Connection", "keep-alive, X-A")
		h.Add("X-A", "1")
		h.Add("Keep-Alive", "timeout=5")
		h.Add("Accept", "*/*")
	}
	fill()
	if n := testing.AllocsPerRun(100, func() { fill(); RemoveHopByHop(&h) }); n != 0 {
		t.Errorf("%v allocs per call, want 0", n)
	}
}

func TestIsHopByHopAndManaged(t *testing.T) {
	for _, n := range []string{"Connection", "keep-alive", "Proxy-Connection", "te", "Transfer-Encoding",
		"Upgrade", "Trailer", "Proxy-Authorization", "proxy-authenticate"} {
		if !IsHopByHop(n) {
			t.Errorf("IsHopByHop(%q) = false", n)
		}
	}
	for _, n := range []string{"Content-Length", "Host", "Trailers", "T", "Via", "Authorization", "Upgrade-Insecure-Requests"} {
		if IsHopByHop(n) {
			t.Errorf("IsHopByHop(%q) = true", n)
		}
	}
	for _, n := range []string{"connection", "Keep-Alive", "Proxy-Connection", "Content-Length", "transfer-encoding"} {
		if !IsConnectionManaged([]byte(n)) {
			t.Errorf("IsConnectionManaged(%q) = false", n)
		}
	}
	for _, n := range []string{"TE", "Upgrade", "Content-Type", "Connections"} {
		if IsConnectionManaged(n) {
			t.Errorf("IsConnectionManaged(%q) = true", n)
		}
	}
}

func ExampleRemoveHopByHop() {
	var h Header
	h.Add("Host", "example.com")
	h.Add("Connection", "keep-alive, X-Session")
	h.Add("X-Session", "42")
	h.Add("Keep-Alive", "timeout=5")
	h.Add("Accept", "text/html")
	RemoveHopByHop(&h)
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		fmt.Printf("%s: %s\n", n, v)
	}
	// Output:
	// Host: example.com
	// Accept: text/html
}
