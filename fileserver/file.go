package fileserver

import (
	"io"
	"strconv"
	"time"

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
	ctype := contentType(rel, f, f.size)
	rep := representation{f: f, size: f.size, mod: f.mod}
	hd := w.Header()
	get := r.IsMethod("GET")
	hasRange := get && r.Header.Has("Range")
	if !h.opts.DisableCompression && compressible(ctype) {
		hd.Set("Vary", "Accept-Encoding")
		accept := parseAcceptEncoding(&r.Header)
		if accept.any() {
			if sib, c := h.precompressed(rel, accept); sib != nil {
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
	lm := appendHTTPTime(make([]byte, 0, 29), rep.mod)
	wire.Add(hd, "Last-Modified", lm)
	if h.opts.CacheControl != "" {
		hd.Set("Cache-Control", h.opts.CacheControl)
	}
	if rep.encoding != codingIdentity {
		hd.Set("Content-Encoding", rep.encoding.String())
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

	if rep.onTheFly {
		if get {
			h.compress(w, rep.encoding, io.NewSectionReader(rep.f, 0, rep.size))
		}
		return
	}

	if hasRange && ifRange(r, etag, rep.mod) {
		ranges, res := parseRange(r.Header.Get("Range"), rep.size)
		switch res {
		case rangeUnsatisfiable:
			b := append([]byte("bytes */"), strconv.FormatInt(rep.size, 10)...)
			wire.Add(hd, "Content-Range", b)
			writeError(w, 416)
			return
		case rangeOK:
			if len(ranges) == 1 {
				rg := ranges[0]
				wire.Add(hd, "Content-Range", rg.contentRange(nil, rep.size))
				w.WriteHeader(206)
				w.SetContentLength(rg.length)
				sendSection(w, rep.f, rg.start, rg.length)
				return
			}
			sendMultipart(w, rep.f, rep.size, ctype, ranges)
			return
		}
	}
	w.SetContentLength(rep.size)
	if get {
		sendSection(w, rep.f, 0, rep.size)
	}
}

// notModified turns the prepared response into a 304, keeping the validators and
// caching fields RFC 9110 §15.4.5 asks for and dropping the representation metadata.
func notModified(w *server.ResponseWriter) {
	hd := w.Header()
	hd.Del("Content-Type")
	hd.Del("Content-Encoding")
	hd.Del("Accept-Ranges")
	w.WriteHeader(304)
}

// precompressed finds the best sibling (rel.br, rel.zst, rel.gz) whose coding the
// client accepts. It returns nil when there is none.
func (h *Handler) precompressed(rel string, accept acceptEncoding) (*file, coding) {
	var cands [3]coding
	n := 0
	for _, c := range precompressedCodings {
		if accept.q(c) > 0 {
			cands[n] = c
			n++
		}
	}
	// Try the client's most preferred first; ties keep the server's order.
	for n > 0 {
		bi := 0
		for i := 1; i < n; i++ {
			if accept.q(cands[i]) > accept.q(cands[bi]) {
				bi = i
			}
		}
		c := cands[bi]
		copy(cands[bi:], cands[bi+1:n])
		n--
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
