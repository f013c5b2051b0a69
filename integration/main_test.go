package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testpeer"
)

// hello is the body examples/plaintext answers to every GET.
const hello = "Hello, World!"

// Timeouts are generous: the machine running the tests may be heavily loaded.
const (
	buildTimeout = 5 * time.Minute
	startTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
	peerTimeout  = 90 * time.Second
)

// raceExitCode is the exit status a -race server binary uses when it saw a data race.
const raceExitCode = 66

var (
	// plaintextBin is the examples/plaintext binary built by TestMain.
	plaintextBin string
	// buildErr is why it could not be built; every test that needs it fails with it.
	buildErr error
	// binDir holds the binaries built for the tests.
	binDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hop-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	binDir = dir
	plaintextBin, buildErr = buildBinary(dir, "./examples/plaintext", raceEnabled)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary builds the main package pkg (relative to the repository root) into dir,
// with -race when race is set.
func buildBinary(dir, pkg string, race bool) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out, nil
}

// repoRoot walks up from the working directory to the go.mod of module
// github.com/hop-http/hop.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == "github.com/hop-http/hop" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("integration: go.mod of github.com/hop-http/hop not found above the working directory")
}

func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// peer returns the path of an external program (see testpeer.Program: a missing one
// skips the test, or fails it under HOP_REQUIRE_PEERS=1).
func peer(t *testing.T, name string) string {
	t.Helper()
	return testpeer.Program(t, name)
}

// mode is one way examples/plaintext serves: natively or through the net/http adapter.
type mode struct {
	name    string
	adapter bool
}

var modes = []mode{{"native", false}, {"adapter", true}}

// plaintextServer is a running server process: examples/plaintext, or hop serve and
// hop proxy (see startServer).
type plaintextServer struct {
	name    string // the program, for messages
	addr    string // 127.0.0.1:port
	url     string // http://127.0.0.1:port
	adapter bool
	logPath string
	// allowLog lists substrings of log lines that stop does not count as errors (a
	// warning the test provokes on purpose).
	allowLog []string
	ended    bool // the test ended the process itself (signal)

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// startPlaintext starts examples/plaintext on a free loopback port, waits until it
// accepts connections and registers its graceful stop (SIGTERM) in t.Cleanup. The stop
// fails the test when the server does not exit in time, exits with an error, reports a
// data race or a panic, or logs an error.
func startPlaintext(t *testing.T, adapter bool) *plaintextServer {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building examples/plaintext: %v", buildErr)
	}
	s := startServer(t, fmt.Sprintf("plaintext (adapter=%v)", adapter), plaintextBin, func(addr string) []string {
		if adapter {
			return []string{"-addr", addr, "-adapter"}
		}
		return []string{"-addr", addr}
	})
	s.adapter = adapter
	return s
}

// startServer starts bin with the arguments args returns for a free loopback address,
// waits until it accepts connections there and registers its graceful stop (see
// startPlaintext). A port taken in the meantime is retried on another.
func startServer(t *testing.T, name, bin string, args func(addr string) []string) *plaintextServer {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		s, retry, err := tryStartServer(t, name, bin, args)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		if !retry || attempt == attempts {
			t.Fatalf("starting %s: %v", name, err)
		}
		t.Logf("starting %s: %v; retrying on another port", name, err)
	}
}

func tryStartServer(t *testing.T, name, bin string, argsFor func(addr string) []string) (s *plaintextServer, retry bool, err error) {
	addr := freeAddr(t)
	s = &plaintextServer{
		name:    name,
		addr:    addr,
		url:     "http://" + addr,
		logPath: filepath.Join(t.TempDir(), "server.log"),
		exited:  make(chan struct{}),
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, false, err
	}
	defer logf.Close() // the child keeps its own descriptor
	s.cmd = exec.Command(bin, argsFor(addr)...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// atexit_sleep_ms=0: a -race binary otherwise sleeps a second before exiting.
	s.cmd.Env = append(os.Environ(), fmt.Sprintf("GORACE=halt_on_error=0 atexit_sleep_ms=0 exitcode=%d", raceExitCode))
	if err := s.cmd.Start(); err != nil {
		return nil, false, err
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			log := s.log()
			return nil, strings.Contains(log, "address already in use"),
				fmt.Errorf("server exited before accepting (%v); log:\n%s", s.waitErr, log)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, false, nil
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			<-s.exited
			return nil, false, fmt.Errorf("server did not accept on %s within %v: %v; log:\n%s",
				addr, startTimeout, err, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// log returns the server's combined stdout and stderr (at most 16 KiB, the tail).
func (s *plaintextServer) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 16<<10 {
		b = append([]byte("...\n"), b[len(b)-16<<10:]...)
	}
	return string(b)
}

// signal sends sig and waits up to within for the process to exit; it returns the
// exit code (-1 when it had to be killed after within). The stop registered at
// cleanup then does nothing.
func (s *plaintextServer) signal(t *testing.T, sig os.Signal, within time.Duration) int {
	t.Helper()
	s.ended = true
	s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(within):
		s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("%s did not exit within %v of %v; log:\n%s", s.name, within, sig, s.log())
		return -1
	}
	return s.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM (graceful Shutdown), waits for the exit and checks how it went.
func (s *plaintextServer) stop(t *testing.T) {
	if s.ended {
		return
	}
	select {
	case <-s.exited:
		t.Errorf("%s exited during the test (%v); log:\n%s", s.name, s.waitErr, s.log())
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("%s did not exit within %v of SIGTERM; log:\n%s", s.name, stopTimeout, s.log())
		return
	}
	log := s.log()
	var ee *exec.ExitError
	switch {
	case s.waitErr == nil:
	case errors.As(s.waitErr, &ee) && ee.ExitCode() == raceExitCode:
		t.Errorf("%s reported a data race; log:\n%s", s.name, log)
	default:
		t.Errorf("%s exited with %v; log:\n%s", s.name, s.waitErr, log)
	}
	checked := log
	for _, ok := range s.allowLog {
		var keep []string
		for _, l := range strings.Split(checked, "\n") {
			if !strings.Contains(l, ok) {
				keep = append(keep, l)
			}
		}
		checked = strings.Join(keep, "\n")
	}
	for _, bad := range []string{"DATA RACE", "panic", "ERROR", "WARN", "fatal error"} {
		if strings.Contains(checked, bad) {
			t.Errorf("%s log contains %q:\n%s", s.name, bad, log)
			break
		}
	}
}

// peerRun is the outcome of one run of a peer program.
type peerRun struct {
	stdout, stderr string
	err            error
	elapsed        time.Duration
}

// runPeer runs a peer program to completion (bounded by peerTimeout) in dir.
func runPeer(t *testing.T, dir, prog string, args ...string) peerRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := peerRun{stdout.String(), stderr.String(), err, time.Since(start)}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("killed after %v: %w", peerTimeout, err)
	}
	t.Logf("ran %s %s (%.1fs)", filepath.Base(prog), shortArgs(args), r.elapsed.Seconds())
	return r
}

// mustRunPeer is runPeer that fails the test unless the program exits with status 0.
func mustRunPeer(t *testing.T, dir, prog string, args ...string) peerRun {
	t.Helper()
	r := runPeer(t, dir, prog, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(prog), shortArgs(args),
			r.err, tail(r.stdout), tail(r.stderr))
	}
	return r
}

// shortArgs renders a command line for logs, eliding long arguments.
func shortArgs(args []string) string {
	s := make([]string, len(args))
	for i, a := range args {
		if len(a) > 80 {
			a = a[:40] + fmt.Sprintf("...(%d bytes)", len(a))
		}
		if strings.ContainsAny(a, " *?") {
			a = "'" + a + "'"
		}
		s[i] = a
	}
	return strings.Join(s, " ")
}

// tail bounds peer output quoted in failure messages.
func tail(s string) string {
	const max = 8 << 10
	if len(s) > max {
		return "...\n" + s[len(s)-max:]
	}
	return s
}

// testdata returns the absolute path of a file in testdata/.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// matchInts finds the first match of re (whose groups are integers) in out and returns
// the groups; it fails the test when there is no match.
func matchInts(t *testing.T, out string, re *regexp.Regexp) []int64 {
	t.Helper()
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output does not match %q:\n%s", re, tail(out))
	}
	n := make([]int64, len(m)-1)
	for i, s := range m[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%q in %q: %v", s, m[0], err)
		}
		n[i] = v
	}
	return n
}

// matchString returns the first group of the first match of re in out, or fails.
func matchString(t *testing.T, out string, re *regexp.Regexp) string {
	t.Helper()
	m := re.FindStringSubmatch(out)
	if m == nil || len(m) < 2 {
		t.Fatalf("output does not match %q:\n%s", re, tail(out))
	}
	return m[1]
}

// relay is a loopback TCP relay that counts the connections passing through it. It
// copies bytes without interpreting them and propagates half-closes, so it is
// transparent to HTTP; tests put it between a peer and the server to see how many
// connections the peer opened.
type relay struct {
	ln     net.Listener
	target string

	accepted  atomic.Int64
	dialFails atomic.Int64
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
}

// startRelay listens on a free loopback port and relays every connection to target.
// t.Cleanup closes it and every connection it holds.
func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.accepted.Add(1)
		r.wg.Add(1)
		go r.pipe(c)
	}
}

func (r *relay) track(c net.Conn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if add {
		if r.conns == nil {
			return false // closed
		}
		r.conns[c] = struct{}{}
	} else if r.conns != nil {
		delete(r.conns, c)
	}
	return true
}

func (r *relay) pipe(down net.Conn) {
	defer r.wg.Done()
	defer down.Close()
	if !r.track(down, true) {
		return
	}
	defer r.track(down, false)
	up, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		r.dialFails.Add(1)
		return
	}
	defer up.Close()
	if !r.track(up, true) {
		return
	}
	defer r.track(up, false)
	done := make(chan struct{}, 2)
	half := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err != nil {
			// A reset or a local close: tear both sides down.
			dst.Close()
			src.Close()
		} else if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go half(up, down)
	go half(down, up)
	<-done
	<-done
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}

// raceNote labels throughput numbers measured against a -race server binary.
func raceNote() string {
	if raceEnabled {
		return ", server built with -race"
	}
	return ""
}
