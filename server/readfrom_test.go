package server_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hop-http/hop/internal/testcert"
	"github.com/hop-http/hop/server"
)

// descFile is a file-like reader that is not an *os.File: it reads with ReadAt and
// lends its descriptor through SyscallConn, and counts the ReadAt calls.
type descFile struct {
	f     *os.File
	reads atomic.Int64
}

func (d *descFile) ReadAt(p []byte, off int64) (int, error) {
	d.reads.Add(1)
	return d.f.ReadAt(p, off)
}

func (d *descFile) SyscallConn() (syscall.RawConn, error) { return d.f.SyscallConn() }

// ReadFrom sends an io.SectionReader over any ReaderAt that lends its descriptor with
// sendfile (no ReadAt at all on plain TCP under Linux), from the section's position,
// leaving the file's own offset alone; over TLS the same source is copied.
func TestReadFromSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	content := bytes.Repeat([]byte("0123456789abcdef"), 50000) // 800 KB
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := &descFile{f: f}
	const off, n = 1000, 500000
	h := server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		sec := io.NewSectionReader(d, off-100, n+100)
		sec.Seek(100, io.SeekStart) // a section partly read already: sending starts here
		w.SetContentLength(n)
		sent, err := w.ReadFrom(sec)
		if pos, _ := sec.Seek(0, io.SeekCurrent); err != nil || sent != n || pos != n+100 {
			t.Errorf("ReadFrom: %d, %v; section at %d", sent, err, pos)
		}
	})
	ts := startServer(t, &server.Server{Handler: h})
	c := dial(t, ts.addr)
	if r := c.roundTrip("GET", get("/")); !bytes.Equal(r.Body, content[off:off+n]) {
		t.Fatalf("body: %d bytes, not the section", len(r.Body))
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
		t.Errorf("the file's offset moved to %d", pos)
	}
	if runtime.GOOS == "linux" {
		if reads := d.reads.Swap(0); reads != 0 {
			t.Errorf("%d ReadAt calls: the section was copied, not sent with sendfile", reads)
		}
	}

	cert := testcert.New(t, "127.0.0.1")
	tlsSrv := startServer(t, &server.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert.TLS}}})
	nc, err := tls.Dial("tcp", tlsSrv.addr, &tls.Config{RootCAs: cert.Pool})
	if err != nil {
		t.Fatal(err)
	}
	tc := newClient(t, nc)
	if r := tc.roundTrip("GET", get("/")); !bytes.Equal(r.Body, content[off:off+n]) {
		t.Fatalf("TLS body: %d bytes, not the section", len(r.Body))
	}
	if d.reads.Load() == 0 {
		t.Error("over TLS the section was not read with ReadAt")
	}
}
