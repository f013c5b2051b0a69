//go:build !unix

package server

import (
	"errors"
	"net"
)

// Parking needs epoll (internal/park), so nothing is ever detached here.

var errNoDetach = errors.New("hop/server: detaching sockets is not supported here")

func dupCloexec(int) (int, error)    { return -1, errNoDetach }
func attachFD(int) (net.Conn, error) { return nil, errNoDetach }
func closeFD(int)                    {}
