//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package fileserver

import (
	"testing"

	"github.com/hop-http/hop/internal/testpeer"
)

// TestFastOpenUsed asserts that the "fast" subtests exercise openat2: when openat2 is
// missing or forbidden (ENOSYS, EPERM) open silently falls back to os.Root, and they
// would test the portable path twice.
func TestFastOpenUsed(t *testing.T) {
	tr := makeTree(t)
	h, err := New(tr.root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	o, ok, err := h.openFast("hello.txt")
	if !ok {
		msg := "openat2 unavailable (noOpenat2 set or no root descriptor): the fast open path is not tested"
		testpeer.Skip(t, "%s", msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.f != nil || o.fd < 0 || o.size != int64(len(helloBody)) {
		t.Errorf("openFast gave fd %d, *os.File %v, size %d: want a bare descriptor of %d bytes",
			o.fd, o.f, o.size, len(helloBody))
	}
	// openFile, what the handler's open calls past the cache, takes the same path.
	o2, err := h.openFile("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if o2.f != nil || o2.fd < 0 || noOpenat2.Load() {
		t.Errorf("open did not use openat2 (fd %d, noOpenat2 %v)", o2.fd, noOpenat2.Load())
	}
	// And the kernel, not os.Root, refuses the escape.
	if _, _, err := h.openFast("link-out"); err == nil || errStatus(err) != 403 {
		t.Errorf("openFast(link-out) = %v, want a 403 error", err)
	}
}
