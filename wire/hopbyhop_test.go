package wire

import (
	"fmt"
	"strings"
	"testing"
	"time"
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

// longConnectionList returns a table of fields named alike, and a Connection field that
// lists decoys first (names of the same length and a long common prefix, that name
// no field) and then every field: the input that made the removal quadratic.
func longConnectionList(fields, decoys int) *Header {
	prefix := strings.Repeat("x", 40)
	var list strings.Builder
	for i := 0; i < decoys; i++ {
		fmt.Fprintf(&list, "%s-d%05d, ", prefix, i)
	}
	for i := 0; i < fields; i++ {
		fmt.Fprintf(&list, "%s-F%05d, ", prefix, i)
	}
	var h Header
	h.Add("Connection", list.String())
	for i := 0; i < fields; i++ {
		h.Add(fmt.Sprintf("%s-f%05d", prefix, i), "v")
	}
	h.Add("Keep", "me")
	return &h
}

// A long Connection list costs time linear in its length, not in its length times the
// fields it names: the removal used to start its scan of the list again after every
// field removed, so that a 61 KB head the parser accepts (122 fields) took 0.6 s of
// CPU. This table would take that code hours; the bound is generous (it takes
// milliseconds).
func TestRemoveHopByHopLongConnectionList(t *testing.T) {
	for _, size := range [][2]int{{120, 12000}, {1000, 50000}} {
		h := longConnectionList(size[0], size[1])
		done := make(chan struct{})
		go func() {
			defer close(done)
			RemoveHopByHop(h)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d fields, %d decoys: RemoveHopByHop still running after 10 s", size[0], size[1])
		}
		if got := headerString(h); got != "Keep: me|" {
			t.Errorf("%d fields: left %.100q", size[0], got)
		}
	}
}

// The fields a Connection list names are removed however they are spelled and
// repeated, with the standard ones, when the table is larger than the inline set, and
// a name longer than foldHash's buffer is found too.
func TestRemoveHopByHopManyFields(t *testing.T) {
	var h Header
	long := strings.Repeat("Long-", 30)
	h.Add("Connection", "x-a, X-B, x-missing, close, "+strings.ToLower(long))
	h.Add(long, "l")
	for i := 0; i < 300; i++ {
		h.Add(fmt.Sprintf("X-N%d", i), "n")
		if i%100 == 0 {
			h.Add("x-A", "1")
			h.Add("X-b", "2")
			h.Add("TE", "trailers")
		}
	}
	RemoveHopByHop(&h)
	if h.Len() != 300 || h.Has("X-A") || h.Has("X-B") || h.Has("TE") || h.Has("Connection") || h.Has(long) {
		t.Errorf("%d fields left: %.200q", h.Len(), headerString(&h))
	}
}

func BenchmarkRemoveHopByHop(b *testing.B) {
	for _, bc := range []struct {
		name   string
		fields [][2]string
	}{
		{"keep-alive", [][2]string{{"Host", "a"}, {"Connection", "keep-alive"}, {"Keep-Alive", "timeout=5"},
			{"Accept", "*/*"}, {"User-Agent", "bench"}}},
		{"named", [][2]string{{"Host", "a"}, {"Connection", "keep-alive, X-Trace"}, {"X-Trace", "1"},
			{"Accept", "*/*"}, {"User-Agent", "bench"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h Header
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.Reset()
				for _, f := range bc.fields {
					h.Add(f[0], f[1])
				}
				RemoveHopByHop(&h)
			}
		})
	}
	b.Run("long-list", func(b *testing.B) {
		h := longConnectionList(120, 12000)
		saved := *h
		saved.fields = append([]field(nil), h.fields...)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h.fields = append(h.fields[:0], saved.fields...)
			RemoveHopByHop(h)
		}
	})
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
