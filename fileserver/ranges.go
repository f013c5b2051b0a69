package fileserver

import (
	"math/rand/v2"

	"github.com/hop-http/hop/internal/httpcond"
	"github.com/hop-http/hop/server"
)

// byteRange is a satisfiable range of a representation (httpcond.Range).
type byteRange = httpcond.Range

type rangeResult = httpcond.RangeResult

const (
	rangeIgnore        = httpcond.RangeIgnore
	rangeOK            = httpcond.RangeOK
	rangeUnsatisfiable = httpcond.RangeUnsatisfiable
)

// parseRange parses a Range field value for a representation of size bytes, at most
// MaxRanges ranges (httpcond.ParseRange).
func parseRange(v []byte, size int64) ([]byteRange, rangeResult) {
	return httpcond.ParseRange(v, size, MaxRanges)
}

// sendMultipart answers 206 with a multipart/byteranges body holding each range of f
// (RFC 9110 §14.6). The length is computed up front, so the body is sent with
// Content-Length.
func sendMultipart(w *server.ResponseWriter, f *file, size int64, ctype string, ranges []byteRange) {
	var bnd [16]byte
	const hexdig = "0123456789abcdef"
	for i, x := 0, rand.Uint64(); i < len(bnd); i, x = i+1, x>>4 {
		bnd[i] = hexdig[x&15]
	}
	boundary := string(bnd[:])
	heads := make([][]byte, len(ranges))
	var length int64
	for i, rg := range ranges {
		b := make([]byte, 0, 96+len(ctype))
		b = append(b, "\r\n--"...)
		b = append(b, boundary...)
		b = append(b, "\r\nContent-Type: "...)
		b = append(b, ctype...)
		b = append(b, "\r\nContent-Range: "...)
		b = rg.AppendContentRange(b, size)
		b = append(b, "\r\n\r\n"...)
		heads[i] = b
		length += int64(len(b)) + rg.Length
	}
	tail := "\r\n--" + boundary + "--\r\n"
	length += int64(len(tail))

	hd := w.Header()
	hd.Set("Content-Type", "multipart/byteranges; boundary="+boundary)
	w.WriteHeader(206)
	w.SetContentLength(length)
	for i, rg := range ranges {
		if _, err := w.Write(heads[i]); err != nil {
			return
		}
		if err := sendSection(w, f, rg.Start, rg.Length); err != nil {
			return
		}
	}
	w.WriteString(tail)
}
