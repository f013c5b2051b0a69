package connbuf_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/hop-http/hop/internal/connbuf"
	"github.com/hop-http/hop/wire"
)

// Example reads a response head and its chunked body from a stream with one Buffer:
// the parser sees the buffered bytes in place, the head stays pinned while its fields
// are used, and the chunked driver hands out body data without copying. A connection
// owner (server, client, load generator) does the same over its socket, with its own
// deadlines and error policy around Fill.
func Example() {
	stream := strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"6\r\nHello,\r\n7\r\n world!\r\n0\r\n\r\n")
	var in connbuf.Buffer
	in.Init(16) // small on purpose: it grows (the head) and compacts (the body)
	limits := wire.Limits{}

	var p wire.Parser
	var resp wire.Response
	for {
		n, err := p.ParseResponse(in.Bytes(), &resp, []byte("GET"))
		if err == wire.ErrNeedMore {
			if !in.Room(1, limits.MaxHead()) {
				fmt.Println("head too large")
				return
			}
			if _, err := in.Fill(stream); err != nil {
				fmt.Println("read:", err)
				return
			}
			continue
		}
		if err != nil {
			fmt.Println("bad head:", err)
			return
		}
		in.Consume(n)
		break
	}
	in.Pin() // resp's fields point into the buffer
	fmt.Println(resp.Status, string(resp.Header.Get("Transfer-Encoding")))

	var body connbuf.Chunked
	body.Decoder.Limits = limits
	body.Reset()
	var got []byte
	for {
		data, err := body.Next(&in, 1<<20)
		got = append(got, data...)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("bad body:", err)
			return
		}
		if len(data) == 0 {
			in.Room(1, limits.MaxHead())
			if _, err := in.Fill(stream); err != nil {
				fmt.Println("truncated:", err)
				return
			}
		}
	}
	in.Unpin()
	fmt.Printf("%s\n", got)
	// Output:
	// 200 chunked
	// Hello, world!
}
