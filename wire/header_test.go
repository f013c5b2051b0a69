package wire

import (
	"bytes"
	"strings"
	"testing"
)

func headerString(h *Header) string {
	var b strings.Builder
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		b.WriteString(string(n) + ": " + string(v) + "|")
	}
	return b.String()
}

func TestHeaderBasics(t *testing.T) {
	var h Header
	if h.Len() != 0 || h.Get("X") != nil || h.Has("X") || h.Index("X", 0) != -1 {
		t.Fatal("zero Header is not empty")
	}
	h.Add("Content-Type", "text/plain")
	h.Add("Set-Cookie", "a=1")
	h.Add("set-cookie", "b=2")
	Add(&h, []byte("X-Bytes"), []byte("v"))
	Add(&h, "X-Empty", []byte{})
	if got := headerString(&h); got != "Content-Type: text/plain|Set-Cookie: a=1|set-cookie: b=2|X-Bytes: v|X-Empty: |" {
		t.Fatalf("%q", got)
	}
	if string(h.Get("CONTENT-TYPE")) != "text/plain" || string(h.Get("x-bytes")) != "v" {
		t.Error("Get is not case-insensitive")
	}
	if !h.Has("x-empty") || len(h.Get("X-Empty")) != 0 || h.Has("X-Empt") || h.Has("X-Emptyy") {
		t.Error("Has")
	}
	if h.Index("Set-Cookie", 0) != 1 || h.Index("Set-Cookie", 2) != 2 || h.Index("Set-Cookie", 3) != -1 {
		t.Error("Index")
	}
	var vals []string
	h.Values("SET-COOKIE", func(v []byte) { vals = append(vals, string(v)) })
	if strings.Join(vals, ",") != "a=1,b=2" {
		t.Errorf("Values %q", vals)
	}

	h.Set("set-Cookie", "c=3")
	if got := headerString(&h); got != "Content-Type: text/plain|X-Bytes: v|X-Empty: |set-Cookie: c=3|" {
		t.Fatalf("after Set: %q", got)
	}
	h.Set("New", "n")
	if string(h.Get("new")) != "n" || h.Len() != 5 {
		t.Error("Set of an absent field")
	}
	h.Del("x-bytes")
	h.Del("absent")
	if h.Has("X-Bytes") || h.Len() != 4 {
		t.Errorf("Del: %q", headerString(&h))
	}
	h.DelAt(0)
	if got := headerString(&h); got != "X-Empty: |set-Cookie: c=3|New: n|" {
		t.Fatalf("after DelAt: %q", got)
	}
	var c Header
	c.Add("Old", "o")
	c.CopyFrom(&h)
	h.Set("New", "changed")
	if got := headerString(&c); got != "X-Empty: |set-Cookie: c=3|New: n|" {
		t.Fatalf("CopyFrom is not independent: %q", got)
	}
	c.CopyFrom(&c)
	if got := headerString(&c); got != "X-Empty: |set-Cookie: c=3|New: n|" {
		t.Fatalf("CopyFrom itself: %q", got)
	}
	h.Reset()
	if h.Len() != 0 || h.Has("New") {
		t.Error("Reset")
	}
	h.Add("A", "1")
	if headerString(&h) != "A: 1|" {
		t.Errorf("after Reset: %q", headerString(&h))
	}
}

func TestHeaderHasToken(t *testing.T) {
	var h Header
	h.Add("Connection", "keep-alive , Upgrade")
	h.Add("Connection", ", ,close,")
	h.Add("Accept-Encoding", "gzip;q=1")
	tests := []struct {
		name, tok string
		want      bool
	}{
		{"connection", "close", true},
		{"Connection", "CLOSE", true},
		{"connection", "upgrade", true},
		{"connection", "keep-alive", true},
		{"connection", "clos", false},
		{"connection", "closed", false},
		{"connection", "", false},
		{"accept-encoding", "gzip", false},
		{"accept-encoding", "gzip;q=1", true},
		{"absent", "close", false},
	}
	for _, tt := range tests {
		if got := h.HasToken(tt.name, tt.tok); got != tt.want {
			t.Errorf("HasToken(%q, %q) = %v", tt.name, tt.tok, got)
		}
	}
	var toks []string
	ForEachToken([]byte(" a ,\tb,, c\t"), func(t []byte) bool { toks = append(toks, string(t)); return true })
	if strings.Join(toks, "|") != "a|b|c" {
		t.Errorf("ForEachToken %q", toks)
	}
	toks = nil
	ForEachToken([]byte("a,b,c"), func(t []byte) bool { toks = append(toks, string(t)); return false })
	if len(toks) != 1 {
		t.Errorf("ForEachToken did not stop: %q", toks)
	}
}

// TestHeaderParsedBufferUntouched: a parsed Header points into the read buffer; adding,
// setting, resetting, copying into it or appending to its values must never write there.
func TestHeaderParsedBufferUntouched(t *testing.T) {
	const head = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"
	const next = "GET /next HTTP/1.1\r\nHost: pipelined\r\n\r\n"
	ops := map[string]func(h *Header){
		"Add":      func(h *Header) { h.Add("Y", strings.Repeat("2", 100)) },
		"Add tiny": func(h *Header) { h.Add("Y", "") },
		"Set":      func(h *Header) { h.Set("X", "overwritten-overwritten") },
		"Del+Add":  func(h *Header) { h.Del("Host"); h.Add("Z", "zzzzzzzzzzzzzzzzzz") },
		"Reset+Add": func(h *Header) {
			h.Reset()
			h.Add("GET /evil HTTP/1.1", "zzzzzzzzzzzzzzz")
		},
		"CopyFrom": func(h *Header) {
			var src Header
			src.Add("Evil", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
			h.CopyFrom(&src)
		},
		"append to value": func(h *Header) {
			_, v := h.At(0)
			_ = append(v, "XXXXXXXXXXXX"...)
			n, _ := h.At(1)
			_ = append(n, "XXXXXXXXXXXX"...)
			_ = append(h.Get("X"), "XXXXXXXXXXXX"...)
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			buf := make([]byte, 0, 4096) // spare capacity after the data, as a read buffer has
			buf = append(buf, head+next...)
			orig := string(buf)
			var p Parser
			var r Request
			n, err := p.ParseRequest(buf, &r)
			if err != nil || n != len(head) {
				t.Fatal(n, err)
			}
			op(&r.Header)
			if string(buf) != orig || string(buf[:cap(buf)][len(buf):len(buf)+64]) != string(make([]byte, 64)) {
				t.Fatalf("the read buffer changed:\n%q", buf[:len(buf)+64])
			}
			// The pipelined request behind it still parses.
			if _, err := p.ParseRequest(buf[n:], &r); err != nil || string(r.Host) != "pipelined" {
				t.Fatalf("next request: %v %q", err, r.Host)
			}
		})
	}
	// The table keeps working after it stopped borrowing the buffer.
	var p Parser
	var r Request
	buf := []byte(head)
	if _, err := p.ParseRequest(buf, &r); err != nil {
		t.Fatal(err)
	}
	r.Header.Add("Y", "2")
	r.Header.Set("X", "3")
	if got := headerString(&r.Header); got != "Host: a|Y: 2|X: 3|" {
		t.Fatalf("%q", got)
	}
	r.Header.Reset()
	r.Header.Add("Q", "q")
	if got := headerString(&r.Header); got != "Q: q|" || string(buf) != head {
		t.Fatalf("%q %q", got, buf)
	}
}

func TestHeaderAddAllocs(t *testing.T) {
	var h Header
	fill := func() {
		h.Reset()
		h.Add("Content-Type", "text/plain; charset=utf-8")
		h.Add("Server", "hop")
		Add(&h, "Date", []byte("Mon, 01 Jan 2024 00:00:00 GMT"))
		_ = h.Get("server")
		_ = h.HasToken("connection", "close")
	}
	fill()
	if n := testing.AllocsPerRun(100, fill); n != 0 {
		t.Errorf("%v allocs per refill of a reused Header", n)
	}
}

func TestCharHelpers(t *testing.T) {
	for _, s := range []string{"GET", "x-y", "!#$%&'*+-.^_`|~09azAZ"} {
		if !IsToken(s) || !IsToken([]byte(s)) {
			t.Errorf("IsToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", "a:b", "a/b", "a\x00", "é", "a\"b", "(a)"} {
		if IsToken(s) {
			t.Errorf("IsToken(%q) = true", s)
		}
	}
	if !EqualFold("Content-Length", []byte("content-length")) || EqualFold("a", "ab") || EqualFold("[", "{") {
		t.Error("EqualFold")
	}
	for _, s := range []string{"", "text/plain", "a\tb", "caf\xc3\xa9", " \xff "} {
		if !ValidFieldValue(s) {
			t.Errorf("ValidFieldValue(%q) = false", s)
		}
	}
	for _, s := range []string{"a\rb", "a\nb", "a\x00", "\x7f", "\x1b"} {
		if ValidFieldValue([]byte(s)) {
			t.Errorf("ValidFieldValue(%q) = true", s)
		}
	}
	if !bytes.Equal(TrimOWS([]byte(" \t a b \t")), []byte("a b")) {
		t.Error("TrimOWS")
	}
}

// TestValueRun: the word-at-a-time scan agrees with the table for every byte value at
// every position of words and tails.
func TestValueRun(t *testing.T) {
	base := []byte("abcdefghijklmnopqrstuvwxyz0123 \xff\x80~!\tx")
	for n := 0; n <= len(base); n++ {
		if got := valueRun(base[:n]); got != n {
			t.Fatalf("valid prefix %d: run %d", n, got)
		}
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := append([]byte(nil), base[:n]...)
				b[pos] = byte(c)
				want := n
				if !valueChar[c] {
					want = pos
				}
				if got := valueRun(b); got != want {
					t.Fatalf("len %d, byte %#x at %d: run %d, want %d", n, c, pos, got, want)
				}
			}
		}
	}
}

// TestParseDigits: 1*DIGIT, saturating past int64; Content-Length refuses what
// saturates, and leading zeros.
func TestParseDigits(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int64
		ok   bool
		clOK bool
	}{
		{"0", 0, true, true},
		{"5", 5, true, true},
		{"005", 5, true, false},
		{"9223372036854775806", 1<<63 - 2, true, true},
		{"9223372036854775807", 1<<63 - 1, true, false},
		{"99999999999999999999999", 1<<63 - 1, true, false},
		{"", 0, false, false},
		{"+5", 0, false, false},
		{"5 ", 0, false, true}, // list elements are OWS-trimmed
		{"0x5", 0, false, false},
	} {
		n, ok := ParseDigits([]byte(tt.in))
		if n != tt.n || ok != tt.ok {
			t.Errorf("ParseDigits(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.ok)
		}
		if _, ok := ParseContentLength([]byte(tt.in)); ok != tt.clOK {
			t.Errorf("ParseContentLength(%q) ok = %v, want %v", tt.in, ok, tt.clOK)
		}
	}
}
