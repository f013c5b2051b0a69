package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// TestNginxReverseProxy puts nginx in front of hop (testdata/nginx.conf.tmpl) with a
// counting relay between them, so hop serves nginx's upstream client:
//   - 500 requests (4 at a time) through an HTTP/1.1 upstream with keepalive must all
//     succeed over a handful of upstream connections;
//   - 50 requests through nginx's default upstream protocol (HTTP/1.0, Connection:
//     close, no connection cache) must all succeed, one upstream connection each.
//
// nginx's access log must show 200 from the upstream for every request, and its error
// log no warning or error.
func TestNginxReverseProxy(t *testing.T) {
	nginx := peer(t, "nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
	const (
		keepAliveRequests = 500
		workers           = 4
		http10Requests    = 50
	)
	tmpl, err := template.ParseFiles(testdata(t, "nginx.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startPlaintext(t, m.adapter)
			rl := startRelay(t, s.addr)
			ng := startNginx(t, nginx, tmpl, rl.addr())

			var dials atomic.Int64
			client := newClient(t, workers, &dials)
			errs := inParallel(keepAliveRequests, workers, func(i int) error {
				resp, err := getHello(context.Background(), client, fmt.Sprintf("%s/ka/%d?i=%d", ng.url, i, i))
				if err != nil {
					return fmt.Errorf("via nginx, request %d: %w", i, err)
				}
				if srv := resp.Header.Get("Server"); !strings.HasPrefix(srv, "nginx") {
					return fmt.Errorf("via nginx, request %d: Server %q, want nginx's", i, srv)
				}
				return nil
			})
			for _, err := range errs {
				t.Error(err)
			}
			keepAliveConns := rl.accepted.Load()

			for i := range http10Requests {
				if _, err := getHello(context.Background(), client, fmt.Sprintf("%s/http10/%d", ng.url, i)); err != nil {
					t.Fatalf("via nginx (HTTP/1.0 upstream), request %d: %v", i, err)
				}
			}

			ng.stop(t) // closes nginx's idle upstream connections
			rl.close()
			http10Conns := rl.accepted.Load() - keepAliveConns
			t.Logf("nginx %s: %d requests over %d upstream HTTP/1.1 connections; %d HTTP/1.0 requests over %d connections",
				m.name, keepAliveRequests, keepAliveConns, http10Requests, http10Conns)
			if keepAliveConns < 1 || keepAliveConns > 2*workers {
				t.Errorf("nginx opened %d upstream connections for %d keep-alive requests, want 1..%d",
					keepAliveConns, keepAliveRequests, 2*workers)
			}
			if http10Conns != http10Requests {
				t.Errorf("nginx opened %d upstream connections for %d HTTP/1.0 requests, want one each",
					http10Conns, http10Requests)
			}
			if n := rl.dialFails.Load(); n != 0 {
				t.Errorf("relay could not reach hop %d times", n)
			}

			access := ng.file(t, "access.log")
			lines := strings.Split(strings.TrimSpace(access), "\n")
			ok := 0
			for _, l := range lines {
				if strings.HasPrefix(l, "200 200 ") {
					ok++
				}
			}
			if want := keepAliveRequests + http10Requests; len(lines) != want || ok != want {
				t.Errorf("nginx access log: %d lines, %d with status 200 from hop; want %d of each\n%s",
					len(lines), ok, want, tail(access))
			}
			errLog := ng.file(t, "error.log")
			for _, level := range []string{"[warn]", "[error]", "[crit]", "[alert]", "[emerg]"} {
				if strings.Contains(errLog, level) {
					t.Errorf("nginx error log has %s entries:\n%s", level, tail(errLog))
					break
				}
			}
		})
	}
}

// nginxProcess is a running nginx in its own temporary prefix directory.
type nginxProcess struct {
	dir    string
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	once   bool
}

// startNginx renders the config for upstream into a temporary directory, starts nginx
// on a free loopback port and waits until it accepts; t.Cleanup stops it.
func startNginx(t *testing.T, bin string, tmpl *template.Template, upstream string) *nginxProcess {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		ng, retry, err := tryStartNginx(t, bin, tmpl, upstream)
		if err == nil {
			t.Cleanup(func() { ng.stop(t) })
			return ng
		}
		if !retry || attempt == attempts {
			t.Fatalf("starting nginx: %v", err)
		}
		t.Logf("starting nginx: %v; retrying on another port", err)
	}
}

func tryStartNginx(t *testing.T, bin string, tmpl *template.Template, upstream string) (ng *nginxProcess, retry bool, err error) {
	dir := t.TempDir()
	listen := freeAddr(t)
	conf := filepath.Join(dir, "nginx.conf")
	f, err := os.Create(conf)
	if err != nil {
		return nil, false, err
	}
	err = tmpl.Execute(f, struct{ Dir, Listen, Upstream string }{dir, listen, upstream})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, err
	}
	ng = &nginxProcess{dir: dir, url: "http://" + listen, exited: make(chan struct{})}
	// -e: the log for errors before the configuration is read (default under /var/log).
	ng.cmd = exec.Command(bin, "-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "startup.log"))
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, false, err
	}
	defer out.Close()
	ng.cmd.Stdout, ng.cmd.Stderr = out, out
	if err := ng.cmd.Start(); err != nil {
		return nil, false, err
	}
	go func() { ng.err = ng.cmd.Wait(); close(ng.exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-ng.exited:
			logs := ng.logs(t)
			return nil, strings.Contains(logs, "Address already in use"),
				fmt.Errorf("nginx exited before accepting (%v):\n%s", ng.err, logs)
		default:
		}
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
			return ng, false, nil
		}
		if time.Now().After(deadline) {
			ng.cmd.Process.Kill()
			<-ng.exited
			return nil, false, fmt.Errorf("nginx did not accept on %s within %v: %v\n%s", listen, startTimeout, err, ng.logs(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// file returns the content of a file in nginx's directory ("" when missing).
func (ng *nginxProcess) file(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join(ng.dir, name))
	if err != nil && !os.IsNotExist(err) {
		t.Errorf("reading nginx %s: %v", name, err)
	}
	return string(b)
}

func (ng *nginxProcess) logs(t *testing.T) string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "startup.log", "error.log"} {
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, tail(ng.file(t, name)))
	}
	return b.String()
}

// stop ends nginx (SIGQUIT: graceful, which closes idle upstream connections) and
// waits; it is idempotent.
func (ng *nginxProcess) stop(t *testing.T) {
	if ng.once {
		return
	}
	ng.once = true
	select {
	case <-ng.exited:
		t.Errorf("nginx exited during the test (%v)\n%s", ng.err, ng.logs(t))
		return
	default:
	}
	ng.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-ng.exited:
	case <-time.After(stopTimeout):
		ng.cmd.Process.Kill()
		<-ng.exited
		t.Errorf("nginx did not exit within %v of SIGQUIT\n%s", stopTimeout, ng.logs(t))
	}
}
