package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// -d @FILE where FILE is not a regular file (a FIFO, as in -d @<(cmd), or /dev/stdin):
// its size is 0 whatever it holds, so its data is read whole and sent with its real
// length, as curl does, rather than an empty body.
func TestGetDataFromFIFO(t *testing.T) {
	base := getServer(t, nil)
	fifo := filepath.Join(t.TempDir(), "data")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.WriteString("from a pipe")
		f.Close()
	}()
	code, out, errOut := getRun(t, "--data-binary", "@"+fifo, base+"/p")
	if want := "POST /p HTTP/1.1 ua=hop/1 x= ct=application/x-www-form-urlencoded body=from a pipe\n"; code != 0 || out != want {
		t.Errorf("exit %d\nstdout %q\nwant   %q\nstderr %s", code, out, want, errOut)
	}
}
