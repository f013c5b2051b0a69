package wire

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
// other fields keep their order. It allocates nothing.
//
// A proxy that forwards something hop-by-hop on purpose (an Upgrade it tunnels,
// TE: trailers, a Trailer field it forwards with the trailers) reads it before the
// call and adds it back afterwards.
func RemoveHopByHop(h *Header) {
	// Fields named by Connection go first, while the Connection fields still exist.
	// Each removal shifts the table, so the scan starts again after one; a name is
	// removed once, so this ends after as many rounds as Connection names fields.
	for removed := true; removed; {
		removed = false
		for i := h.Index("Connection", 0); i >= 0 && !removed; i = h.Index("Connection", i+1) {
			ForEachToken(h.value(i), func(tok []byte) bool {
				if !IsHopByHop(tok) && indexOf(h, tok, 0) >= 0 {
					delName(h, tok)
					removed = true
				}
				return !removed
			})
		}
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
