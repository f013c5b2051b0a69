package connbuf

import (
	"io"

	"github.com/hop-http/hop/wire"
)

// Chunked runs a wire.ChunkedDecoder over a Buffer: it consumes chunk framing from the
// buffer and hands out the data in place. Set Decoder.Limits, then Reset it for each
// body.
type Chunked struct {
	Decoder wire.ChunkedDecoder
	pending []byte // decoded data not handed out yet (consumed from the buffer already)
	err     error  // a framing error Ended found, for the next Next
}

// Reset prepares for a new body (and empties the trailer).
func (c *Chunked) Reset() {
	c.Decoder.Reset()
	c.pending, c.err = nil, nil
}

// Done reports whether the last chunk and the trailer have been consumed and all data
// handed out.
func (c *Chunked) Done() bool { return len(c.pending) == 0 && c.Decoder.Done() }

// Trailer returns the trailer fields, complete once Done.
func (c *Chunked) Trailer() *wire.Header { return &c.Decoder.Trailer }

// Next decodes what b holds. It returns up to max bytes of body data (a sub-slice of
// b's array, valid until b is next filled or compacted), io.EOF once the body and its
// trailer are complete, a framing error (a *wire.Error) for malformed input, or no
// data and no error when b holds no more complete framing: read more into b (after
// Room; the framing lines are bounded by the decoder's limits) and call again.
func (c *Chunked) Next(b *Buffer, max int) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	for {
		if len(c.pending) > 0 {
			k := min(len(c.pending), max)
			p := c.pending[:k]
			c.pending = c.pending[k:]
			return p, nil
		}
		if c.Decoder.Done() {
			return nil, io.EOF
		}
		if b.Len() == 0 {
			return nil, nil
		}
		used, data, err := c.Decoder.Decode(b.Bytes())
		b.Consume(used)
		if err != nil {
			return nil, err
		}
		if len(data) > 0 {
			c.pending = data
			continue
		}
		if c.Decoder.Done() {
			return nil, io.EOF
		}
		if used == 0 || b.Len() == 0 {
			return nil, nil // the rest of a line, or of a chunk, is still to come
		}
	}
}

// Ready decodes the framing already buffered after the data handed out so far and
// reports whether Next can return without more input being read into b: data, the
// end of the body or a framing error. Like Ended it never reads.
func (c *Chunked) Ready(b *Buffer) bool {
	if c.err != nil || len(c.pending) > 0 {
		return true
	}
	return c.Ended(b) || len(c.pending) > 0 || c.err != nil
}

// Ended decodes the framing already buffered after the data handed out so far and
// reports whether the body is complete (the last chunk and trailer often arrive with
// the last data). It never reads; a framing error reports false and is returned by the
// next call to Next.
func (c *Chunked) Ended(b *Buffer) bool {
	if len(c.pending) > 0 {
		return false
	}
	for !c.Decoder.Done() && b.Len() > 0 {
		used, data, err := c.Decoder.Decode(b.Bytes())
		b.Consume(used)
		if err != nil {
			c.err = err
			return false
		}
		if len(data) > 0 {
			c.pending = data
			return false
		}
		if used == 0 {
			return false
		}
	}
	return c.Decoder.Done()
}
