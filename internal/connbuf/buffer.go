package connbuf

import "io"

// Buffer is a connection's read buffer. Input is appended after End and consumed from
// Start; the zero value is empty and allocates at the first Room.
type Buffer struct {
	buf        []byte
	start, end int // unconsumed input is buf[start:end]
	floor      int // bytes below floor are pinned
}

// Init gives the buffer an array of size bytes (keeping a large enough one) and
// empties it.
func (b *Buffer) Init(size int) {
	if cap(b.buf) < size {
		b.buf = make([]byte, size)
	}
	b.buf = b.buf[:cap(b.buf)]
	b.start, b.end, b.floor = 0, 0, 0
}

// Release empties the buffer and drops its array when it is larger than keep bytes, so
// that a pooled buffer does not pin memory.
func (b *Buffer) Release(keep int) {
	if cap(b.buf) > keep {
		b.buf = nil
	}
	b.start, b.end, b.floor = 0, 0, 0
}

// Reset discards the input (and the pin), keeping the array.
func (b *Buffer) Reset() { b.start, b.end, b.floor = 0, 0, 0 }

// Bytes returns the unconsumed input. It aliases the buffer: valid until the next
// Room, Fill or Reset.
func (b *Buffer) Bytes() []byte { return b.buf[b.start:b.end] }

// Len returns the number of unconsumed bytes.
func (b *Buffer) Len() int { return b.end - b.start }

// Cap returns the size of the array.
func (b *Buffer) Cap() int { return len(b.buf) }

// Consume drops the first n unconsumed bytes (n <= Len).
func (b *Buffer) Consume(n int) { b.start += n }

// Take consumes n bytes (n <= Len) and returns them in place: a sub-slice of the array
// with its capacity cut to n, valid until Room or Reset reuses the space (Pin it to
// keep it).
func (b *Buffer) Take(n int) []byte {
	p := b.buf[b.start : b.start+n : b.start+n]
	b.start += n
	return p
}

// Pin keeps everything consumed so far where it is (a parsed head points into it).
func (b *Buffer) Pin() { b.floor = b.start }

// Unpin releases the pin.
func (b *Buffer) Unpin() { b.floor = 0 }

// Free returns the free space after the input, for a read; Advance commits what was
// read into it.
func (b *Buffer) Free() []byte { return b.buf[b.end:] }

// Advance appends the first n bytes of Free to the input.
func (b *Buffer) Advance(n int) { b.end += n }

// AppendByte appends one byte to the input, making room for it.
func (b *Buffer) AppendByte(c byte) {
	b.Room(1, b.Len()+1)
	b.buf[b.end] = c
	b.end++
}

// Room makes at least want bytes free after the input, as far as limit allows,
// reusing the space of consumed input that is not pinned. With no input left it
// starts over at the floor; else, when the free space is short, it moves the input
// down to the floor, and when that is not enough it moves the input to a new array,
// twice as large (at least the input plus want, at most limit bytes of input in all),
// leaving the old array to whatever still points into it. It reports false when
// nothing is free and limit bytes of input are already buffered.
func (b *Buffer) Room(want, limit int) bool {
	if b.start == b.end {
		b.start, b.end = b.floor, b.floor
	}
	return len(b.buf)-b.end >= want || b.room(want, limit)
}

// room is Room's slow path: compaction, then growth.
func (b *Buffer) room(want, limit int) bool {
	if b.start > b.floor {
		b.end = b.floor + copy(b.buf[b.floor:], b.buf[b.start:b.end])
		b.start = b.floor
		if len(b.buf)-b.end >= want {
			return true
		}
	}
	n := b.end - b.start
	if n >= limit {
		return b.end < len(b.buf)
	}
	size := max(2*len(b.buf), n+want)
	size = min(size, max(limit, n+1))
	nb := make([]byte, size)
	b.end = copy(nb, b.buf[b.start:b.end])
	b.start, b.floor = 0, 0
	b.buf = nb
	return true
}

// Fill reads once from r into the free space (which the caller made with Room) and
// appends what arrived. It returns what r.Read returned.
func (b *Buffer) Fill(r io.Reader) (int, error) {
	n, err := r.Read(b.buf[b.end:])
	b.end += n
	return n, err
}
