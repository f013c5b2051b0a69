package fileserver

import (
	"errors"
	"io"
	"sync"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// coding is a content coding (RFC 9110 §8.4.1).
type coding uint8

const (
	codingIdentity coding = iota
	codingGzip
	codingZstd
	codingBr
	numCodings
)

// String returns the coding's name as sent in Content-Encoding.
func (c coding) String() string {
	switch c {
	case codingGzip:
		return "gzip"
	case codingZstd:
		return "zstd"
	case codingBr:
		return "br"
	}
	return "identity"
}

// ext returns the file name suffix of a precompressed sibling in this coding.
func (c coding) ext() string {
	switch c {
	case codingGzip:
		return ".gz"
	case codingZstd:
		return ".zst"
	case codingBr:
		return ".br"
	}
	return ""
}

// Codings in the server's order of preference, for ties in the client's q-values.
var (
	precompressedCodings = []coding{codingBr, codingZstd, codingGzip}
	onTheFlyCodings      = []coding{codingZstd, codingGzip}
)

// acceptEncoding is a parsed Accept-Encoding: a q-value in thousandths per coding.
type acceptEncoding struct {
	qv      [numCodings]int16
	listed  [numCodings]bool
	star    int16
	hasStar bool
}

// parseAcceptEncoding reads every Accept-Encoding field of h. Without one, only
// identity is acceptable.
func parseAcceptEncoding(h *wire.Header) acceptEncoding {
	var a acceptEncoding
	h.Values("Accept-Encoding", func(v []byte) {
		wire.ForEachToken(v, func(tok []byte) bool {
			name, params := tok, []byte(nil)
			for i, c := range tok {
				if c == ';' {
					name, params = tok[:i], tok[i+1:]
					break
				}
			}
			name = wire.TrimOWS(name)
			q, ok := parseQ(params)
			if !ok {
				return true
			}
			switch {
			case wire.EqualFold(name, "gzip"), wire.EqualFold(name, "x-gzip"):
				a.set(codingGzip, q)
			case wire.EqualFold(name, "zstd"):
				a.set(codingZstd, q)
			case wire.EqualFold(name, "br"):
				a.set(codingBr, q)
			case wire.EqualFold(name, "identity"):
				a.set(codingIdentity, q)
			case len(name) == 1 && name[0] == '*':
				a.star, a.hasStar = q, true
			}
			return true
		})
	})
	return a
}

func (a *acceptEncoding) set(c coding, q int16) {
	if !a.listed[c] || q > a.qv[c] {
		a.qv[c] = q
	}
	a.listed[c] = true
}

// q returns the client's q-value for c in thousandths (0: not acceptable).
func (a *acceptEncoding) q(c coding) int16 {
	if a.listed[c] {
		return a.qv[c]
	}
	if a.hasStar {
		return a.star
	}
	if c == codingIdentity {
		return 1000
	}
	return 0
}

// any reports whether any compressed coding is acceptable.
func (a *acceptEncoding) any() bool {
	return a.q(codingGzip) > 0 || a.q(codingZstd) > 0 || a.q(codingBr) > 0
}

// preferred appends to dst the codings of cands the client would rather have than
// identity, most preferred first (ties keep cands' order). A coding qualifies with a
// q-value above 0 that is not below identity's; identity is acceptable by default, but
// only an explicit q-value (its own or the wildcard's) ranks it against the codings, so
// "identity, gzip;q=0.5" rules gzip out while a plain "gzip" does not. This is the one
// rule for both precompressed siblings and on-the-fly compression.
func (a *acceptEncoding) preferred(dst []coding, cands []coding) []coding {
	qi := int16(0)
	if a.listed[codingIdentity] || a.hasStar {
		qi = a.q(codingIdentity)
	}
	start := len(dst)
	for _, c := range cands {
		q := a.q(c)
		if q <= 0 || q < qi {
			continue
		}
		// Insertion sort by descending q-value; stable, so ties keep cands' order.
		i := len(dst)
		dst = append(dst, c)
		for i > start && a.q(dst[i-1]) < q {
			dst[i] = dst[i-1]
			i--
		}
		dst[i] = c
	}
	return dst
}

// best returns the coding of cands the client prefers (see preferred), or
// codingIdentity when none is preferred to identity.
func (a *acceptEncoding) best(cands []coding) coding {
	var buf [numCodings]coding
	if p := a.preferred(buf[:0], cands); len(p) > 0 {
		return p[0]
	}
	return codingIdentity
}

// parseQ reads the q parameter from the parameters after a coding ("q=0.5"), in
// thousandths; 1000 when absent. ok is false for a malformed q-value.
func parseQ(params []byte) (int16, bool) {
	for len(params) > 0 {
		var p []byte
		p, params = params, nil
		for i, c := range p {
			if c == ';' {
				p, params = p[:i], p[i+1:]
				break
			}
		}
		p = wire.TrimOWS(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue
		}
		v := p[2:]
		if len(v) == 0 || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
			return 0, false
		}
		q := int16(v[0]-'0') * 1000
		if len(v) > 1 {
			if v[1] != '.' {
				return 0, false
			}
			scale := int16(100)
			for _, c := range v[2:] {
				if c < '0' || c > '9' {
					return 0, false
				}
				q += int16(c-'0') * scale
				scale /= 10
			}
		}
		if q > 1000 {
			return 0, false
		}
		return q, true
	}
	return 1000, true
}

// gzipLevel trades ratio for speed the way servers usually do for dynamic compression.
const gzipLevel = 5

var (
	gzipPool = sync.Pool{New: func() any {
		zw, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
		return zw
	}}
	zstdPool = sync.Pool{New: func() any {
		// One goroutine (synchronous streaming) and a 1 MiB window, far inside the
		// 8 MiB browsers accept for HTTP zstd (RFC 9659).
		ze, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		return ze
	}}
)

// compressTo writes src to dst compressed with c (gzip or zstd).
func compressTo(dst io.Writer, c coding, src io.Reader) error {
	var enc io.WriteCloser
	switch c {
	case codingGzip:
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(dst)
		defer func() { zw.Reset(io.Discard); gzipPool.Put(zw) }()
		enc = zw
	case codingZstd:
		ze := zstdPool.Get().(*zstd.Encoder)
		ze.Reset(dst)
		defer func() { ze.Reset(nil); zstdPool.Put(ze) }()
		enc = ze
	default:
		return errors.New("fileserver: no encoder for " + c.String())
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := enc.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return enc.Close()
}

// compress sends src as the body compressed with c. The length is unknown: the server
// sends a small result with Content-Length and a large one chunked. When reading or
// writing fails midway the handler aborts, so the connection is closed and the client
// never takes a truncated stream for a complete one.
func compress(w io.Writer, c coding, src io.Reader) {
	if err := compressTo(w, c, src); err != nil {
		panic(server.ErrAbortHandler)
	}
}
