package park

import (
	"os"
	"syscall"
)

// epoller wraps an epoll instance whose own descriptor is watched by Go's poller.
type epoller struct {
	fd     int
	file   *os.File
	raw    syscall.RawConn
	events [128]syscall.EpollEvent
}

func newEpoller() (epoller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return epoller{}, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return epoller{}, err
	}
	f := os.NewFile(uintptr(fd), "epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return epoller{}, err
	}
	return epoller{fd: fd, file: f, raw: raw}, nil
}

const armFlags = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// arm registers (or re-arms) fd for one readiness event.
func (ep *epoller) arm(fd int) error {
	ev := syscall.EpollEvent{Events: armFlags, Fd: int32(fd)}
	err := syscall.EpollCtl(ep.fd, syscall.EPOLL_CTL_MOD, fd, &ev)
	if err == syscall.ENOENT {
		err = syscall.EpollCtl(ep.fd, syscall.EPOLL_CTL_ADD, fd, &ev)
	}
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// disarm removes fd from the set (before its descriptor is closed).
func (ep *epoller) disarm(fd int) {
	syscall.EpollCtl(ep.fd, syscall.EPOLL_CTL_DEL, fd, nil)
}

// wait blocks (parking the goroutine in Go's poller) until at least one event is ready
// and appends the ready descriptors to fds.
func (ep *epoller) wait(fds []int) ([]int, error) {
	var werr error
	err := ep.raw.Read(func(uintptr) bool {
		for {
			n, err := syscall.EpollWait(ep.fd, ep.events[:], 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			for i := 0; i < n; i++ {
				fds = append(fds, int(ep.events[i].Fd))
			}
			if n < len(ep.events) {
				return len(fds) > 0
			}
		}
	})
	if err != nil {
		return fds, err
	}
	return fds, werr
}

func (ep *epoller) close() { ep.file.Close() }
