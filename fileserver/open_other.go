//go:build !linux || mips || mipsle || mips64 || mips64le

package fileserver

import "errors"

// openFast has no fast path here: open uses os.Root, and a file never holds a bare
// descriptor.
func (h *Handler) openFast(rel string) (*file, bool, error) { return nil, false, nil }

var errNoFD = errors.New("fileserver: no bare descriptors on this platform")

func preadFD(fd int, p []byte, off int64) (int, error) { return 0, errNoFD }

func closeFD(fd int) error { return errNoFD }
