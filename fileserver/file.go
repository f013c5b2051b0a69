package fileserver

import (
	"io"
	"strconv"
	"time"

	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// representation is the selected form of a file: the file itself, a precompressed
// sibling, or the file compressed on the fly.
type representation struct {
	f        *file
	size     int64
	mod      time.Time
	encoding coding // codingIdentity unless compressed
	onTheFly bool   // compress f while sending; length unknown, no ranges
}

// serveFile serves the regular file f.
func (h *Handler) serveFile(w *server.ResponseWriter, r *server.Request, f *file) {
	rel := f.name
	ctype := f.ctype
	if ctype == "" {
		ctype = contentType(rel, f, f.size)
	}
	rep := representation{f: f, size: f.size, mod: f.mod}
	hd := w.Header()
	get := r.IsMethod("GET")
	hasRange := get && r.Header.Has("Range")
	if !h.opts.DisableCompression && compressible(ctype) {
		hd.Set("Vary", "Accept-Encoding")
		accept := parseAcceptEncoding(&r.Header)
		if accept.any() {
			if sib, c := h.precompressed(rel, &accept); sib != nil {
				defer sib.Close()
				rep = representation{f: sib, size: sib.size, mod: sib.mod, encoding: c}
			} else if !hasRange && rep.size >= h.opts.CompressMinSize {
				if c := accept.best(onTheFlyCodings); c != codingIdentity {
					rep.encoding, rep.onTheFly = c, true
				}
			}
		}
	}

	hd.Set("Content-Type", ctype)
	var etagBuf [64]byte
	etag := makeETag(etagBuf[:0], rep.mod, rep.size, rep.encoding, rep.onTheFly)
	wire.Add(hd, "ETag", etag)
	lm := httpdate.Append(make([]byte, 0, 29), rep.mod)
	wire.Add(hd, "Last-Modified", lm)
	if h.opts.CacheControl != "" {
		hd.Set("Cache-Control", h.opts.CacheControl)
	}
	if !rep.onTheFly {
		hd.Set("Accept-Ranges", "bytes")
	}

	switch preconditions(r, etag, rep.mod) {
	case 304:
		notModified(w)
		return
	case 412:
		writeError(w, 412)
		return
	}

	// A Range request is never compressed on the fly (hasRange rules it out above).
	var ranges []byteRange
	if hasRange && ifRange(r, etag, rep.mod) {
		var res rangeResult
		switch ranges, res = parseRange(r.Header.Get("Range"), rep.size); res {
		case rangeUnsatisfiable:
			b := append([]byte("bytes */"), strconv.FormatInt(rep.size, 10)...)
			wire.Add(hd, "Content-Range", b)
			writeError(w, 416)
			return
		case rangeIgnore:
			ranges = nil // the whole representation
		}
	}

	// Content-Encoding labels the representation, so it is set only now that the
	// representation (or part of it) goes out: the 304, 412 and 416 carry none.
	if rep.encoding != codingIdentity {
		hd.Set("Content-Encoding", rep.encoding.String())
	}
	switch {
	case rep.onTheFly:
		if get {
			compress(w, rep.encoding, io.NewSectionReader(rep.f, 0, rep.size))
		}
	case len(ranges) == 1:
		rg := ranges[0]
		wire.Add(hd, "Content-Range", rg.AppendContentRange(nil, rep.size))
		w.WriteHeader(206)
		w.SetContentLength(rg.Length)
		sendSection(w, rep.f, rg.Start, rg.Length)
	case len(ranges) > 1:
		sendMultipart(w, rep.f, rep.size, ctype, ranges)
	default:
		w.SetContentLength(rep.size)
		if get {
			sendSection(w, rep.f, 0, rep.size)
		}
	}
}

// notModified turns the prepared response into a 304, keeping the validators and
// caching fields RFC 9110 §15.4.5 asks for and dropping the representation metadata.
func notModified(w *server.ResponseWriter) {
	hd := w.Header()
	hd.Del("Content-Type")
	hd.Del("Accept-Ranges")
	w.WriteHeader(304)
}

// precompressed opens the sibling (rel.br, rel.zst, rel.gz) of the most preferred
// coding the client prefers to identity that exists, the same choice best makes for
// on-the-fly codings. It returns nil when there is none.
func (h *Handler) precompressed(rel string, accept *acceptEncoding) (*file, coding) {
	var buf [numCodings]coding
	for _, c := range accept.preferred(buf[:0], precompressedCodings) {
		f, err := h.open(rel + c.ext())
		if err != nil {
			continue
		}
		if !f.dir {
			return f, c
		}
		f.Close()
	}
	return nil, codingIdentity
}

// makeETag appends to b the entity tag of a representation: the modification time in
// nanoseconds and the size, in hex, plus the coding. A representation compressed on the
// fly gets a weak tag: its bytes depend on the compressor, not only on the file.
func makeETag(b []byte, mod time.Time, size int64, c coding, weak bool) []byte {
	if weak {
		b = append(b, 'W', '/')
	}
	b = append(b, '"')
	b = strconv.AppendInt(b, mod.UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, size, 16)
	if c != codingIdentity {
		b = append(b, '-')
		b = append(b, c.String()...)
	}
	return append(b, '"')
}
