package fileserver

import (
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
	"github.com/maypok86/otter/v2"
)

// Defaults for the zero-valued fields of Options.
const (
	// DefaultCompressMinSize is the smallest body compressed on the fly: below it the
	// framing and CPU cost more than the bytes saved.
	DefaultCompressMinSize = 1024
	// DefaultMaxListing bounds the entries read for a directory listing.
	DefaultMaxListing = 10000
	// MaxRanges is the most ranges served from one Range field; a request asking for
	// more gets the whole file.
	MaxRanges = 32
)

// smallBody is the size up to which a body (or a part of one) is read into the
// response buffer rather than sent with sendfile: one write beats a write plus a
// sendfile.
const smallBody = 16 << 10

// Options configure a Handler. The zero value serves index.html and listings, hides
// dotfiles, refuses symbolic links that leave the root and compresses text.
type Options struct {
	// Index lists the file names tried, in order, for a directory; nil means
	// {"index.html"}. An empty non-nil slice disables index files.
	Index []string
	// DisableListing answers 404 for a directory without an index file instead of
	// listing it.
	DisableListing bool
	// ShowDotfiles serves and lists files and directories whose name starts with '.'.
	ShowDotfiles bool
	// FollowSymlinks lets symbolic links point outside the root. Paths themselves can
	// never leave the root.
	FollowSymlinks bool
	// CacheControl, when set, is sent as the Cache-Control field of file responses
	// (and their 304s), e.g. "public, max-age=3600".
	CacheControl string
	// DisableCompression turns off both precompressed siblings and on-the-fly
	// compression.
	DisableCompression bool
	// CompressMinSize is the smallest file compressed on the fly (default
	// DefaultCompressMinSize); precompressed siblings are used at any size.
	CompressMinSize int64
	// MaxListing bounds the entries of a listing (default DefaultMaxListing); a larger
	// directory is listed partially and says so.
	MaxListing int
	// CacheValid is how long the open-file cache trusts what it found at a path — a
	// small file's contents and metadata, a directory, or that nothing is there —
	// before the path is opened again (default DefaultCacheValid): a change to the tree
	// is served within CacheValid. Negative: no cache, every request opens its file.
	CacheValid time.Duration
	// CacheBytes bounds the memory of the open-file cache (default DefaultCacheBytes);
	// negative: no cache.
	CacheBytes int64
}

// Handler serves files from a root directory. It is safe for concurrent use; create it
// with New and release it with Close.
type Handler struct {
	opts    Options
	cache   *otter.Cache[string, *cached] // the open-file cache; nil when off
	dir     string                        // absolute root directory
	root    *os.Root                      // confines every open to dir (portable path)
	rootDir *os.File                      // dir itself, whose descriptor the Linux fast path opens beneath
	rootFD  int                           // rootDir's descriptor, -1 without one
	// portable disables the platform's fast open path (tests run both).
	portable bool
}

// New returns a Handler serving the directory dir.
func New(dir string, opts Options) (*Handler, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "serve", Path: abs, Err: syscall.ENOTDIR}
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	h := &Handler{dir: abs, root: root, rootFD: -1}
	if d, err := os.Open(abs); err == nil {
		h.rootDir, h.rootFD = d, int(d.Fd())
	}
	if opts.Index == nil {
		opts.Index = []string{"index.html"}
	}
	if opts.CompressMinSize <= 0 {
		opts.CompressMinSize = DefaultCompressMinSize
	}
	if opts.MaxListing <= 0 {
		opts.MaxListing = DefaultMaxListing
	}
	if opts.CacheValid == 0 {
		opts.CacheValid = DefaultCacheValid
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	h.opts = opts
	h.cache = newCache(&h.opts)
	return h, nil
}

// Dir returns the absolute path of the directory served.
func (h *Handler) Dir() string { return h.dir }

// Close releases the root directory and the open-file cache.
func (h *Handler) Close() error {
	if h.cache != nil {
		h.cache.StopAllGoroutines()
	}
	if h.rootDir != nil {
		h.rootDir.Close()
	}
	return h.root.Close()
}

// ServeHOP serves one request.
func (h *Handler) ServeHOP(w *server.ResponseWriter, r *server.Request) {
	switch {
	case r.IsMethod("GET"), r.IsMethod("HEAD"):
	case r.IsMethod("OPTIONS"):
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(204)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		writeError(w, 405)
		return
	}
	p, status := cleanPath(r.Path())
	if status != 0 {
		writeError(w, status)
		return
	}
	if !h.opts.ShowDotfiles && p.hasDotSegment() {
		writeError(w, 404)
		return
	}
	f, err := h.open(p.rel)
	if err != nil {
		writeError(w, errStatus(err))
		return
	}
	defer f.Close()
	if f.dir {
		if !p.slash {
			redirectToDir(w, r, p)
			return
		}
		for _, name := range h.opts.Index {
			idx, err := h.open(path.Join(p.rel, name))
			if err != nil {
				continue
			}
			if !idx.dir {
				defer idx.Close()
				h.serveFile(w, r, idx)
				return
			}
			idx.Close()
		}
		if h.opts.DisableListing {
			writeError(w, 404)
			return
		}
		if f.cached { // the cache keeps no directory descriptor
			if f, err = h.openFile(p.rel); err != nil {
				writeError(w, errStatus(err))
				return
			}
			defer f.Close()
		}
		h.serveListing(w, r, f, p)
		return
	}
	if p.slash {
		writeError(w, 404) // a file named as a directory
		return
	}
	h.serveFile(w, r, f)
}

// errStatus maps an open error to the status answered.
func errStatus(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.ENAMETOOLONG):
		return 404
	case errors.Is(err, fs.ErrPermission), errors.Is(err, errNotServable),
		errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EXDEV), isEscape(err):
		return 403
	}
	return 500
}

// isEscape reports whether err is os.Root refusing a path or link that leaves the root
// (the sentinel is not exported).
func isEscape(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err != nil && strings.Contains(pe.Err.Error(), "escapes")
}

// reqPath is a decoded, cleaned request path.
type reqPath struct {
	rel   string // slash-separated, relative to the root; "." for the root itself
	slash bool   // the request path ended with '/'
}

// hasDotSegment reports whether any segment of the path starts with '.'.
func (p reqPath) hasDotSegment() bool {
	if p.rel == "." {
		return false
	}
	return p.rel[0] == '.' || strings.Contains(p.rel, "/.")
}

// cleanPath percent-decodes the request path once, by wire.PathPolicy, and cleans it.
// It answers 400 for a path that is not absolute, a malformed escape, a control
// character (raw or encoded: %00 truncates names, %0d%0a injects lines) or a backslash
// (raw or %5C, a separator on other systems), and 403 for a ".." segment (before or
// after decoding): clients remove dot-segments before sending, so one that arrives is
// an attempt to climb out of the root. "%2F" is decoded like "/".
func cleanPath(raw []byte) (reqPath, int) {
	if len(raw) == 0 || raw[0] != '/' {
		return reqPath{}, 400
	}
	if cleanAlready(raw) {
		if len(raw) == 1 {
			return reqPath{rel: ".", slash: true}, 0
		}
		p := reqPath{slash: raw[len(raw)-1] == '/'}
		if p.slash {
			raw = raw[:len(raw)-1]
		}
		p.rel = string(raw[1:])
		return p, 0
	}
	dec, err := wire.AppendUnescaped(make([]byte, 0, len(raw)), raw, wire.PathPolicy)
	if err != nil {
		return reqPath{}, 400
	}
	p := reqPath{slash: dec[len(dec)-1] == '/'}
	segs := make([]string, 0, 8)
	for s := range strings.SplitSeq(string(dec), "/") {
		switch s {
		case "", ".":
		case "..":
			return reqPath{}, 403
		default:
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		p.rel, p.slash = ".", true
	} else {
		p.rel = strings.Join(segs, "/")
	}
	return p, 0
}

// cleanAlready reports whether an absolute path needs neither decoding nor cleaning:
// no escapes, no control characters or backslashes, no empty segment and no segment
// starting with '.'.
func cleanAlready(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '%' || c == '\\' || c < 0x20 || c == 0x7f:
			return false
		case c == '/':
			if i+1 < len(raw) && (raw[i+1] == '/' || raw[i+1] == '.') {
				return false
			}
		}
	}
	return true
}

// escapePath returns the URL path of a cleaned relative path, each segment escaped.
func escapePath(rel string, dir bool) string {
	if rel == "." {
		return "/"
	}
	var b strings.Builder
	for s := range strings.SplitSeq(rel, "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if dir {
		b.WriteByte('/')
	}
	return b.String()
}

// redirectToDir answers 301 to the directory's path with a trailing slash. The
// Location is rebuilt from the cleaned path, so it can never become a
// protocol-relative URL to another host.
func redirectToDir(w *server.ResponseWriter, r *server.Request, p reqPath) {
	loc := escapePath(p.rel, true)
	if q := r.Query(); q != nil && wire.ValidFieldValue(q) {
		loc += "?" + string(q)
	}
	w.Header().Set("Location", loc)
	writeError(w, 301)
}

// writeError answers code with a short plain-text body.
func writeError(w *server.ResponseWriter, code int) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b := make([]byte, 0, 40)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, wire.StatusText(code)...)
	b = append(b, '\n')
	w.Write(b)
}

// bufPool holds buffers for small bodies and copies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// sendSection writes n bytes of o from offset off as (part of) a body whose length was
// declared with SetContentLength. A section of up to smallBody bytes is read with one
// pread into the response buffer: it leaves in the same write as the head, and the
// responses to pipelined requests batch into one write. A larger one is handed whole to
// ReadFrom as an io.SectionReader of o, which lends its descriptor (o needs no
// *os.File): on plain TCP the server sends it with sendfile from the section's offset,
// the head corked together with the start of the file so that both leave in full
// segments (what nginx gets from tcp_nopush); elsewhere (TLS) ReadFrom copies it with
// pread.
func sendSection(w *server.ResponseWriter, o *file, off, n int64) error {
	if o.cached { // the contents are in memory (at most cacheMaxFile bytes)
		if off+n > int64(len(o.data)) {
			return io.ErrUnexpectedEOF
		}
		_, err := w.Write(o.data[off : off+n])
		return err
	}
	if n <= smallBody {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		buf := (*bp)[:n]
		m, err := o.ReadAt(buf, off)
		if m < len(buf) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank
			}
			return err
		}
		_, err = w.Write(buf)
		return err
	}
	sec := io.NewSectionReader(o, off, n)
	_, err := w.ReadFrom(sec)
	if pos, _ := sec.Seek(0, io.SeekCurrent); err == nil && pos < n {
		err = io.ErrUnexpectedEOF // the file shrank
	}
	return err
}
