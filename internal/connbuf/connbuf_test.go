package connbuf

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hop-http/hop/wire"
)

func TestRoomCompactsToFloor(t *testing.T) {
	var b Buffer
	b.Init(16)
	copy(b.Free(), "HEAD|0123456789a")
	b.Advance(16)
	b.Consume(5)
	b.Pin() // "HEAD|" stays
	b.Consume(4)
	if !b.Room(4, 100) {
		t.Fatal("Room failed")
	}
	if got := string(b.buf[:b.end]); got != "HEAD|456789a" || string(b.Bytes()) != "456789a" {
		t.Fatalf("after compaction: %q, input %q", got, b.Bytes())
	}
	if b.Cap() != 16 {
		t.Fatalf("grew to %d though compaction made room", b.Cap())
	}
}

func TestRoomGrowsAndLeavesPinnedData(t *testing.T) {
	var b Buffer
	b.Init(8)
	copy(b.Free(), "GET abcd")
	b.Advance(8)
	head := b.Take(4) // "GET " — a parsed head pointing into the buffer
	b.Pin()
	if !b.Room(1, 64) {
		t.Fatal("Room failed")
	}
	if b.Cap() != 16 || string(b.Bytes()) != "abcd" {
		t.Fatalf("grown to %d with input %q", b.Cap(), b.Bytes())
	}
	copy(b.Free(), "efgh")
	b.Advance(4)
	if string(head) != "GET " {
		t.Fatalf("pinned bytes changed to %q", head)
	}
}

func TestRoomLimit(t *testing.T) {
	var b Buffer
	b.Init(8)
	for i := 0; i < 100; i++ {
		if !b.Room(1, 32) {
			if b.Len() != 32 {
				t.Fatalf("Room refused with %d bytes buffered, limit 32", b.Len())
			}
			return
		}
		b.Advance(len(b.Free()))
	}
	t.Fatal("Room never refused")
}

func TestRoomStartsOverWhenEmpty(t *testing.T) {
	var b Buffer
	b.Init(8)
	b.Advance(8)
	b.Consume(8)
	if !b.Room(8, 8) || len(b.Free()) != 8 {
		t.Fatalf("empty buffer not reused from the front: %d free", len(b.Free()))
	}
}

// readChunked decodes a whole chunked body from r with a buffer of initial size,
// the way the server and the client do.
func readChunked(t *testing.T, r io.Reader, size int) (string, *Chunked, error) {
	t.Helper()
	var b Buffer
	b.Init(size)
	var ch Chunked
	ch.Reset()
	var body strings.Builder
	for i := 0; i < 1e6; i++ {
		data, err := ch.Next(&b, 7)
		body.Write(data)
		if err == io.EOF {
			return body.String(), &ch, nil
		}
		if err != nil {
			return body.String(), &ch, err
		}
		if len(data) > 0 {
			continue
		}
		if !b.Room(1, 1<<16) {
			return body.String(), &ch, errors.New("buffer full")
		}
		if _, err := b.Fill(r); err != nil && err != io.EOF {
			return body.String(), &ch, err
		} else if err == io.EOF {
			return body.String(), &ch, io.ErrUnexpectedEOF
		}
	}
	t.Fatal("no progress")
	return "", nil, nil
}

func TestChunkedAcrossReads(t *testing.T) {
	in := "5;ext=1\r\nhello\r\n1a\r\n" + strings.Repeat("z", 26) + "\r\n0\r\nX-T: v\r\n\r\n"
	for _, size := range []int{4, 64, 4096} {
		for name, r := range map[string]io.Reader{
			"whole":       strings.NewReader(in),
			"byte a time": iotest.OneByteReader(strings.NewReader(in)),
		} {
			body, ch, err := readChunked(t, r, size)
			if err != nil || body != "hello"+strings.Repeat("z", 26) || string(ch.Trailer().Get("X-T")) != "v" || !ch.Done() {
				t.Fatalf("%s, buffer %d: body %q, %v", name, size, body, err)
			}
		}
	}
}

func TestChunkedErrors(t *testing.T) {
	for _, in := range []string{"0x5\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX", " 5\r\nhello\r\n0\r\n\r\n", "5;\r\nhello\r\n0\r\n\r\n"} {
		_, _, err := readChunked(t, strings.NewReader(in), 64)
		var we *wire.Error
		if !errors.As(err, &we) || we.Status != 400 {
			t.Errorf("%q: %v, want a 400 wire.Error", in, err)
		}
	}
	if _, _, err := readChunked(t, strings.NewReader("5\r\nhel"), 64); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated body: %v", err)
	}
}

func TestChunkedEnded(t *testing.T) {
	var b Buffer
	b.Init(64)
	b.Advance(copy(b.Free(), "3\r\nabc\r\n0\r\n\r\nNEXT"))
	var ch Chunked
	ch.Reset()
	data, err := ch.Next(&b, 100)
	if string(data) != "abc" || err != nil {
		t.Fatalf("Next: %q, %v", data, err)
	}
	if !ch.Ended(&b) || string(b.Bytes()) != "NEXT" {
		t.Fatalf("Ended false, or consumed too much: %q", b.Bytes())
	}
	// A framing error found by Ended comes out of the next Next.
	b.Reset()
	b.Advance(copy(b.Free(), "3\r\nabcXX"))
	ch.Reset()
	ch.Next(&b, 100)
	if ch.Ended(&b) {
		t.Fatal("Ended on malformed framing")
	}
	if _, err := ch.Next(&b, 100); err == nil {
		t.Fatal("the framing error was lost")
	}
}

func TestDeadline(t *testing.T) {
	var d Deadline
	base := time.Unix(1000, 0)
	if !d.Move(base, time.Second) {
		t.Fatal("first Move did not set")
	}
	if d.Move(base.Add(500*time.Millisecond), time.Second) {
		t.Fatal("a move within the slack set the deadline")
	}
	if !d.Move(base.Add(2*time.Second), time.Second) {
		t.Fatal("a move past the slack did not set")
	}
	if !d.Move(base, time.Second) {
		t.Fatal("an earlier deadline did not set")
	}
	d.Forget()
	if !d.Move(base, time.Second) || !d.At().Equal(base) {
		t.Fatal("Forget did not force the next Move")
	}
	// No deadline: set once, then kept until another deadline is asked for.
	if !d.Move(time.Time{}, time.Second) || d.Move(time.Time{}, time.Second) || !d.At().IsZero() {
		t.Fatal("a cleared deadline is set again")
	}
	if !d.Move(base, time.Second) {
		t.Fatal("a deadline after none did not set")
	}
}

func TestAppendByte(t *testing.T) {
	var b Buffer
	b.Init(2)
	b.Advance(copy(b.Free(), "ab"))
	b.AppendByte('c')
	if !bytes.Equal(b.Bytes(), []byte("abc")) {
		t.Fatalf("%q", b.Bytes())
	}
}

// TestChunkedReady: Ready is true when Next can return without a read (data, the end,
// an error), false when only framing or part of a line is buffered.
func TestChunkedReady(t *testing.T) {
	for _, tc := range []struct {
		in    string
		ready bool
	}{
		{"", false},
		{"\r\n", false},         // the CRLF after the data handed out
		{"\r\n1", false},        // part of the next size line
		{"\r\n3\r\n", false},    // a size line, no data yet
		{"\r\n3\r\nd", true},    // data
		{"\r\n0\r\n\r\n", true}, // the end
		{"XX", true},            // a framing error
	} {
		var b Buffer
		b.Init(64)
		b.Advance(copy(b.Free(), "3\r\nabc"))
		var ch Chunked
		ch.Reset()
		if data, err := ch.Next(&b, 100); string(data) != "abc" || err != nil {
			t.Fatalf("Next: %q, %v", data, err)
		}
		b.Advance(copy(b.Free(), tc.in))
		if got := ch.Ready(&b); got != tc.ready {
			t.Errorf("after %q buffered: Ready %v, want %v", tc.in, got, tc.ready)
		}
	}
}
