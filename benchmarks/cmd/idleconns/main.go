// Command idleconns measures the memory an idle keep-alive connection costs each
// server implementation. For each one it starts plainserver as a child process (pinned
// with taskset, GOMAXPROCS=1), warms it up, reads its VmRSS, opens N keep-alive
// connections from this process with one request on each, waits for things to settle,
// reads VmRSS again, prints (after - before) / N, and checks that every connection
// still answers a second request.
//
//	idleconns [-impl hop,hop-nopark,hop-adapter,fasthttp,nethttp] [-n 10000] [-settle 5s]
//	          [-server path/to/plainserver] [-cpu 0] [-sources 0]
//
// Connections are spread over the loopback source addresses 127.0.0.1, 127.0.0.2, ...
// (-sources; 0 picks one per 16,000 connections) so that one source's ephemeral
// ports never run short. Both processes raise RLIMIT_NOFILE to the hard limit; N must
// fit under it. The exit status is 1 when any connection failed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hop-http/hop/benchmarks/idle"
	"github.com/hop-http/hop/benchmarks/internal/rlimit"
	"github.com/hop-http/hop/benchmarks/servers"
)

type config struct {
	impls   []string
	n       int
	settle  time.Duration
	server  string
	cpu     string
	procs   int
	sources int
	timeout time.Duration
}

func main() {
	var cfg config
	impls := flag.String("impl", strings.Join(servers.IdleImpls, ","), "comma-separated implementations")
	flag.IntVar(&cfg.n, "n", 10000, "idle connections to open")
	flag.DurationVar(&cfg.settle, "settle", 5*time.Second, "wait before each RSS reading")
	flag.StringVar(&cfg.server, "server", "", "plainserver binary (default: next to this program, then $PATH)")
	flag.StringVar(&cfg.cpu, "cpu", "0", "CPU list to pin the server to with taskset (empty: no pinning)")
	flag.IntVar(&cfg.procs, "gomaxprocs", 1, "GOMAXPROCS of the server")
	flag.IntVar(&cfg.sources, "sources", 0, "loopback source addresses to spread connections over (0: auto)")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "bound on each dial and each exchange")
	flag.Parse()
	cfg.impls = strings.Split(*impls, ",")
	os.Exit(run(cfg, os.Stdout))
}

func run(cfg config, out io.Writer) int {
	for _, impl := range cfg.impls {
		if _, err := servers.New(impl); err != nil {
			fmt.Fprintln(os.Stderr, "idleconns:", err)
			return 2
		}
	}
	limit, err := rlimit.RaiseNoFile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns: raising RLIMIT_NOFILE:", err)
		return 1
	}
	if uint64(cfg.n)+256 > limit {
		fmt.Fprintf(os.Stderr, "idleconns: %d connections do not fit the open-file limit %d (raise the hard limit: ulimit -Hn)\n", cfg.n, limit)
		return 1
	}
	bin, err := findServer(cfg.server)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		return 1
	}
	nsrc := cfg.sources
	if nsrc <= 0 {
		nsrc = (cfg.n + 15999) / 16000
	}
	var sources []net.IP
	if nsrc > 1 {
		for i := 1; i <= nsrc && i < 255; i++ {
			sources = append(sources, net.IPv4(127, 0, 0, byte(i)))
		}
	}
	fmt.Fprintf(out, "idle keep-alive connections: n=%d, settle=%v, server pinned to CPU %q with GOMAXPROCS=%d, open-file limit %d, %d source address(es), ephemeral ports %s\n",
		cfg.n, cfg.settle, cfg.cpu, cfg.procs, limit, max(1, len(sources)), portRange())
	var results []row
	failed := false
	for _, impl := range cfg.impls {
		r := measure(cfg, bin, impl, sources)
		if r.err != nil || r.res.SecondOK != cfg.n {
			failed = true
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "idleconns: %s done\n", impl)
	}
	printTable(out, results)
	if failed {
		return 1
	}
	return 0
}

type row struct {
	impl string
	res  idle.Result
	err  error
}

func measure(cfg config, bin, impl string, sources []net.IP) row {
	r := row{impl: impl}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	child, addr, err := startServer(cfg, bin, impl)
	if err != nil {
		r.err = err
		return r
	}
	defer child.stop()
	opts := idle.Options{Addr: addr, Sources: sources, Timeout: cfg.timeout}
	r.res, r.err = idle.Measure(ctx, child.cmd.Process.Pid, opts, cfg.n, cfg.settle)
	if r.err == nil && child.exited() {
		r.err = fmt.Errorf("server exited: %s", child.log.String())
	}
	return r
}

func printTable(out io.Writer, rows []row) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "impl\tconns\tRSS before (MiB)\tRSS after (MiB)\tKB/conn\topen time\tsecond request\t")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\tERROR: %v\t\n", r.impl, r.res.N, r.err)
			continue
		}
		second := fmt.Sprintf("%d/%d ok", r.res.SecondOK, r.res.N)
		if r.res.SecondError != nil {
			second += " (first failure: " + r.res.SecondError.Error() + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2f\t%.1fs\t%s\t\n", r.impl, r.res.N,
			float64(r.res.RSSBefore)/1024, float64(r.res.RSSAfter)/1024, r.res.PerConnKB(),
			r.res.OpenTime.Seconds(), second)
	}
	tw.Flush()
}

// findServer locates the plainserver binary.
func findServer(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "plainserver")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("plainserver")
	if err != nil {
		return "", errors.New("plainserver not found: build it (go build -o bin/ ./cmd/...) or pass -server")
	}
	return p, nil
}

type child struct {
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) stop() {
	if !c.exited() {
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// startServer starts plainserver for impl on a free loopback port and waits until it
// accepts connections.
func startServer(cfg config, bin, impl string) (*child, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{bin, "-impl", impl, "-addr", addr}
	if cfg.cpu != "" {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			return nil, "", fmt.Errorf("taskset not found (use -cpu '' to run unpinned): %w", err)
		}
		// taskset execs the server, so the child's PID is the server's.
		args = append([]string{ts, "-c", cfg.cpu}, args...)
	}
	c := &child{cmd: exec.Command(args[0], args[1:]...), log: new(bytes.Buffer), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", cfg.procs))
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		return nil, "", err
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		if c.exited() || time.Now().After(deadline) {
			c.stop()
			return nil, "", fmt.Errorf("%s did not start on %s: %v; output: %s", impl, addr, err, c.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c.cmd.Process.Pid))
	if got := strings.TrimSpace(string(comm)); got != filepath.Base(bin) && !strings.HasPrefix(filepath.Base(bin), got) {
		c.stop()
		return nil, "", fmt.Errorf("process %d is %q, not %s: cannot read its RSS", c.cmd.Process.Pid, got, bin)
	}
	return c, addr, nil
}

func portRange() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b)), "-")
}
