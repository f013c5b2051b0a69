package server

import "syscall"

var (
	errEMFILE       = syscall.EMFILE
	errENFILE       = syscall.ENFILE
	errECONNABORTED = syscall.ECONNABORTED
	errENOBUFS      = syscall.ENOBUFS
	errENOMEM       = syscall.ENOMEM
)
