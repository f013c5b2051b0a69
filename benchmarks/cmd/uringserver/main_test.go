//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hop-http/hop/benchmarks/servers"
)

// TestMain runs the prototype itself when the test binary is re-executed by
// startServer, so the tests exercise main as uring.sh does.
func TestMain(m *testing.M) {
	if os.Getenv("URINGSERVER_TEST_MAIN") == "1" {
		os.Args = append([]string{"uringserver"}, strings.Fields(os.Getenv("URINGSERVER_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// startServer starts the prototype on a free loopback port and returns its address,
// skipping when this kernel or sandbox refuses io_uring_setup.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	r, err := newRing(8, false, false)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(r.fd)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "URINGSERVER_TEST_MAIN=1",
		"URINGSERVER_TEST_ARGS="+strings.Join(append([]string{"-addr", addr, "-entries", "64"}, args...), " "))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp4", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("prototype not listening on %s: %v", addr, err)
		}
	}
}

// readResponses reads n plaintext responses from br and checks each one's status,
// Content-Length and body.
func readResponses(t *testing.T, br *bufio.Reader, n int) {
	t.Helper()
	for i := range n {
		status, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if status != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("response %d: status line %q", i, status)
		}
		length := -1
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("response %d head: %v", i, err)
			}
			if line == "\r\n" {
				break
			}
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				fmt.Sscan(v, &length)
			}
		}
		if length != len(servers.Body) {
			t.Fatalf("response %d: Content-Length %d, want %d", i, length, len(servers.Body))
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil || string(body) != servers.Body {
			t.Fatalf("response %d: body %q, %v", i, body, err)
		}
	}
}

const request = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"

func exchange(t *testing.T, args ...string) {
	addr := startServer(t, args...)
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	// Keep-alive: three requests one after another on one connection.
	for range 3 {
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		readResponses(t, br, 1)
	}
	// Pipelined: 16 requests in one write, the last one split across two writes.
	burst := []byte(strings.Repeat(request, 16))
	cut := len(burst) - 10
	if _, err := c.Write(burst[:cut]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := c.Write(burst[cut:]); err != nil {
		t.Fatal(err)
	}
	readResponses(t, br, 16)
	// Nothing more than 19 responses arrives.
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if extra, _ := br.Peek(1); len(extra) > 0 {
		t.Fatalf("unexpected bytes after the 19th response: %q", extra)
	}
}

func TestKeepAliveAndPipelined(t *testing.T)      { exchange(t) }
func TestKeepAliveAndPipelinedDefer(t *testing.T) { exchange(t, "-defer") }
