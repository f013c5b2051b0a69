package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/hop-http/hop/wire"
)

// acceptEncoding is what --compressed asks for: the codings klauspost/compress
// decodes (curl also offers br; hop has no brotli decoder).
const acceptEncoding = "deflate, gzip, zstd"

// maxCodings bounds the codings one response may stack (curl's limit is 5 too).
const maxCodings = 5

// decodeBody returns a reader of the body r decoded per the Content-Encoding fields of
// h, the last coding applied first undone. Without Content-Encoding (or with identity
// only) it returns r. Too many codings are an error at once; an unknown coding, or a
// body that does not decode, fails as the body is read. The returned close function
// releases decoders.
func decodeBody(h *wire.Header, r io.Reader) (io.Reader, func(), error) {
	var codings []string
	h.Values("Content-Encoding", func(v []byte) {
		wire.ForEachToken(v, func(tok []byte) bool {
			c := strings.ToLower(string(tok))
			if c != "identity" {
				codings = append(codings, c)
			}
			return true
		})
	})
	if len(codings) > maxCodings {
		return nil, nil, &decodeError{fmt.Errorf("%d content codings stacked (at most %d)", len(codings), maxCodings)}
	}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for i := len(codings) - 1; i >= 0; i-- {
		switch codings[i] {
		case "gzip", "x-gzip":
			r = &lazyDecoder{src: r, open: func(src io.Reader) (io.Reader, error) { return gzip.NewReader(src) }}
		case "deflate":
			r = &lazyDecoder{src: r, open: openDeflate}
		case "zstd":
			var zr *zstd.Decoder
			r = &lazyDecoder{src: r, open: func(src io.Reader) (io.Reader, error) {
				d, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
				zr = d
				return d, err
			}}
			closers = append(closers, func() {
				if zr != nil {
					zr.Close()
				}
			})
		default:
			err := &decodeError{fmt.Errorf("unsupported content coding %q (hop decodes %s)", codings[i], acceptEncoding)}
			return &unsupportedCoding{src: r, err: err}, closeAll, nil
		}
	}
	return r, closeAll, nil
}

// unsupportedCoding fails at the first bytes of a body in a coding hop cannot decode,
// as curl fails when it gets them: an empty body is no error, and the first read of
// the body still counts as received.
type unsupportedCoding struct {
	src  io.Reader
	err  error
	read bool
}

func (u *unsupportedCoding) Read(p []byte) (int, error) {
	if !u.read {
		u.read = true
		n, err := u.src.Read(p)
		if n == 0 && err == io.EOF {
			return 0, io.EOF
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
	}
	return 0, u.err
}

// openDeflate reads HTTP's "deflate": the zlib format (RFC 1950), or, as some servers
// send it, a raw deflate stream (RFC 1951), told apart by the zlib header.
func openDeflate(src io.Reader) (io.Reader, error) {
	br := bufio.NewReader(src)
	hdr, err := br.Peek(2)
	if err != nil {
		return nil, err
	}
	if hdr[0]&0x0f == 8 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 {
		return zlib.NewReader(br)
	}
	return flate.NewReader(br), nil
}

// lazyDecoder opens its decoder at the first Read, so that the reads of the body
// happen while the caller copies. An empty body decodes to nothing (as in curl, which
// decodes only the bytes it gets): a HEAD, 204 or 304 response, or Content-Length: 0,
// may name a coding without carrying any.
type lazyDecoder struct {
	src  io.Reader
	open func(io.Reader) (io.Reader, error)
	r    io.Reader
	err  error
}

func (d *lazyDecoder) Read(p []byte) (int, error) {
	if d.r == nil && d.err == nil {
		br := bufio.NewReader(d.src)
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF {
				d.err = io.EOF
			} else {
				d.err = decodeErr(err)
			}
			return 0, d.err
		}
		d.r, d.err = d.open(br)
		if d.err != nil {
			d.err = decodeErr(d.err)
		}
	}
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = decodeErr(err)
	}
	return n, err
}

// decodeErr marks a decoder's error as a decoding failure unless it came from reading
// the body itself (which keeps its own exit code).
func decodeErr(err error) error {
	var re *bodyReadError
	if errors.As(err, &re) {
		return err
	}
	return &decodeError{err}
}
