package server

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hop-http/hop/internal/rawio"
)

// ReadFrom copies src into the body. A file goes out with sendfile(2), without passing
// through user space, when the connection is plain TCP, the length was declared with
// SetContentLength and src is
//
//   - an *io.SectionReader over an io.ReaderAt that is also a syscall.Conn (a file
//     need not be an *os.File: any type that can lend its descriptor will do): the
//     section is sent from its current position, which advances by what was sent, and
//     the file's own offset is left alone; or
//   - an *os.File, or an *io.LimitedReader of one: sent from the file's offset, which
//     advances; the LimitedReader's N is reduced by what was sent.
//
// The head is corked together with the start of the file so that both leave in full
// segments. When the section's io.ReaderAt also has a method PageCached() bool that
// reports true (the file was sent a moment ago, so the kernel holds it in memory),
// sendfile is a raw system call like the connection's other I/O: it cannot wait for
// the disk, and the goroutine keeps its processor through the copy. Any other source, and every source over TLS, is copied through a pooled
// buffer. A file that ends before the declared length leaves the response short; the
// connection is then closed after it.
func (w *ResponseWriter) ReadFrom(src io.Reader) (int64, error) {
	c := w.c
	if w.noBody && w.length >= 0 {
		// HEAD with a declared length: the body is never sent, so it is not read either.
		n := w.length - w.written
		w.written = w.length
		return n, nil
	}
	if tc, ok := c.nc.(*net.TCPConn); ok && w.length >= 0 && bodyAllowed(w.status) {
		if f, ok := fileOf(src); ok && (f.file != nil || c.rio.Attached()) {
			return w.sendFile(tc, src, f)
		}
	}
	return w.copyFrom(src)
}

// fileSource is what sendfile reads for a ReadFrom source.
type fileSource struct {
	conn   syscall.Conn // lends the descriptor
	file   *os.File     // set when the file's own offset is the start (and advances)
	off    int64        // the start, for a section
	limit  int64        // at most this much (-1: up to the declared length)
	cached bool         // the source says the file is in the page cache
}

// pageCached is what a ReadFrom source's io.ReaderAt may implement (see ReadFrom).
type pageCached interface{ PageCached() bool }

// fileOf reports the file behind src, when sendfile can read it.
func fileOf(src io.Reader) (fileSource, bool) {
	switch v := src.(type) {
	case *os.File:
		return fileSource{conn: v, file: v, limit: -1}, true
	case *io.LimitedReader:
		if f, ok := v.R.(*os.File); ok {
			return fileSource{conn: f, file: f, limit: v.N}, true
		}
	case *io.SectionReader:
		ra, base, size := v.Outer()
		if sc, ok := ra.(syscall.Conn); ok {
			pos, _ := v.Seek(0, io.SeekCurrent)
			pc, _ := ra.(pageCached)
			return fileSource{conn: sc, off: base + pos, limit: size - pos, cached: pc != nil && pc.PageCached()}, true
		}
	}
	return fileSource{}, false
}

// sendFile sends the file with sendfile, after the head and whatever is pending.
func (w *ResponseWriter) sendFile(tc *net.TCPConn, src io.Reader, f fileSource) (int64, error) {
	c := w.c
	if !w.committed {
		if err := w.commit(); err != nil {
			return 0, err
		}
	}
	n := w.length - w.written
	if f.limit >= 0 && f.limit < n {
		n = f.limit
	}
	w.setCork(tc, true)
	if !c.flush() {
		return 0, errConnDead
	}
	// Allow the write timeout per 16 MiB so large files over slow links can finish.
	c.nc.SetWriteDeadline(after(c.srv.writeTimeout() * time.Duration(1+n>>24)))
	c.wd.Forget()
	var sent int64
	var err error
	if c.rio.Attached() {
		sent, err = w.sendFD(f, n)
	} else {
		sent, err = tc.ReadFrom(&io.LimitedReader{R: f.file, N: n}) // Go's own sendfile
	}
	w.setCork(tc, false)
	w.written += sent
	switch v := src.(type) {
	case *io.LimitedReader:
		v.N -= sent
	case *io.SectionReader:
		v.Seek(sent, io.SeekCurrent)
	}
	if err != nil {
		c.writeFailed()
	}
	return sent, err
}

// setCork sets TCP_CORK, with the connection's raw I/O where it has it.
func (w *ResponseWriter) setCork(tc *net.TCPConn, on bool) {
	if w.c.rio.Attached() {
		w.c.rio.SetCork(on)
		return
	}
	rawio.SetCork(tc, on)
}

// sendFD sends n bytes of f's descriptor with the connection's raw sendfile.
func (w *ResponseWriter) sendFD(f fileSource, n int64) (sent int64, err error) {
	rc, err := f.conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	off := f.off
	if f.file != nil {
		if off, err = f.file.Seek(0, io.SeekCurrent); err != nil {
			return 0, err
		}
	}
	rio := &w.c.rio
	if cerr := rc.Control(func(fd uintptr) { sent, err = rio.SendFile(int(fd), off, n, f.cached) }); cerr != nil {
		return 0, cerr
	}
	if f.file != nil {
		f.file.Seek(off+sent, io.SeekStart) // as sendfile with the file's offset would have
	}
	return sent, err
}

// copyBufs holds the buffers of copied ReadFrom sources.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyFrom copies src into the body through a pooled buffer.
func (w *ResponseWriter) copyFrom(src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(writerOnly{w}, src, *bp)
}

// writerOnly hides ReadFrom so the copy does not recurse.
type writerOnly struct{ w *ResponseWriter }

func (o writerOnly) Write(p []byte) (int, error) { return o.w.Write(p) }
