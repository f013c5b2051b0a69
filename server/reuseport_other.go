//go:build !linux

package server

import "errors"

func setReusePort(int) error { return errors.New("hop/server: SO_REUSEPORT not supported here") }
