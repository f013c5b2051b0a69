package wire

import "hash/maphash"

// Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection, not the message: a
// proxy removes them before it forwards a message, and an endpoint writes its own.

// IsHopByHop reports whether name is one of the standard hop-by-hop fields:
// Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, Trailer,
// Proxy-Authorization and Proxy-Authenticate. Fields named by a Connection field are
// hop-by-hop too; [RemoveHopByHop] removes those as well.
func IsHopByHop[S ~string | ~[]byte](name S) bool {
	switch len(name) {
	case 2:
		return EqualFold(name, "te")
	case 7:
		return EqualFold(name, "upgrade") || EqualFold(name, "trailer")
	case 10:
		return EqualFold(name, "connection") || EqualFold(name, "keep-alive")
	case 16:
		return EqualFold(name, "proxy-connection")
	case 17:
		return EqualFold(name, "transfer-encoding")
	case 18:
		return EqualFold(name, "proxy-authenticate")
	case 19:
		return EqualFold(name, "proxy-authorization")
	}
	return false
}

// IsConnectionManaged reports whether an endpoint writes the field itself when it
// serializes a message, so that a caller's copy must not be sent: Connection,
// Keep-Alive, Proxy-Connection, Content-Length and Transfer-Encoding. The server and
// the client skip these in the fields they are given and write their own.
func IsConnectionManaged[S ~string | ~[]byte](name S) bool {
	switch len(name) {
	case 10:
		return EqualFold(name, "connection") || EqualFold(name, "keep-alive")
	case 14:
		return EqualFold(name, "content-length")
	case 16:
		return EqualFold(name, "proxy-connection")
	case 17:
		return EqualFold(name, "transfer-encoding")
	}
	return false
}

// RemoveHopByHop removes from h every field named in a Connection field, then every
// standard hop-by-hop field (see [IsHopByHop]), Connection itself included. The
// other fields keep their order. It allocates nothing for a table of up to
// DefaultMaxHeaderFields fields.
//
// The work is linear in the size of the head, whatever the Connection fields list: a
// list that names nothing but the standard fields (keep-alive, close, upgrade) costs
// one pass over it; a list naming other fields is looked up in a hash set of the
// table's names (seeded per process), so that a long list of names cannot make the
// removal quadratic.
//
// A proxy that forwards something hop-by-hop on purpose (an Upgrade it tunnels,
// TE: trailers, a Trailer field it forwards with the trailers) reads it before the
// call and adds it back afterwards.
func RemoveHopByHop(h *Header) {
	names := false // a Connection field names a field that is not a standard one
	for i := h.Index("Connection", 0); i >= 0 && !names; i = h.Index("Connection", i+1) {
		ForEachToken(h.value(i), func(tok []byte) bool {
			names = !IsHopByHop(tok)
			return !names
		})
	}
	if names {
		removeNamed(h)
		return
	}
	j := 0
	for i := range h.fields {
		if IsHopByHop(h.name(i)) {
			continue
		}
		h.fields[j] = h.fields[i]
		j++
	}
	h.fields = h.fields[:j]
}

// removeNamed is RemoveHopByHop for a table whose Connection fields name other fields:
// every token is looked up in the set of the table's names, and the fields of the
// names found are removed with the standard ones, in one pass.
func removeNamed(h *Header) {
	var inline nameSetStorage
	named := newNameSet(h, &inline)
	for i := h.Index("Connection", 0); i >= 0; i = h.Index("Connection", i+1) {
		ForEachToken(h.value(i), func(tok []byte) bool {
			if !IsHopByHop(tok) {
				named.mark(tok)
			}
			return true
		})
	}
	j := 0
	for i := range h.fields {
		if IsHopByHop(h.name(i)) || named.marked[named.class[i]] {
			continue
		}
		h.fields[j] = h.fields[i]
		j++
	}
	h.fields = h.fields[:j]
}

// nameSeed keys the hashes of nameSet, so that nobody can choose names that collide.
var nameSeed = maphash.MakeSeed()

// nameSet is the set of a table's distinct field names, compared ASCII
// case-insensitively, with a mark per name: which names a Connection field lists.
type nameSet struct {
	h      *Header
	slots  []int32  // open addressing, linear probing: a field index + 1, 0 when empty
	hashes []uint64 // by field index, for the first field of each name
	class  []int32  // by field index: the index of the first field with the same name
	marked []bool   // by field index, for the first field of each name
}

// nameSetStorage holds a nameSet for DefaultMaxHeaderFields fields without allocating.
type nameSetStorage struct {
	slots  [2 * DefaultMaxHeaderFields]int32
	hashes [DefaultMaxHeaderFields]uint64
	class  [DefaultMaxHeaderFields]int32
	marked [DefaultMaxHeaderFields]bool
}

// newNameSet returns the set of the names of h, in the storage of st when it is large
// enough.
func newNameSet(h *Header, st *nameSetStorage) nameSet {
	var s nameSet
	n := len(h.fields)
	size := 16
	for size < 2*n {
		size *= 2
	}
	if n <= len(st.class) && size <= len(st.slots) {
		s.slots, s.hashes, s.class, s.marked = st.slots[:size], st.hashes[:n], st.class[:n], st.marked[:n]
	} else {
		s.slots, s.hashes, s.class, s.marked = make([]int32, size), make([]uint64, n), make([]int32, n), make([]bool, n)
	}
	s.h = h
	for i := 0; i < n; i++ {
		name := h.name(i)
		hv := foldHash(name)
		k := s.find(name, hv)
		if s.slots[k] == 0 {
			s.slots[k], s.hashes[i], s.class[i] = int32(i+1), hv, int32(i)
		} else {
			s.class[i] = s.slots[k] - 1
		}
	}
	return s
}

// find returns the slot of name (hashed to hv): the one holding its first field, or the
// empty slot where it would go.
func (s *nameSet) find(name []byte, hv uint64) int {
	mask := len(s.slots) - 1
	for k := int(hv) & mask; ; k = (k + 1) & mask {
		r := s.slots[k] - 1
		if r < 0 || s.hashes[r] == hv && int(s.h.fields[r].nameLen) == len(name) && EqualFold(s.h.name(int(r)), name) {
			return k
		}
	}
}

// mark marks the fields named tok, if any.
func (s *nameSet) mark(tok []byte) {
	if k := s.find(tok, foldHash(tok)); s.slots[k] != 0 {
		s.marked[s.slots[k]-1] = true
	}
}

// foldHash hashes b with its ASCII letters lowered. maphash.Bytes of the lowered bytes
// and a Hash written with them in pieces give the same value.
func foldHash(b []byte) uint64 {
	var buf [64]byte
	if len(b) <= len(buf) {
		for i, c := range b {
			buf[i] = lower(c)
		}
		return maphash.Bytes(nameSeed, buf[:len(b)])
	}
	var mh maphash.Hash
	mh.SetSeed(nameSeed)
	for len(b) > 0 {
		n := min(len(b), len(buf))
		for i, c := range b[:n] {
			buf[i] = lower(c)
		}
		mh.Write(buf[:n])
		b = b[n:]
	}
	return mh.Sum64()
}

// indexOf returns the index of the first field named name at or after from, or -1.
func indexOf[S ~string | ~[]byte](h *Header, name S, from int) int {
	for i := from; i < len(h.fields); i++ {
		if int(h.fields[i].nameLen) == len(name) && EqualFold(h.name(i), name) {
			return i
		}
	}
	return -1
}

// delName removes every field named name.
func delName[S ~string | ~[]byte](h *Header, name S) {
	j := 0
	for i := range h.fields {
		if int(h.fields[i].nameLen) == len(name) && EqualFold(h.name(i), name) {
			continue
		}
		h.fields[j] = h.fields[i]
		j++
	}
	h.fields = h.fields[:j]
}
