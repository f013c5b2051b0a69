package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var errIncomplete = errors.New("input ended inside the chunked body")

// decodeChunked runs in through d as a connection would, with the bytes arriving step
// at a time (all at once when step <= 0), keeping what Decode did not consume. It
// returns the body, the bytes consumed and the error (errIncomplete when the input ends
// before the last chunk and trailers).
func decodeChunked(d *ChunkedDecoder, in []byte, step int) (body []byte, used int, err error) {
	if step <= 0 {
		step = len(in)
	}
	avail := 0
	for {
		avail = min(avail+step, len(in))
		for {
			n, data, err := d.Decode(in[used:avail])
			if n < 0 || used+n > avail || len(data) > n {
				panic("Decode consumed more than it was given")
			}
			used += n
			body = append(body, data...)
			if err != nil {
				return body, used, err
			}
			if d.Done() {
				return body, used, nil
			}
			if n == 0 {
				break
			}
		}
		if avail == len(in) {
			return body, used, errIncomplete
		}
	}
}

func trailerString(h *Header) string {
	var b strings.Builder
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		b.WriteString(string(n) + "=" + string(v) + ";")
	}
	return b.String()
}

func TestChunkedValid(t *testing.T) {
	tests := []struct {
		name, in, body, trailer string
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", ""},
		{"upper and lower hex", "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", "01234567890123456789", ""},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", ""},
		{"many leading zeros", "00000000000000000000005\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"empty body", "0\r\n\r\n", "", ""},
		{"token extensions", "5;a;b=c\r\nhello\r\n0;last\r\n\r\n", "hello", ""},
		{"BWS around extension", "5 ; a = b\t;\tc\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"quoted extension", "5;a=\"x y;z\"\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"quoted-pair in extension", "5;a=\"I \\\"love\\\"; \\\\ext\\\\\";b=c\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"empty quoted extension", "5;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"trailers", "5\r\nhello\r\n0\r\nServer-Timing: db;dur=5\r\nX-Checksum:  abc \r\n\r\n", "hello", "Server-Timing=db;dur=5;X-Checksum=abc;"},
		{"prohibited trailers dropped", "5\r\nhello\r\n0\r\nContent-Length: 50\r\nX-A: 1\r\nhOsT: evil\r\n" +
			"Transfer-Encoding: chunked\r\nAuthorization: Bearer x\r\nX-B: 2\r\n\r\n", "hello", "X-A=1;X-B=2;"},
		{"CRLF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", ""},
		{"binary data", "3\r\n\x00\n\xff\r\n0\r\n\r\n", "\x00\n\xff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in + "NEXT") // the next message must be left alone
			for step := 0; step <= len(in); step++ {
				var d ChunkedDecoder
				body, used, err := decodeChunked(&d, in, step)
				if err != nil || string(body) != tt.body || used != len(tt.in) || !d.Done() {
					t.Fatalf("step %d: body %q used %d err %v", step, body, used, err)
				}
				if got := trailerString(&d.Trailer); got != tt.trailer {
					t.Fatalf("step %d: trailer %q, want %q", step, got, tt.trailer)
				}
				// Done: nothing more is consumed.
				if n, data, err := d.Decode(in[used:]); n != 0 || data != nil || err != nil {
					t.Fatalf("after Done: %d %q %v", n, data, err)
				}
			}
		})
	}
}

func TestChunkedSplitEverywhere(t *testing.T) {
	in := []byte("1a;ext=\"q\\\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n3;x\r\n123\r\n0\r\nT1: v1\r\nT2: v2\r\n\r\n")
	for i := 0; i <= len(in); i++ {
		var d ChunkedDecoder
		var body []byte
		used := 0
		for _, end := range []int{i, len(in)} {
			for {
				n, data, err := d.Decode(in[used:end])
				if err != nil {
					t.Fatalf("split %d: %v", i, err)
				}
				used += n
				body = append(body, data...)
				if n == 0 || d.Done() {
					break
				}
			}
		}
		if !d.Done() || used != len(in) || string(body) != "abcdefghijklmnopqrstuvwxyz123" ||
			trailerString(&d.Trailer) != "T1=v1;T2=v2;" {
			t.Fatalf("split %d: done %v used %d body %q trailer %q", i, d.Done(), used, body, trailerString(&d.Trailer))
		}
	}
}

func TestChunkedInvalid(t *testing.T) {
	long := strings.Repeat("0", DefaultMaxChunkLine)
	tests := []struct {
		name, in string
		want     error
	}{
		{"size overflow", "8000000000000000\r\n", ErrChunkTooLarge},
		{"size overflow, 17 digits", "10000000000000000\r\n", ErrChunkTooLarge},
		{"empty size", "\r\nhello\r\n0\r\n\r\n", ErrInvalidChunk},
		{"missing last chunk", "3\r\nfoo\r\n\r\n", ErrInvalidChunk},
		{"non-hex size", "g\r\n", ErrInvalidChunk},
		{"negative size", "-1\r\n", ErrInvalidChunk},
		{"0x prefix", "0x5\r\nhello\r\n", ErrInvalidChunk},
		{"space inside size", "1 0\r\n", ErrInvalidChunk},
		{"leading space", " 5\r\nhello\r\n", ErrInvalidChunk},
		{"trailing space", "5 \r\nhello\r\n0\r\n\r\n", ErrInvalidChunk},
		{"trailing space on last chunk", "0  \r\n\r\n", ErrInvalidChunk},
		{"trailing tab after extension", "5;a\t\r\nhello\r\n", ErrInvalidChunk},
		{"trailing space after extension value", "5;a=b \r\nhello\r\n", ErrInvalidChunk},
		{"no semicolon before extension", "2 erfrferferf\r\naa\r\n", ErrInvalidChunk},
		{"empty extension", "2;\r\naa\r\n", ErrInvalidChunk},
		{"extension without value", "2;a=\r\naa\r\n", ErrInvalidChunk},
		{"bad extension name", "2;@\r\naa\r\n", ErrInvalidChunk},
		{"unbalanced quote", "5;a=\"abc;b=c\r\nhello\r\n", ErrInvalidChunk},
		{"control char in quoted value", "5;a=\"a\x01\"\r\nhello\r\n", ErrInvalidChunk},
		{"CR in size line", "5\r\r;a\r\nhello\r\n", ErrInvalidChunk},
		{"data not followed by CRLF", "5\r\nhelloX\r\n0\r\n\r\n", ErrInvalidChunk},
		{"data followed by CR only", "5\r\nhello\rX0\r\n\r\n", ErrInvalidChunk},
		{"data followed by LF only", "5\r\nhello\n0\r\n\r\n", ErrInvalidChunk},
		{"data too short", "5\r\nhell\r\n0\r\n\r\n", ErrInvalidChunk},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", ErrBareLF},
		{"bare LF after last chunk", "0\n\r\n", ErrBareLF},
		{"bare LF ending trailers", "0\r\n\n", ErrBareLF},
		{"bare LF after trailer", "0\r\nA: b\n\r\n", ErrBareLF},
		{"obs-fold in trailer", "0\r\nA: b\r\n c\r\n\r\n", ErrObsFold},
		{"space before colon in trailer", "0\r\nA : b\r\n\r\n", ErrSpaceBeforeColon},
		{"NUL in trailer value", "0\r\nA: b\x00\r\n\r\n", ErrInvalidFieldValue},
		{"chunk line too long", "5;a=" + long + "\r\n", ErrInvalidChunk},
		{"chunk line too long without LF", "5;a=" + long, ErrInvalidChunk},
		{"trailer too large", "0\r\nA: " + strings.Repeat("v", DefaultMaxTrailerBytes) + "\r\n\r\n", ErrTrailerTooLarge},
		{"trailer too large without LF", "0\r\nA: " + strings.Repeat("v", DefaultMaxTrailerBytes), ErrTrailerTooLarge},
		{"too many trailer fields", "0\r\n" + strings.Repeat("A: b\r\n", DefaultMaxHeaderFields+1) + "\r\n", ErrTooManyFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 2, 3, 7} {
				var d ChunkedDecoder
				_, _, err := decodeChunked(&d, []byte(tt.in), step)
				if err != tt.want {
					t.Fatalf("step %d: %v, want %v", step, err, tt.want)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("not an *Error: %v", err)
				}
			}
		})
	}
}

func TestChunkedLimits(t *testing.T) {
	// A chunk line of exactly MaxChunkLine bytes (CRLF included) passes; one more fails.
	d := ChunkedDecoder{Limits: Limits{MaxChunkLine: 16}}
	ok := "5;a=" + strings.Repeat("b", 10) + "\r\n" // 16 bytes
	if _, _, err := decodeChunked(&d, []byte(ok+"hello\r\n0\r\n\r\n"), 1); err != nil {
		t.Fatalf("16-byte chunk line: %v", err)
	}
	d = ChunkedDecoder{Limits: Limits{MaxChunkLine: 16}}
	if _, _, err := decodeChunked(&d, []byte("5;a="+strings.Repeat("b", 11)+"\r\nhello\r\n0\r\n\r\n"), 1); err != ErrInvalidChunk {
		t.Fatalf("17-byte chunk line: %v", err)
	}
	// The trailer limit counts every trailer line and the final CRLF.
	tr := "A: 123\r\n\r\n" // 10 bytes
	d = ChunkedDecoder{Limits: Limits{MaxTrailerBytes: 10}}
	if _, _, err := decodeChunked(&d, []byte("0\r\n"+tr), 1); err != nil {
		t.Fatalf("10-byte trailer: %v", err)
	}
	d = ChunkedDecoder{Limits: Limits{MaxTrailerBytes: 9}}
	if _, _, err := decodeChunked(&d, []byte("0\r\n"+tr), 1); err != ErrTrailerTooLarge || StatusOf(err) != 431 {
		t.Fatalf("10-byte trailer, limit 9: %v", err)
	}
	// The largest size is accepted (the caller bounds the body).
	d = ChunkedDecoder{}
	n, data, err := d.Decode([]byte("7fffffffffffffff\r\nab"))
	if err != nil || n != 20 || string(data) != "ab" {
		t.Fatalf("max size: %d %q %v", n, data, err)
	}
}

func TestChunkedReset(t *testing.T) {
	var d ChunkedDecoder
	in := []byte("3\r\nabc\r\n0\r\nX: 1\r\n\r\n")
	for i := 0; i < 3; i++ {
		d.Reset()
		body, used, err := decodeChunked(&d, in, 5)
		if err != nil || string(body) != "abc" || used != len(in) || d.Trailer.Len() != 1 {
			t.Fatalf("round %d: %q %d %v %d", i, body, used, err, d.Trailer.Len())
		}
	}
	// Trailer values are copies: the input buffer may be reused.
	copy(in, bytes.Repeat([]byte("Z"), len(in)))
	if got := trailerString(&d.Trailer); got != "X=1;" {
		t.Errorf("trailer changed with the input: %q", got)
	}
	// Reset in the middle of a body starts over.
	d.Reset()
	if _, _, err := d.Decode([]byte("5\r\nab")); err != nil {
		t.Fatal(err)
	}
	d.Reset()
	body, _, err := decodeChunked(&d, []byte("2\r\nxy\r\n0\r\n\r\n"), 0)
	if err != nil || string(body) != "xy" {
		t.Fatalf("%q %v", body, err)
	}
}

// TestChunkedRoundTrip: what AppendChunk/AppendLastChunk write, ChunkedDecoder reads.
func TestChunkedRoundTrip(t *testing.T) {
	var tr Header
	tr.Add("Checksum", "abc")
	tr.Add("X-Empty", "")
	var out []byte
	var want []byte
	for i, n := range []int{1, 15, 16, 255, 4096, 0, 70000} {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		out = AppendChunk(out, p)
		want = append(want, p...)
	}
	out = AppendLastChunk(out, &tr)
	for _, step := range []int{0, 1, 1000} {
		var d ChunkedDecoder
		body, used, err := decodeChunked(&d, out, step)
		if err != nil || !bytes.Equal(body, want) || used != len(out) {
			t.Fatalf("step %d: %d bytes, used %d, %v", step, len(body), used, err)
		}
		if got := trailerString(&d.Trailer); got != "Checksum=abc;X-Empty=;" {
			t.Fatalf("trailer %q", got)
		}
	}
}

// TestProhibitedTrailer: the RFC 9110 §6.5.1 fields are refused in any case, others
// (and names longer than any listed) are not.
func TestProhibitedTrailer(t *testing.T) {
	for _, n := range []string{"Content-Length", "transfer-encoding", "TRAILER", "Host", "Connection",
		"Keep-Alive", "Proxy-Connection", "TE", "Upgrade", "Authorization", "Proxy-Authorization",
		"WWW-Authenticate", "Proxy-Authenticate", "Cookie", "Set-Cookie", "Expect", "Max-Forwards",
		"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range",
		"Cache-Control", "Pragma", "Age", "Expires", "Date", "Location", "Retry-After", "Vary",
		"Content-Encoding", "Content-Type", "Content-Range"} {
		if !ProhibitedTrailer(n) || !ProhibitedTrailer([]byte(n)) {
			t.Errorf("ProhibitedTrailer(%q) = false", n)
		}
	}
	for _, n := range []string{"", "X-Checksum", "Server-Timing", "grpc-status", "Digest", "Content-MD5",
		"Content-Lengths", "Hos", "a-name-longer-than-any-listed-one"} {
		if ProhibitedTrailer(n) {
			t.Errorf("ProhibitedTrailer(%q) = true", n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ProhibitedTrailer([]byte("Content-Length")) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
