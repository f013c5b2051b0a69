//go:build !linux

package park

type epoller struct{}

func newEpoller() (epoller, error)             { return epoller{}, ErrUnsupported }
func (*epoller) arm(int) error                 { return ErrUnsupported }
func (*epoller) disarm(int)                    {}
func (*epoller) wait(fds []int) ([]int, error) { return fds, ErrUnsupported }
func (*epoller) close()                        {}
