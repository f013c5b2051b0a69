package rlimit

import (
	"syscall"
	"testing"
)

func TestRaiseNoFile(t *testing.T) {
	n, err := RaiseNoFile()
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if n != rl.Cur || rl.Cur != rl.Max {
		t.Fatalf("RaiseNoFile = %d; limit now %d of hard %d", n, rl.Cur, rl.Max)
	}
}
