package testpeer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Env is the environment variable that turns a missing peer into a failure.
const Env = "HOP_REQUIRE_PEERS"

// Required reports whether a missing peer fails the test instead of skipping it.
func Required() bool { return os.Getenv(Env) == "1" }

// Skip skips the test with the message, or fails it when [Required].
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1)", msg, Env)
	}
	t.Skipf("%s (set %s=1 to fail instead)", msg, Env)
}

// sbin are the directories searched after PATH: Debian installs nginx there, and a
// non-root PATH often lacks them.
var sbin = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// Program returns the path of the first of names that is installed: a name is looked
// up in PATH and then in the sbin directories; an absolute path is taken as it is. When
// none is found the test skips, or fails under HOP_REQUIRE_PEERS=1.
func Program(t testing.TB, names ...string) string {
	t.Helper()
	if p, ok := Find(names...); ok {
		return p
	}
	Skip(t, "peer %q is not installed", names[0])
	return ""
}

// Find is Program without the test: it reports whether one of names is installed.
func Find(names ...string) (string, bool) {
	for _, name := range names {
		if filepath.IsAbs(name) {
			if executable(name) {
				return name, true
			}
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
		for _, dir := range sbin {
			if p := filepath.Join(dir, name); executable(p) {
				return p, true
			}
		}
	}
	return "", false
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Timeouts for starting and stopping nginx, generous for a loaded machine.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
)

// Nginx is an nginx started for one test in its own temporary prefix directory.
type Nginx struct {
	// Dir is the prefix directory: the configuration, logs and temp paths go there.
	Dir string
	// Addrs are the loopback addresses ("127.0.0.1:port") the configuration was asked
	// to listen on, in order.
	Addrs []string

	cmd     *exec.Cmd
	exited  chan struct{}
	err     error
	stopped bool
}

// StartNginx starts nginx (found with [Program]) with the configuration that config
// returns for the prefix directory and listeners free loopback addresses, waits until
// every address accepts connections, and stops it at cleanup. The configuration must
// keep nginx in the foreground ("daemon off; master_process off;") and put its pid
// file, logs and temp paths under dir. When an address was taken in the meantime it
// starts again on others (three attempts).
func StartNginx(t testing.TB, listeners int, config func(dir string, addrs []string) string) *Nginx {
	t.Helper()
	bin := Program(t, "nginx", "/usr/local/nginx/sbin/nginx")
	const attempts = 3
	for attempt := 1; ; attempt++ {
		ng, retry, err := tryStartNginx(t, bin, listeners, config)
		if err == nil {
			t.Cleanup(func() { ng.Stop(t) })
			return ng
		}
		if !retry || attempt == attempts {
			t.Fatalf("starting nginx: %v", err)
		}
		t.Logf("starting nginx: %v; retrying on other ports", err)
	}
}

func tryStartNginx(t testing.TB, bin string, listeners int, config func(string, []string) string) (ng *Nginx, retry bool, err error) {
	ng = &Nginx{Dir: t.TempDir(), exited: make(chan struct{})}
	for range listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, false, err
		}
		ng.Addrs = append(ng.Addrs, ln.Addr().String())
		ln.Close()
	}
	conf := filepath.Join(ng.Dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(config(ng.Dir, ng.Addrs)), 0o644); err != nil {
		return nil, false, err
	}
	// -e: the log for errors before the configuration is read (default under /var/log).
	ng.cmd = exec.Command(bin, "-p", ng.Dir+"/", "-c", conf, "-e", filepath.Join(ng.Dir, "startup.log"))
	out, err := os.Create(filepath.Join(ng.Dir, "stdout.log"))
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
	for _, addr := range ng.Addrs {
		for {
			select {
			case <-ng.exited:
				logs := ng.Logs()
				return nil, strings.Contains(logs, "Address already in use"),
					fmt.Errorf("nginx exited before accepting (%v):\n%s", ng.err, logs)
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				ng.cmd.Process.Kill()
				<-ng.exited
				return nil, false, fmt.Errorf("nginx did not accept on %s within %v: %v\n%s", addr, startTimeout, err, ng.Logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ng, false, nil
}

// File returns the content of a file in the prefix directory ("" when missing).
func (ng *Nginx) File(name string) string {
	b, _ := os.ReadFile(filepath.Join(ng.Dir, name))
	return string(b)
}

// Logs returns the tails of nginx's output, startup log and error log, for failure
// messages.
func (ng *Nginx) Logs() string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "startup.log", "error.log"} {
		s := ng.File(name)
		if len(s) > 4<<10 {
			s = "..." + s[len(s)-4<<10:]
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, s)
	}
	return b.String()
}

// Stop ends nginx gracefully (SIGQUIT, which also closes idle upstream connections)
// and waits for it; after stopTimeout it kills it. It fails the test when nginx had
// exited by itself. Stop is idempotent (cleanup calls it too).
func (ng *Nginx) Stop(t testing.TB) {
	if ng.stopped {
		return
	}
	ng.stopped = true
	select {
	case <-ng.exited:
		t.Errorf("nginx exited during the test (%v)\n%s", ng.err, ng.Logs())
		return
	default:
	}
	if err := ng.cmd.Process.Signal(syscall.SIGQUIT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		ng.cmd.Process.Kill()
	}
	select {
	case <-ng.exited:
	case <-time.After(stopTimeout):
		ng.cmd.Process.Kill()
		<-ng.exited
		t.Errorf("nginx did not exit within %v of SIGQUIT\n%s", stopTimeout, ng.Logs())
	}
}
