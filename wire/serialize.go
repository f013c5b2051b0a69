package wire

import "strconv"

// AppendStatusLine appends "HTTP/1.x CODE Reason\r\n". When reason is empty the
// standard reason phrase for the code is used. Common HTTP/1.1 lines are precomputed.
func AppendStatusLine(dst []byte, minor uint8, code int, reason string) []byte {
	if reason == "" && minor == 1 && code >= 100 && code < 600 {
		if l := statusLines[code]; l != "" {
			return append(dst, l...)
		}
	}
	if minor == 0 {
		dst = append(dst, "HTTP/1.0 "...)
	} else {
		dst = append(dst, "HTTP/1.1 "...)
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if reason == "" {
		reason = StatusText(code)
	}
	dst = append(dst, reason...)
	return append(dst, "\r\n"...)
}

// AppendRequestLine appends "METHOD target HTTP/1.x\r\n".
func AppendRequestLine[M, T ~string | ~[]byte](dst []byte, method M, target T, minor uint8) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	if minor == 0 {
		return append(dst, " HTTP/1.0\r\n"...)
	}
	return append(dst, " HTTP/1.1\r\n"...)
}

// AppendField appends "name: value\r\n".
func AppendField[N, V ~string | ~[]byte](dst []byte, name N, value V) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendIntField appends "name: n\r\n" without allocating.
func AppendIntField(dst []byte, name string, n int64) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// AppendHeader appends every field of h.
func AppendHeader(dst []byte, h *Header) []byte {
	for i := range h.fields {
		n, v := h.At(i)
		dst = AppendField(dst, n, v)
	}
	return dst
}

// AppendChunk appends one chunk of the chunked coding holding p (nothing when p is
// empty, since an empty chunk would end the body).
func AppendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = AppendChunkHeader(dst, len(p))
	dst = append(dst, p...)
	return append(dst, '\r', '\n')
}

// AppendChunkHeader appends the size line of an n-byte chunk; the caller appends (or
// writes) the n bytes and then CRLF.
func AppendChunkHeader(dst []byte, n int) []byte {
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk, the trailer fields (may be nil) and the final
// CRLF.
func AppendLastChunk(dst []byte, trailer *Header) []byte {
	dst = append(dst, '0', '\r', '\n')
	if trailer != nil {
		dst = AppendHeader(dst, trailer)
	}
	return append(dst, '\r', '\n')
}
