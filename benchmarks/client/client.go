// Package client compares HTTP clients side by side: hop's native client, hop's
// http.RoundTripper adapter, fasthttp's HostClient (v1.70.0) and net/http's client.
// Each runs the same GET loop against the same nginx (worker_processes 1, return 200
// "Hello, World!", access_log off) in the same run; the benchmarks report requests per
// second, allocations, and the client process's CPU time per request (user + system,
// from getrusage), which the machine's other load disturbs less than throughput.
//
// run.sh pins nginx to one core (SERVER_CPU) and the benchmark process to the other
// (CLIENT_CPU) with GOMAXPROCS=1, and prints the ratios:
//
//	benchmarks/client/run.sh                     # ROUNDS=5 BENCHTIME=2s CONNS="1 50"
//
// Without run.sh, "go test -bench . ./client/" runs the same benchmarks unpinned. The
// benchmarks skip when nginx is not installed.
package client

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hop-http/hop/benchmarks/servers"
)

// Nginx is an nginx process serving servers.Body ("Hello, World!") on a loopback port.
type Nginx struct {
	Addr string // host:port
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNginx starts nginx from bin in a temporary directory, pinned with taskset to
// cpu when cpu is not empty.
func StartNginx(bin, cpu string) (*Nginx, error) {
	dir, err := os.MkdirTemp("", "hop-client-bench-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 65;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s;
    location / {
      default_type text/plain;
      return 200 "%[3]s";
    }
  }
}
`, dir, addr, servers.Body)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	args := []string{bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")}
	if cpu != "" {
		if ts, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{ts, "-c", cpu}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	n := &Nginx{Addr: addr, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-n.done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("nginx exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			n.Stop()
			return nil, fmt.Errorf("nginx not listening on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills nginx and removes its directory.
func (n *Nginx) Stop() {
	n.cmd.Process.Kill()
	<-n.done
	os.RemoveAll(n.dir)
}

// CPUTime returns the user plus system CPU time this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
