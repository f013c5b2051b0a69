//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package fileserver

import (
	"io/fs"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// openat2 (Linux 5.6) resolves a whole path in one call and, with RESOLVE_BENEATH,
// refuses any path or symbolic link that leaves the directory (EXDEV). Its number is
// 437 on every architecture but MIPS.
const (
	sysOpenat2          = 437
	resolveNoMagiclinks = 0x02
	resolveBeneath      = 0x08
)

// openHow is struct open_how of openat2(2).
type openHow struct {
	flags, mode, resolve uint64
}

// noOpenat2 is set once openat2 turned out to be missing or forbidden (old kernel,
// seccomp); open then uses os.Root.
var noOpenat2 atomic.Bool

// openFast opens rel with openat2 relative to the root's descriptor. ok is false when
// the caller must use the portable path.
func (h *Handler) openFast(rel string) (o *file, ok bool, err error) {
	if noOpenat2.Load() || h.rootFD < 0 {
		return nil, false, nil
	}
	how := openHow{flags: syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NONBLOCK}
	if !h.opts.FollowSymlinks {
		how.resolve = resolveBeneath | resolveNoMagiclinks
	}
	// The path as a C string: on the stack when it is short (cleanPath let no NUL in).
	var buf [256]byte
	var p *byte
	if len(rel) < len(buf) {
		copy(buf[:], rel)
		p = &buf[0]
	} else if p, err = syscall.BytePtrFromString(rel); err != nil {
		return nil, true, err
	}
	var fd uintptr
	var errno syscall.Errno
	for {
		fd, _, errno = syscall.Syscall6(sysOpenat2, uintptr(h.rootFD), uintptr(unsafe.Pointer(p)),
			uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		if errno != syscall.EINTR {
			break
		}
	}
	switch errno {
	case 0:
	case syscall.ENOSYS, syscall.EPERM:
		noOpenat2.Store(true)
		return nil, false, nil
	default:
		return nil, true, &fs.PathError{Op: "openat2", Path: rel, Err: errno}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(fd), &st); err != nil {
		syscall.Close(int(fd))
		return nil, true, &fs.PathError{Op: "fstat", Path: rel, Err: err}
	}
	typ := st.Mode & syscall.S_IFMT
	if typ != syscall.S_IFREG && typ != syscall.S_IFDIR {
		syscall.Close(int(fd))
		return nil, true, errNotServable
	}
	return &file{fd: int(fd), name: rel, size: st.Size, dir: typ == syscall.S_IFDIR, h: h,
		mod: time.Unix(st.Mtim.Unix())}, true, nil
}

func preadFD(fd int, p []byte, off int64) (int, error) { return syscall.Pread(fd, p, off) }

func closeFD(fd int) error { return syscall.Close(fd) }
