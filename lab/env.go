//go:build linux

package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/lab/capture"
	"github.com/hop-http/hop/lab/netlab"
	"github.com/hop-http/hop/server"
)

// env is what an experiment runs with: its lab, settings and result.
type env struct {
	ctx   context.Context
	lab   *netlab.Lab
	p     Params
	short bool
	res   *Result

	mu       sync.Mutex
	cleanups []func()
	closed   bool          // closeAll ran: a cleanup registered now runs at once
	ended    chan struct{} // closed by closeAll
}

func newEnv(ctx context.Context, l *netlab.Lab, p Params, short bool, res *Result) *env {
	return &env{ctx: ctx, lab: l, p: p, short: short, res: res, ended: make(chan struct{})}
}

// runSafely runs fn, turning a panic into an error so that the lab is still removed.
func (e *env) runSafely(fn func(*env) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("lab: experiment panicked: %v\n%s", v, debug.Stack())
		}
	}()
	return fn(e)
}

// cleanup registers f to run when the experiment ends, before the lab is removed
// (last registered, first run). Registered once the experiment has ended (by a
// goroutine that outlived it), f runs at once.
func (e *env) cleanup(f func()) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		f()
		return
	}
	e.cleanups = append(e.cleanups, f)
	e.mu.Unlock()
}

// closeAll ends the experiment: it runs the cleanups and tells the goroutines that
// wait on ended.
func (e *env) closeAll() {
	e.mu.Lock()
	fs := e.cleanups
	e.cleanups, e.closed = nil, true
	e.mu.Unlock()
	close(e.ended)
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func (e *env) host(name string) *netlab.Host {
	h := e.lab.Host(name)
	if h == nil {
		panic("lab: experiment uses host " + name + " it did not ask for")
	}
	return h
}

// rtt is the configured round-trip time.
func (e *env) rtt() time.Duration { return e.p.RTT }

// now is the time since the capture's start.
func (e *env) now() time.Duration { return time.Since(e.lab.Start) }

// since converts a wall-clock time into time since the capture's start.
func (e *env) since(t time.Time) time.Duration { return t.Sub(e.lab.Start) }

// measure adds a measured figure.
func (e *env) measure(key, label, unit string, v float64) {
	e.res.Rows = append(e.res.Rows, Row{Key: key, Label: label, Unit: unit, Measured: v})
}

// measurePred adds a measured figure with its prediction.
func (e *env) measurePred(key, label, unit string, v, pred float64) {
	e.res.Rows = append(e.res.Rows, Row{Key: key, Label: label, Unit: unit, Measured: v, Predicted: pred, HasPred: true})
}

// measureMs adds a time in ms beside its prediction.
func (e *env) measureMs(key, label string, v, pred time.Duration) {
	e.measurePred(key, label, "ms", timeline.Millis(v), timeline.Millis(pred))
}

// check records one comparison behind the verdict.
func (e *env) check(ok bool, format string, args ...any) bool {
	e.res.Checks = append(e.res.Checks, Check{What: fmt.Sprintf(format, args...), OK: ok})
	return ok
}

// near checks that got is within tol of want, describing it as what.
func (e *env) near(what string, got, want, tol time.Duration) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return e.check(d <= tol, "%s %s within %s of the predicted %s", what, fmtMs(got), fmtMs(tol), fmtMs(want))
}

// tolerance is the slack allowed around a prediction of pred: a quarter of it, plus
// 3 ms for the hosts' own work (this machine is shared; TLS handshakes and Go's
// scheduler take a few milliseconds at worst).
func tolerance(pred time.Duration) time.Duration { return pred/4 + 3*time.Millisecond }

// note sets the result's one-line note.
func (e *env) note(format string, args ...any) { e.res.Note = fmt.Sprintf(format, args...) }

// event annotates a moment at host.
func (e *env) event(host, label string, at time.Time) {
	e.mu.Lock()
	e.res.Events = append(e.res.Events, Event{At: e.since(at), Host: host, Label: label})
	e.mu.Unlock()
}

// leg runs fn as a named part of the experiment, recording its time range.
func (e *env) leg(name string, fn func() error) error {
	if err := e.ctx.Err(); err != nil {
		return err
	}
	i := len(e.res.Legs)
	e.res.Legs = append(e.res.Legs, Leg{Name: name, Start: e.now()})
	err := fn()
	e.res.Legs[i].End = e.now()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// capture decodes the packets recorded so far.
func (e *env) capture() *capture.Capture {
	pkts, _ := e.lab.Packets()
	return capture.Decode(pkts, e.res.Hosts, e.lab.Start)
}

// waterfall records the phases hop's client timed for one request.
// Phases that took no time (no DNS or connect on a reused connection) are left
// blank, and the axis starts with the first phase that did.
func (e *env) waterfall(title string, tm *client.Timings) {
	w := timeline.Waterfall{Title: title, Phases: timeline.ClientPhases(tm)}
	for i := range w.Phases {
		p := &w.Phases[i]
		if p.Duration() <= 0 {
			p.Start, p.End = time.Time{}, time.Time{}
		} else if w.Start.IsZero() || p.Start.Before(w.Start) {
			w.Start = p.Start
		}
	}
	e.res.Waterfalls = append(e.res.Waterfalls, w)
}

// plot adds a chart.
func (e *env) plot(p Plot) { e.res.Plots = append(e.res.Plots, p) }

// sleep waits d or until the experiment is canceled.
func (e *env) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.ctx.Done():
		return e.ctx.Err()
	case <-t.C:
		return nil
	}
}

// serverConns receives the server side of every connection a web server accepts.
type serverConns struct {
	mu    sync.Mutex
	conns []net.Conn
	ch    chan net.Conn
}

func (s *serverConns) add(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	select {
	case s.ch <- c:
	default:
	}
}

// last returns the most recent connection.
func (s *serverConns) last() net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return nil
	}
	return s.conns[len(s.conns)-1]
}

// recordingListener hands every accepted connection, unchanged, to the server and to
// a serverConns (for TCP_INFO samples of the server's side).
type recordingListener struct {
	net.Listener
	sc *serverConns
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.sc.add(c)
	}
	return c, err
}

// startServer runs a hop server with h on host:port; configure may adjust it. It
// returns the server and a record of its accepted connections.
func (e *env) startServer(host string, port int, h server.Handler, configure func(*server.Server)) (*server.Server, *serverConns, error) {
	ln, err := e.host(host).Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, nil, err
	}
	sc := &serverConns{ch: make(chan net.Conn, 64)}
	srv := &server.Server{Handler: h, Logger: slog.New(slog.DiscardHandler)}
	if configure != nil {
		configure(srv)
	}
	done := make(chan struct{})
	go func() { srv.Serve(recordingListener{ln, sc}); close(done) }()
	e.cleanup(func() {
		srv.Close()
		<-done
	})
	return srv, sc, nil
}

// webURL is the base URL of the web host's plain HTTP server.
func (e *env) webURL() string { return "http://" + e.host("web").Addr.String() }

// newClient returns a hop client on the client host; configure may adjust it.
func (e *env) newClient(configure func(*client.Client)) *client.Client {
	c := &client.Client{Dial: e.host("client").Dial, ReadTimeout: 30 * time.Second}
	if configure != nil {
		configure(c)
	}
	e.cleanup(func() { c.Close() })
	return c
}

// bigReceiveBuffer is the receive buffer of the client sockets of the transfer
// experiments: large from the SYN on, so that the receive window never limits the
// sender. Left to autotuning, the window grows with what the client's program has
// read in the last round trip, and on a busy machine it can hold a transfer to a
// few tens of KiB per round trip, which is not what slow start or loss are about.
const bigReceiveBuffer = 8 << 20

// bulkClient returns a hop client whose connections have bigReceiveBuffer.
func (e *env) bulkClient() *client.Client {
	h := e.host("client")
	return e.newClient(func(c *client.Client) {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return h.DialWith(ctx, network, addr, func(fd uintptr) error {
				return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bigReceiveBuffer)
			})
		}
	})
}

// get fetches url with c, returning the response and its timings.
func (e *env) get(c *client.Client, url string, configure func(*client.Request)) (*client.Response, *client.Timings, error) {
	var req client.Request
	if err := req.SetURL(url); err != nil {
		return nil, nil, err
	}
	req.Ctx = e.ctx
	if configure != nil {
		configure(&req)
	}
	var tm client.Timings
	req.Trace = tm.Trace(req.Trace)
	resp := new(client.Response)
	if err := c.Do(&req, resp); err != nil {
		return nil, &tm, err
	}
	return resp, &tm, nil
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func rtts(d, rtt time.Duration) float64 {
	if rtt <= 0 {
		return 0
	}
	return float64(d) / float64(rtt)
}

// b2f is 1 for true, for figures that are yes or no.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// dialRaw connects from the client host to addr for an experiment that drives the
// socket itself. When the experiment is canceled the connection's deadline is set to
// now, so that a read or write waiting on it returns at once.
func (e *env) dialRaw(addr string) (net.Conn, error) {
	c, err := e.host("client").Dial(e.ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(e.ctx, func() { c.SetDeadline(time.Now()) })
	e.cleanup(func() { stop() })
	return c, nil
}
