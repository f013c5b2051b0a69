package fileserver

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// file is an open regular file or directory. On Linux it is usually a bare descriptor
// (one openat2, one fstat, no *os.File, no poller registration), and a small file or a
// directory from the open-file cache has no descriptor at all (cached): its contents
// are in memory. A body goes out by sendfile straight from the descriptor (through
// SyscallConn); File converts it into an *os.File only for a directory listing.
type file struct {
	fd     int      // the descriptor while f is nil, else -1
	f      *os.File // set by File, or by the portable open
	name   string   // path relative to the root, for *os.File names
	size   int64
	mod    time.Time
	dir    bool
	h      *Handler
	cached bool   // from the open-file cache: no descriptor
	data   []byte // a cached regular file's contents
	ctype  string // a cached regular file's Content-Type
	// pageCached: a large file the cache saw unchanged within CacheValid, so sent a
	// moment ago and in the page cache (see PageCached).
	pageCached bool
}

// PageCached reports whether the file is known to be in the page cache (sent a moment
// ago): the server then issues its sendfile as a raw system call (server.ReadFrom).
func (o *file) PageCached() bool { return o.pageCached }

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (o *file) ReadAt(p []byte, off int64) (int, error) {
	if o.cached {
		if off >= int64(len(o.data)) {
			return 0, io.EOF
		}
		n := copy(p, o.data[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	if o.f != nil {
		return o.f.ReadAt(p, off)
	}
	n := 0
	for n < len(p) {
		m, err := preadFD(o.fd, p[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "pread", Path: o.name, Err: err}
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// SyscallConn lends the file's descriptor (syscall.Conn), so that the server can send
// a section of it with sendfile without an *os.File.
func (o *file) SyscallConn() (syscall.RawConn, error) {
	if o.f != nil {
		return o.f.SyscallConn()
	}
	return fdConn(o.fd), nil
}

// fdConn is the syscall.RawConn of a bare descriptor: Control only, since a regular
// file is never read through the poller.
type fdConn int

func (c fdConn) Control(f func(fd uintptr)) error { f(uintptr(c)); return nil }
func (c fdConn) Read(func(fd uintptr) bool) error { return errNoPoller }
func (c fdConn) Write(func(fd uintptr) bool) error {
	return errNoPoller
}

var errNoPoller = errors.New("fileserver: a bare file descriptor is not polled")

// File returns the file as an *os.File, which then owns the descriptor.
func (o *file) File() *os.File {
	if o.f == nil {
		o.f = os.NewFile(uintptr(o.fd), filepath.Join(o.h.dir, o.name))
		o.fd = -1
	}
	return o.f
}

// Close closes the file.
func (o *file) Close() error {
	if o.f != nil {
		return o.f.Close()
	}
	if o.fd >= 0 {
		err := closeFD(o.fd)
		o.fd = -1
		return err
	}
	return nil
}

var errNotServable = errors.New("fileserver: not a regular file or directory")

// openFile opens rel (a cleaned, slash-separated path relative to the root) without
// blocking on FIFOs; anything but a regular file or a directory is refused. Unless
// FollowSymlinks is set, neither the path nor any symbolic link on it may leave the
// root: the kernel enforces it (openat2 RESOLVE_BENEATH) where it can, os.Root
// elsewhere.
func (h *Handler) openFile(rel string) (*file, error) {
	if !h.portable {
		if o, ok, err := h.openFast(rel); ok {
			return o, err
		}
	}
	var f *os.File
	var err error
	if h.opts.FollowSymlinks {
		f, err = os.OpenFile(filepath.Join(h.dir, filepath.FromSlash(rel)), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	} else {
		f, err = h.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if m := fi.Mode(); !m.IsRegular() && !m.IsDir() {
		f.Close()
		return nil, errNotServable
	}
	return &file{fd: -1, f: f, name: rel, size: fi.Size(), mod: fi.ModTime(), dir: fi.IsDir(), h: h}, nil
}

// stat reports the metadata of rel as open would see it (following symbolic links
// that stay inside the root, or any with FollowSymlinks).
func (h *Handler) stat(rel string) (fs.FileInfo, error) {
	if h.opts.FollowSymlinks {
		return os.Stat(filepath.Join(h.dir, filepath.FromSlash(rel)))
	}
	return h.root.Stat(rel)
}
