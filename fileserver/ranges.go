package fileserver

import (
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
// (RFC 9110 §14.6, laid out by httpcond.Multipart). The length is computed up front,
// so the body is sent with Content-Length.
func sendMultipart(w *server.ResponseWriter, f *file, size int64, ctype string, ranges []byteRange) {
	m := httpcond.NewMultipart(ctype, size, ranges)
	w.Header().Set("Content-Type", m.ContentType())
	w.WriteHeader(206)
	w.SetContentLength(m.Length)
	for i, rg := range ranges {
		if _, err := w.Write(m.PartHead(i)); err != nil {
			return
		}
		if err := sendSection(w, f, rg.Start, rg.Length); err != nil {
			return
		}
	}
	w.WriteString(m.Tail())
}
