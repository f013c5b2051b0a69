package wire

// field locates one field line inside a Header's arena.
type field struct {
	nameOff, nameLen, valOff, valLen uint32
}

// Header is an ordered table of header fields. Names and values live in one byte arena
// and are located by offsets, so lookups need no map and adding a field allocates
// nothing once the arena and table have grown to size. Lookups are ASCII
// case-insensitive. A Header filled by the [Parser] points into the caller's read
// buffer (capacity-clipped, so adding fields never writes into that buffer); it is
// valid until the buffer is reused. The zero value is an empty table ready to use.
type Header struct {
	arena  []byte
	fields []field
	// borrowed is set while arena is the caller's read buffer (after parsing): it
	// must never be appended to in place, nor kept by Reset for reuse.
	borrowed bool
}

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.fields) }

// At returns the name and value of the i-th field.
func (h *Header) At(i int) (name, value []byte) {
	f := h.fields[i]
	return h.arena[f.nameOff : f.nameOff+f.nameLen : f.nameOff+f.nameLen],
		h.arena[f.valOff : f.valOff+f.valLen : f.valOff+f.valLen]
}

func (h *Header) name(i int) []byte {
	f := h.fields[i]
	return h.arena[f.nameOff : f.nameOff+f.nameLen]
}

func (h *Header) value(i int) []byte {
	f := h.fields[i]
	return h.arena[f.valOff : f.valOff+f.valLen : f.valOff+f.valLen]
}

// Index returns the index of the first field named name at or after from, or -1.
func (h *Header) Index(name string, from int) int { return indexOf(h, name, from) }

// Get returns the value of the first field named name, or nil.
func (h *Header) Get(name string) []byte {
	if i := h.Index(name, 0); i >= 0 {
		return h.value(i)
	}
	return nil
}

// Has reports whether a field named name is present.
func (h *Header) Has(name string) bool { return h.Index(name, 0) >= 0 }

// Values calls fn with the value of every field named name, in order.
func (h *Header) Values(name string, fn func(value []byte)) {
	for i := h.Index(name, 0); i >= 0; i = h.Index(name, i+1) {
		fn(h.value(i))
	}
}

// HasToken reports whether any field named name contains token as an element of its
// comma-separated value (case-insensitive), as for Connection: close.
func (h *Header) HasToken(name, token string) bool {
	found := false
	for i := h.Index(name, 0); i >= 0 && !found; i = h.Index(name, i+1) {
		ForEachToken(h.value(i), func(t []byte) bool {
			found = EqualFold(t, token)
			return !found
		})
	}
	return found
}

// Add appends a field. The name and value are copied. Callers are responsible for
// passing a valid token name and a value without CR, LF or NUL; see [ValidFieldValue].
func Add[N, V ~string | ~[]byte](h *Header, name N, value V) {
	if h.borrowed {
		h.own(len(name) + len(value))
	}
	off := uint32(len(h.arena))
	h.arena = append(h.arena, name...)
	voff := uint32(len(h.arena))
	h.arena = append(h.arena, value...)
	h.fields = append(h.fields, field{off, uint32(len(name)), voff, uint32(len(value))})
}

// Add appends a field; see the generic [Add] for []byte arguments.
func (h *Header) Add(name, value string) { Add(h, name, value) }

// Set replaces every field named name by one field with value.
func (h *Header) Set(name, value string) {
	h.Del(name)
	Add(h, name, value)
}

// Del removes every field named name.
func (h *Header) Del(name string) { delName(h, name) }

// DelAt removes the i-th field.
func (h *Header) DelAt(i int) {
	h.fields = append(h.fields[:i], h.fields[i+1:]...)
}

// Reset empties the table, keeping its storage for reuse (but never a parsed read
// buffer, which the table does not own).
func (h *Header) Reset() {
	if h.borrowed {
		h.arena, h.borrowed = nil, false
	} else {
		h.arena = h.arena[:0]
	}
	h.fields = h.fields[:0]
}

// own copies a borrowed arena into storage of the table's own, with room for extra
// more bytes, so that it can grow without touching the caller's buffer.
func (h *Header) own(extra int) {
	a := make([]byte, len(h.arena), len(h.arena)+extra+64)
	copy(a, h.arena)
	h.arena, h.borrowed = a, false
}

// CopyFrom makes h an independent copy of src.
func (h *Header) CopyFrom(src *Header) {
	if src == h {
		if h.borrowed {
			h.own(0)
		}
		return
	}
	h.Reset()
	for i := range src.fields {
		n, v := src.At(i)
		Add(h, n, v)
	}
}

// setArena points the table at a parsed buffer. The capacity is clipped so that a later
// Add reallocates instead of writing into the caller's buffer.
func (h *Header) setArena(buf []byte) { h.arena, h.borrowed = buf[:len(buf):len(buf)], true }

// ValidFieldValue reports whether v may be sent as a field value: no CR, LF, NUL or
// other control characters except HTAB.
func ValidFieldValue[S ~string | ~[]byte](v S) bool {
	for i := 0; i < len(v); i++ {
		if !valueChar[v[i]] {
			return false
		}
	}
	return true
}
